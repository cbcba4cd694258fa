"""Exact rule followers: apply a hypothesis that names a library rule, with no model and no cost.

They conform to ``redistill.search.types.RuleFollower``. A hypothesis is exact when its
``meta["library"]`` is set (the library teacher's) or its text is a library rule's canonical text
(a student that learned to write library rules). Anything else is a miss: the response is "".
"""

from __future__ import annotations

from redistill.llm.types import Usage
from redistill.search.types import Answer, ApplyRequest, Hypothesis
from redistill.tasks.generators import FAMILIES, get_family
from redistill.tasks.generators.library import Rule
from redistill.tasks.model import Task


def resolve(task: Task, hypothesis: Hypothesis) -> Rule | None:
    """The library rule a hypothesis names, if any (by its text; a program alone is not trusted)."""
    if task.suite not in FAMILIES:
        return None
    return get_family(task.suite).lookup(hypothesis.text)


MAX_INPUT_CHARS = 20_000
"""Inputs longer than this (as text) are a miss: some library rules cost time quadratic in the input,
and the published suites' inputs are under 1,000 characters."""


class LibraryFollower:
    """Applies library rules exactly for every family; misses (response "") on other rule texts."""

    name = "library"

    def apply(self, requests: list[ApplyRequest]) -> list[Answer]:
        out: list[Answer] = []
        for r in requests:
            size = len(r.input) if isinstance(r.input, str) else len(str(r.input))
            if size > MAX_INPUT_CHARS:
                out.append(Answer(f"error: input of {size:,} characters is over the interpreters' limit of "
                                  f"{MAX_INPUT_CHARS:,}"))
                continue
            rule = resolve(r.task, r.hypothesis)
            response = get_family(r.task.suite).apply(rule, r.input) if rule is not None else None
            out.append(Answer(response or ""))
        return out

    def usage(self) -> Usage:
        return Usage()

