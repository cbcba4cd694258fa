"""Shared shapes of hypothesis search: hypotheses, rule followers, rule proposers, scored rules.

These are the contract between search (eval), distill (augment/build) and the generators' exact
interpreters and library teacher.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from redistill.llm.types import Usage
from redistill.tasks.model import Task

Messages = list[dict[str, str]]
FollowerName = Literal["llm", "python", "library"]
"""The rule followers one picks by name (``search.followers.make_follower``)."""


@dataclass
class Hypothesis:
    text: str
    """The rule as the model (or library) wrote it: natural language or a code block."""
    program: str | None = None
    """An executable form when one exists: python source, or a JSON rule for an exact interpreter."""
    meta: dict[str, Any] = field(default_factory=dict)
    """E.g. the library rule's name, or the sample slot it came from."""


@dataclass
class ApplyRequest:
    task: Task
    hypothesis: Hypothesis
    input: Any


@dataclass
class Application:
    """One rule applied to one input, and how it was judged."""

    input: Any
    gold: str | None
    response: str
    """Raw follower output (model text, or an interpreter's output / error message)."""
    parsed: str | None
    correct: bool | None
    prompt: Messages | None = None
    error: str | None = None
    """Set when the model call behind ``response`` failed for good (an outage, not a wrong answer):
    the task it belongs to is not finished, and never becomes data or a scored row."""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if d["error"] is None:
            del d["error"]
        return d


@dataclass
class ScoredRule:
    """A unique hypothesis of a task with its applications to the seen examples."""

    hypothesis: Hypothesis
    score: int
    """How many seen examples the rule reproduces."""
    count: int = 1
    """How many of the H samples produced this (whitespace-normalised) rule."""
    first_index: int = 0
    """Sample slot of its first occurrence (ties are broken by it)."""
    applications: list[Application] = field(default_factory=list)
    pruned: bool = False
    """Scoring stopped early (``--prune``): it could no longer be chosen; ``score`` counts only ``applications``."""

    def to_json(self) -> dict[str, Any]:
        d = {
            "rule": self.hypothesis.text,
            "program": self.hypothesis.program,
            "meta": self.hypothesis.meta,
            "score": self.score,
            "count": self.count,
            "first_index": self.first_index,
            "applications": [a.to_json() for a in self.applications],
        }
        if self.pruned:
            d["pruned"] = True
        return d


@dataclass
class Answer:
    """A follower's answer to one ``ApplyRequest``, with what producing it cost."""

    response: str
    """Raw follower output (model text, or an interpreter's output / error message)."""
    prompt: Messages | None = None
    """The rule-application prompt sent (None for followers without a model)."""
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    """Model calls of its own: 0 for exact followers and for a copy of an identical request's answer."""
    error: str | None = None
    """Why the model call failed for good (an outage, not a wrong answer), else None."""


@dataclass
class Proposal:
    """One task's ``n`` sampled hypotheses (duplicates allowed: they are samples), with their cost."""

    hypotheses: list[Hypothesis]
    prompt: Messages | None = None
    """The rule-generation prompt sent (None for the rule library)."""
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    error: str | None = None
    """Why the rule request failed for good; the hypotheses are then empty texts carrying it in ``meta``."""


@runtime_checkable
class RuleFollower(Protocol):
    """Turns (rule, input) into a predicted output for many pairs at once."""

    name: str

    def apply(self, requests: list[ApplyRequest]) -> list[Answer]:
        """One ``Answer`` per request, in order. Failures are answers, not raises."""
        ...

    def usage(self) -> Usage:
        """Tokens spent so far (zero for exact followers)."""
        ...


@runtime_checkable
class RuleProposer(Protocol):
    """Proposes H hypotheses per task: a model via the rule-generation prompt, or the rule library."""

    name: str

    def propose(self, tasks: list[Task], n: int) -> list[Proposal]:
        """One ``Proposal`` of ``n`` hypotheses per task, in task order."""
        ...
