"""LLM backends behind one batched interface."""

from redistill.llm.types import Backend, Completion, Request, SamplingParams, Usage

__all__ = ["Backend", "Completion", "Request", "SamplingParams", "Usage"]
