"""The backend interface: batched requests in, completions (n texts + usage) out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop) if self.stop else None
        return d


@dataclass
class Request:
    messages: Messages
    params: SamplingParams = field(default_factory=SamplingParams)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass
class Completion:
    texts: list[str]
    """``n`` texts, one per sample, in sample-slot order."""
    usage: Usage = field(default_factory=Usage)
    """Tokens actually paid for (cache hits count zero)."""
    cached: int = 0
    """How many of ``texts`` came from the response cache."""
    error: str | None = None
    """Set when the call failed for good; ``texts`` then holds empty strings so counts stay aligned."""


ProgressFn = Callable[[int, Usage], None]
"""Called as completions finish: (number of requests just finished, their usage)."""

ResultFn = Callable[[int, "Completion"], None]
"""Optional hook of engines that finish requests one by one: (request index, its completion), as each
finishes. The response cache uses it to store answers at once rather than at the end of the batch."""


@runtime_checkable
class Backend(Protocol):
    spec: str
    """The spec string that built this backend, e.g. ``hf:/path/to/model``."""

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        """Run all requests (as one batch where the engine allows); results in request order."""
        ...

    def identity(self) -> dict[str, Any]:
        """What makes answers of this backend distinct (model, adapter + weights hash...): the cache key base."""
        ...
