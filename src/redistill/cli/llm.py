"""``redistill llm``: try a model spec on one prompt, and look at the response cache."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from redistill.cli.console import make_console
from redistill.cli.options import (
    AdapterOpt,
    BatchSizeOpt,
    CacheDirOpt,
    ConcurrencyOpt,
    MaxRetriesOpt,
    ModelOpt,
    NoCacheOpt,
    PricesOpt,
    TimeoutOpt,
    api_options,
    cache_choice,
    open_cache,
)
from redistill.llm.factory import make_backend
from redistill.llm.types import Request, SamplingParams

app = typer.Typer(help="Talk to a model backend; inspect the response cache.", no_args_is_help=True)
console = make_console()


@app.command("ask")
def ask(
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    model: ModelOpt,
    adapter: AdapterOpt = None,
    n: Annotated[int, typer.Option("-n", min=1, help="Samples to draw.")] = 1,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 = greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most new tokens per sample.")] = 256,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    concurrency: ConcurrencyOpt = 8,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    batch_size: BatchSizeOpt = 64,
    prices: PricesOpt = None,
) -> None:
    """Send one prompt (n samples) and print the answers with their usage and cost."""
    engine = model.partition(":")[0]
    options = {"openai": {"prices": prices, **api_options(model, concurrency, timeout, max_retries)},
               "hf": {"batch_size": batch_size}}.get(engine, {})
    backend = make_backend(model, [str(a) for a in adapter or []], cache=cache_choice(cache_dir, no_cache), **options)
    request = Request([{"role": "user", "content": prompt}],
                      SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens, seed=seed))
    [result] = backend.generate([request])
    table = Table(title=f"{model}: {n} sample(s)")
    table.add_column("#")
    table.add_column("answer", overflow="fold")
    for i, text in enumerate(result.texts):
        table.add_row(str(i), text)
    console.print(table)
    if result.error:
        console.print(f"[red]failed:[/] {result.error}")
    console.print(backend.ledger.summary(), highlight=False)  # type: ignore[attr-defined]


@app.command("cache")
def cache_info(cache_dir: CacheDirOpt = None) -> None:
    """Show where the response cache is and how many answers it holds."""
    cache = open_cache(cache_dir, no_cache=False)
    assert cache is not None
    size = cache.path.stat().st_size if cache.path.exists() else 0
    console.print(f"{cache.path}: {len(cache):,} answers, {size / 1e6:.1f} MB", highlight=False)
