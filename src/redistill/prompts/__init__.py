"""Prompt templates: pure functions from (suite, task, rule) to chat messages. No I/O beyond loading a file."""

from redistill.prompts.templates import (
    Prompts,
    PromptSet,
    apply_rule_messages,
    direct_messages,
    generate_program_messages,
    generate_rule_messages,
    load_prompts,
)

__all__ = [
    "PromptSet", "Prompts", "apply_rule_messages", "direct_messages", "generate_program_messages",
    "generate_rule_messages", "load_prompts",
]
