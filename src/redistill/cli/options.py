"""Typer options shared by every command that talks to a model (eval, augment, llm...): one help text each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.llm.cache import ResponseCache

ModelOpt = Annotated[str, typer.Option(
    "--model", "-m", help="Model spec: openai:MODEL, openai:MODEL@http://host:port/v1, hf:NAME_OR_PATH or "
    "vllm:NAME_OR_PATH.")]
AdapterOpt = Annotated[list[Path] | None, typer.Option(
    "--adapter", help="PEFT adapter folder on top of an hf:/vllm: model; repeat to stack (hf).")]
CacheDirOpt = Annotated[Path | None, typer.Option(
    "--cache-dir", help="Response cache folder (default: $REDISTILL_CACHE_DIR, else $XDG_CACHE_HOME/redistill, "
    "else ~/.cache/redistill).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, help="openai: requests in flight at once "
                                             "(a one-request-at-a-time server wants 1-4).")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="openai: seconds to wait for one answer before it "
                                           "is retried (raise it for a slow server).")]
MaxRetriesOpt = Annotated[int, typer.Option("--max-retries", min=0, help="openai: retries of a request that "
                                            "failed on 429/5xx/timeout (the SDK's backoff, Retry-After honoured).")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="hf: sequences per generate call (halves on OOM).")]
PricesOpt = Annotated[Path | None, typer.Option(
    "--prices", help="JSON/YAML file {model: [prompt, completion]} in USD per 1M tokens, over the built-in table.")]


def api_options(spec: str, concurrency: int, timeout: float, max_retries: int) -> dict:
    """The options an ``openai:`` backend takes from the command line (none for local engines)."""
    if not spec.startswith("openai:"):
        return {}
    return {"concurrency": concurrency, "timeout": timeout, "max_retries": max_retries}


def cache_choice(cache_dir: Path | None, no_cache: bool) -> str | Path | None:
    """The ``cache`` argument of ``make_backend`` for a (--cache-dir, --no-cache) pair."""
    if no_cache:
        return None
    return cache_dir if cache_dir is not None else "default"


def open_cache(cache_dir: Path | None, no_cache: bool) -> ResponseCache | None:
    choice = cache_choice(cache_dir, no_cache)
    return None if choice is None else ResponseCache(None if choice == "default" else choice)
