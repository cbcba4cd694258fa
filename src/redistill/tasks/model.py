"""The task model: a task is a few seen examples (``train``) and unseen ones (``test``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def format_value(value: Any) -> str:
    """How a value appears in a prompt: strings verbatim, lists as Python literals (``[0, 2]``).

    This matches the reference release, which formats values with ``str()``.
    """
    return value if isinstance(value, str) else str(value)


@dataclass
class Example:
    input: Any
    """A string (``"[0, 2]"``, ``"dax fep"``) or, for ACRE, a list of object names."""
    output: str
    """The gold answer as text, in the suite's published form."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Extra fields of the published example, e.g. ACRE's query ``type``."""

    def to_json(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output, **self.meta}


@dataclass
class Task:
    id: int | str
    suite: str
    train: list[Example]
    """Seen examples: shown in the prompt and used to score rules."""
    test: list[Example]
    """Unseen examples: the ones a method is scored on (may be empty for inference-only tasks)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Extra top-level fields, e.g. a generated task's ``rule``."""
    answer_type: str = "list"
    """How answers are parsed and compared: ``list``, ``label`` or ``tokens`` (set from the suite)."""

    @property
    def key(self) -> str:
        """Unique within a run: ``suite/id``."""
        return f"{self.suite}/{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The published layout (``idx``, ``train``, ``test``) plus any extra fields."""
        return {
            "idx": self.id,
            "train": [e.to_json() for e in self.train],
            "test": [e.to_json() for e in self.test],
            **self.meta,
        }
