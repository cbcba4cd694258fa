"""What a run spent: calls, cache hits, tokens, dollars, wall time; and the price table behind the dollars."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError, located
from redistill.jsonl import write_json
from redistill.llm.types import Usage

# USD per 1M (prompt, completion) tokens. Public list prices; override with ``prices=`` or a JSON/YAML file.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
}


class PriceTable:
    """Model name -> USD per 1M prompt / completion tokens. Dated names use their family's price
    (``gpt-4o-2024-08-06`` -> ``gpt-4o``) by longest prefix."""

    def __init__(self, overrides: Mapping[str, Any] | str | Path | None = None):
        self.prices = dict(DEFAULT_PRICES)
        if isinstance(overrides, (str, Path)):
            overrides = load_prices(overrides)
        for model, value in (overrides or {}).items():
            self.prices[model] = _price_pair(value, f"prices.{model}")

    def lookup(self, model: str) -> tuple[float, float] | None:
        if model in self.prices:
            return self.prices[model]
        prefixes = [m for m in self.prices if model.startswith(m + "-")]
        return self.prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, usage: Usage) -> float | None:
        """Dollars for ``usage``, or None for a model without a price."""
        price = self.lookup(model)
        if price is None:
            return None
        return (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000


def _price_pair(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, Mapping):
        value = (value.get("prompt"), value.get("completion"))
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and v >= 0 for v in value)):
        raise RedistillError(
            f"{where}: expected [prompt_usd_per_1M, completion_usd_per_1M] or "
            f"{{prompt: ..., completion: ...}} with non-negative numbers, got {value!r}")
    return float(value[0]), float(value[1])


def load_prices(path: str | Path) -> dict[str, tuple[float, float]]:
    """Read ``{model: [prompt, completion]}`` (USD per 1M tokens) from a JSON or YAML file."""
    path = Path(path)
    if not path.exists():
        raise located(path, None, None, "price file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        raise located(path, None, None, f"cannot parse price file ({e})") from None
    if not isinstance(data, dict):
        raise located(path, None, None, "expected a mapping {model: [prompt, completion]}")
    return {m: _price_pair(v, f"{path}: field '{m}'") for m, v in data.items()}


@dataclass
class UsageLedger:
    """Counts for one run, shared by a backend and its cache; thread-safe."""

    calls: int = 0
    """Engine calls: HTTP requests sent, or prompts run through a local model."""
    cache_hits: int = 0
    """Samples served from the response cache."""
    cache_misses: int = 0
    """Samples that had to be generated."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0
    """Requests that failed for good (recorded in ``Completion.error``)."""
    retries: int = 0
    wall_s: float = 0.0
    """Seconds spent inside ``generate``."""
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _depth: int = field(default=0, repr=False, compare=False)

    def add(self, *, calls: int = 0, usage: Usage | None = None, cost: float = 0.0, hits: int = 0,
            misses: int = 0, errors: int = 0, retries: int = 0, wall_s: float = 0.0) -> None:
        with self._lock:
            self.calls += calls
            self.cache_hits += hits
            self.cache_misses += misses
            self.errors += errors
            self.retries += retries
            self.cost_usd += cost
            self.wall_s += wall_s
            if usage is not None:
                self.prompt_tokens += usage.prompt_tokens
                self.completion_tokens += usage.completion_tokens

    def note(self, text: str) -> None:
        """Record a remark once (e.g. 'no price for model X: cost counted as 0')."""
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Add the wall time of the block; nested blocks (a cache around a backend) count once."""
        with self._lock:
            self._depth += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self.wall_s += time.perf_counter() - start

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": self.calls, "cache_hits": self.cache_hits, "cache_misses": self.cache_misses,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": round(self.cost_usd, 6), "errors": self.errors, "retries": self.retries,
                "wall_s": round(self.wall_s, 3), "notes": list(self.notes),
            }

    def write(self, run_dir: str | Path, name: str = "usage.json") -> Path:
        """Write the counts atomically into the run folder; returns the file path."""
        path = Path(run_dir) / name
        write_json(path, self.to_json())
        return path

    def summary(self) -> str:
        j = self.to_json()
        return (f"{j['calls']} calls, {j['cache_hits']} cached samples, {j['prompt_tokens']:,} prompt + "
                f"{j['completion_tokens']:,} completion tokens, ${j['cost_usd']:.4f}, {j['errors']} errors")


def model_name(spec: str) -> str:
    """The model a spec names, as the price table keys it: ``openai:gpt-4o@http://h/v1`` -> ``gpt-4o``."""
    return spec.partition(":")[2].split("@", 1)[0]


def cost_fn_for(spec: str, prices: Mapping[str, Any] | str | Path | None = None) -> Callable[[Usage], float] | None:
    """USD for a usage of the model a spec names, from the price table with ``prices`` over it (the same
    table the ``openai:`` backends' ledgers use); None for local engines without a given price.

    A hosted model missing from the price table costs 0 (the ledger notes unknown prices).
    """
    if not spec.startswith("openai:") and not prices:
        return None
    model, table = model_name(spec), PriceTable(prices)
    return lambda usage: table.cost(model, usage) or 0.0


def write_ledger(backend: object, folder: str | Path, name: str = "usage.json") -> Path | None:
    """Write a backend's usage ledger (calls, cache hits, tokens, cost, wall time) into a run folder."""
    ledger = getattr(backend, "ledger", None)
    return ledger.write(folder, name) if isinstance(ledger, UsageLedger) else None
