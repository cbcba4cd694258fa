"""Per-suite prompt texts and their assembly into chat messages.

Assembly order (the same as the reference release, so its texts can be used verbatim):

- rule generation: ``generate_rule``, then per seen example ``"\\nInput: {in}\\nOutput: {out}\\n"``, then ``"\\n"``.
- rule application: ``apply_rule + "\\n" + rule + "\\n" + "Input: {in}\\n"``.
- direct few-shot: ``direct_fewshot1``, the seen examples as above, ``"\\n"``,
  ``direct_fewshot2 + "\\n"``, then ``"Input: {in}\\n"``.

Each prompt is one user message. ``--prompts FILE`` loads a JSON file in the reference layout
``{suite: {generate_rule, apply_rule, direct_fewshot1, direct_fewshot2}}`` and uses its texts verbatim.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.tasks.model import Example, Task, format_value

Messages = list[dict[str, str]]
FIELDS = ("generate_rule", "apply_rule", "direct_fewshot1", "direct_fewshot2")


@dataclass(frozen=True)
class PromptSet:
    generate_rule: str
    apply_rule: str
    direct_fewshot1: str
    direct_fewshot2: str
    generate_program: str = ""
    """Asks for the rule as ``def transform(x): ...`` (the python rule follower)."""


_LIST_PROGRAM = (
    "Below are input/output pairs produced by one hidden transformation of a Python list. "
    "Write that transformation as a Python function `def transform(x):` that takes the input list and "
    "returns the output list. Reply with a single ```python code block and nothing else.\n"
)

_LIST = PromptSet(
    generate_rule=(
        "Each example below maps an input Python list to an output Python list by one hidden rule. "
        "Work out that rule and state it in plain words. Reply with the rule only.\n"
    ),
    apply_rule=(
        "Apply the rule below to the input and give the resulting output. "
        "Reply with the output Python list only, nothing else.\n"
    ),
    direct_fewshot1="Each example below maps an input Python list to an output Python list by one hidden rule.\n",
    direct_fewshot2="Give the output for the next input under the same rule. Reply with the output Python list only.\n",
    generate_program=_LIST_PROGRAM,
)

_ARC = PromptSet(
    generate_rule=(
        "Each example below is a one-dimensional row of coloured cells (integers 0-9, 0 is background), "
        "turned from input into output by one hidden rule. Work out that rule and state it in plain words. "
        "Reply with the rule only.\n"
    ),
    apply_rule=(
        "Apply the rule below to the input row and give the resulting output row. "
        "Reply with the output Python list only, nothing else.\n"
    ),
    direct_fewshot1=(
        "Each example below is a one-dimensional row of coloured cells (integers 0-9, 0 is background), "
        "turned from input into output by one hidden rule.\n"
    ),
    direct_fewshot2="Give the output row for the next input under the same rule. Reply with the output Python list only.\n",
    generate_program=_LIST_PROGRAM,
)

_ACRE = PromptSet(
    generate_rule=(
        "A machine lights up when certain objects are placed on it. Each example lists the objects on the "
        "machine and whether it was on or off. Work out which objects switch the machine on and state the "
        "rule in plain words. Reply with the rule only.\n"
    ),
    apply_rule=(
        "Use the rule below to decide whether the machine is on, off, or undetermined (the rule cannot "
        "tell) for the given objects. Reply with one word: on, off or undetermined.\n"
    ),
    direct_fewshot1=(
        "A machine lights up when certain objects are placed on it. Each example lists the objects on the "
        "machine and whether it was on or off.\n"
    ),
    direct_fewshot2=(
        "For the next set of objects, is the machine on, off, or undetermined (the examples cannot tell)? "
        "Reply with one word.\n"
    ),
)

_SCAN = PromptSet(
    generate_rule=(
        "The examples below translate phrases of an invented language into sequences of colour words. "
        "Work out the meaning of every word, including how the function words combine their arguments, "
        "and state the rules in plain words. Reply with the rules only.\n"
    ),
    apply_rule=(
        "Use the rules below to translate the input phrase into colour words. "
        "Reply with the colour words only, separated by spaces.\n"
    ),
    direct_fewshot1="The examples below translate phrases of an invented language into sequences of colour words.\n",
    direct_fewshot2="Translate the next phrase the same way. Reply with the colour words only, separated by spaces.\n",
)

_GENERIC = PromptSet(
    generate_rule=(
        "Each example below maps an input to an output by one hidden rule. "
        "Work out that rule and state it in plain words. Reply with the rule only.\n"
    ),
    apply_rule="Apply the rule below to the input and give the output only, nothing else.\n",
    direct_fewshot1="Each example below maps an input to an output by one hidden rule.\n",
    direct_fewshot2="Give the output for the next input under the same rule. Reply with the output only.\n",
    generate_program=_LIST_PROGRAM,
)

DEFAULTS: dict[str, PromptSet] = {"list_func": _LIST, "1d_arc": _ARC, "acre": _ACRE, "scan": _SCAN}
_BY_ANSWER_TYPE = {"list": _LIST, "label": _GENERIC, "tokens": _GENERIC}


class Prompts:
    """The prompt texts in use: our defaults, or a user's JSON file (reference layout) taking precedence."""

    def __init__(self, overrides: dict[str, PromptSet] | None = None, source: str = "builtin"):
        self.overrides = overrides or {}
        self.source = source

    def for_suite(self, suite: str, answer_type: str = "list") -> PromptSet:
        if suite in self.overrides:
            return self.overrides[suite]
        return DEFAULTS.get(suite) or _BY_ANSWER_TYPE.get(answer_type, _GENERIC)


def load_prompts(path: str | Path | None) -> Prompts:
    """Load a prompts JSON file in the reference layout; ``None`` gives the built-in texts."""
    if path is None:
        return Prompts()
    path = Path(path)
    if not path.exists():
        raise RedistillError(f"{path}: prompts file not found")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RedistillError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(raw, dict):
        raise RedistillError(f"{path}: expected an object {{suite: {{{', '.join(FIELDS)}}}}}")
    sets = {}
    for suite, texts in raw.items():
        if not isinstance(texts, dict):
            raise RedistillError(f"{path}: field '{suite}': expected an object with {', '.join(FIELDS)}")
        for f in FIELDS:
            if not isinstance(texts.get(f), str):
                raise RedistillError(f"{path}: field '{suite}.{f}': missing or not a string")
        base = DEFAULTS.get(suite, _GENERIC)
        sets[suite] = PromptSet(*(texts[f] for f in FIELDS),
                                generate_program=texts.get("generate_program", base.generate_program))
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]
    return Prompts(sets, source=f"{path} sha256:{digest}")  # the texts too: a file edited in place is another source


def _examples_block(examples: list[Example]) -> str:
    return "".join(f"\nInput: {format_value(e.input)}\nOutput: {format_value(e.output)}\n" for e in examples)


def _user(content: str) -> Messages:
    return [{"role": "user", "content": content}]


def generate_rule_messages(p: PromptSet, task: Task) -> Messages:
    return _user(p.generate_rule + _examples_block(task.train) + "\n")


def generate_program_messages(p: PromptSet, task: Task) -> Messages:
    if not p.generate_program:
        raise RedistillError(f"suite {task.suite!r} has no program-generation prompt; use --follower llm")
    return _user(p.generate_program + _examples_block(task.train) + "\n")


def apply_rule_messages(p: PromptSet, rule: str, input_value: Any) -> Messages:
    return _user(p.apply_rule + "\n" + rule + "\n" + f"Input: {format_value(input_value)}\n")


def direct_messages(p: PromptSet, task: Task, input_value: Any) -> Messages:
    return _user(
        p.direct_fewshot1 + _examples_block(task.train) + "\n" + p.direct_fewshot2 + "\n"
        + f"Input: {format_value(input_value)}\n"
    )
