"""``redistill augment``: the teacher proposes and scores rules for every task (resumable, budgeted)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from redistill.cli.options import CacheDirOpt, ConcurrencyOpt, NoCacheOpt, cache_choice
from redistill.cli.tasks import DataOpt, SplitOpt

console = Console()


def _cost_fn(teacher: str, price_in: float | None, price_out: float | None):
    """USD per million tokens given on the command line, else the backend price table (if it knows the model)."""
    if price_in is not None or price_out is not None:
        return lambda u: (u.prompt_tokens * (price_in or 0.0) + u.completion_tokens * (price_out or 0.0)) / 1e6
    try:
        from redistill.llm.usage import cost_fn_for  # provided by the backends work; wired by the lead
    except ImportError:
        return None
    return cost_fn_for(teacher)


def augment(
    teacher: Annotated[str, typer.Option("--teacher", help="Backend spec of the teacher (openai:gpt-4o, hf:PATH...) or `library` (the offline rule library).")],
    suite: Annotated[str, typer.Option("--suite", help="Suite to augment.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder; writes RUN_DIR/augment/<suite>.jsonl.")],
    data: DataOpt = None,
    split: SplitOpt = "train",
    hypotheses: Annotated[int, typer.Option(help="Rules sampled per task.")] = 50,
    rule_temperature: Annotated[float, typer.Option(help="Sampling temperature of the rules.")] = 1.0,
    apply_temperature: Annotated[float, typer.Option(help="Temperature of rule application.")] = 0.7,
    follower: Annotated[str, typer.Option(help="llm (teacher applies rules) | python (rules are programs) | library (exact interpreters).")] = "llm",
    max_tokens: Annotated[int, typer.Option(help="Token limit per completion.")] = 512,
    strict: Annotated[bool, typer.Option("--strict", help="Score with the published exact comparison.")] = False,
    budget_usd: Annotated[float | None, typer.Option(help="Stop before this run's spend would cross X USD.")] = None,
    chunk_size: Annotated[int, typer.Option(help="Tasks per batch (a kill loses at most one chunk).")] = 16,
    limit: Annotated[int | None, typer.Option(help="Only the first N tasks.")] = None,
    prompts: Annotated[Path | None, typer.Option(help="Prompts JSON file (reference layout).")] = None,
    price_in: Annotated[float | None, typer.Option(help="USD per 1M prompt tokens (overrides the price table).")] = None,
    price_out: Annotated[float | None, typer.Option(help="USD per 1M completion tokens.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the call count and estimated cost only.")] = False,
    batch: Annotated[bool, typer.Option("--batch", help="Send the calls through OpenAI's Batch API: half price, answers within 24 h; a re-run resumes by polling (state in RUN_DIR/augment/batches/).")] = False,
    poll_s: Annotated[float, typer.Option("--poll-s", help="With --batch: seconds between polls of a running batch.")] = 30.0,
    concurrency: ConcurrencyOpt = 32,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    unsafe_sandbox: Annotated[bool, typer.Option("--unsafe-sandbox", help="Run --follower python programs WITHOUT the bubblewrap sandbox (old in-process guard only; recorded in each line). Not recommended.")] = False,
) -> None:
    """Sample rules from the teacher, score each on the seen examples, append one line per task."""
    from redistill.distill.augment import AugmentParams, estimate_augment, make_teacher, run_augment
    from redistill.llm.openai_batch import BATCH_DISCOUNT
    from redistill.prompts import load_prompts
    from redistill.tasks import load_tasks

    tasks = load_tasks(suite, data, split, limit=limit)
    if teacher == "library" and follower == "llm":
        follower = "library"  # the library teacher's rules are applied exactly, at no cost
    params = AugmentParams(hypotheses, rule_temperature, apply_temperature, follower, max_tokens, strict)
    ps = load_prompts(prompts)
    cost_fn = _cost_fn(teacher, price_in, price_out)
    if dry_run:
        est = estimate_augment(tasks, params, ps, cost_fn)
        table = Table(title=f"augment {suite} ({split}) with {teacher}: estimate")
        for col in ("tasks", "rule requests", "apply requests", "calls", "prompt tokens", "completion tokens", "USD",
                    "USD batch"):
            table.add_column(col, justify="right")
        usd = "unknown price" if est.cost_usd is None else f"{est.cost_usd:.2f}"
        usd_batch = "unknown price" if est.cost_usd is None else f"{est.cost_usd * BATCH_DISCOUNT:.2f}"
        table.add_row(str(est.tasks), str(est.rule_requests), str(est.apply_requests), str(est.calls),
                      f"{est.prompt_tokens:,}", f"{est.completion_tokens:,}", usd, usd_batch)
        console.print(table)
        return

    options = {"concurrency": concurrency} if teacher.startswith("openai:") else {}
    if batch:
        from redistill.distill.batch import batch_chunk, batch_cost, batch_options

        options.update(batch_options(teacher, out), poll_s=poll_s)
        cost_fn, chunk_size = batch_cost(cost_fn), batch_chunk(len(tasks))
    if teacher != "library":
        options["cache"] = cache_choice(cache_dir, no_cache)
    proposer, rule_follower, backend = make_teacher(teacher, params, ps, unsafe_sandbox, **options)
    path = out / "augment" / f"{tasks[0].suite if tasks else suite}.jsonl"
    r = run_augment(tasks, proposer, rule_follower, path, teacher, params, chunk_size, budget_usd, cost_fn,
                    progress=True, prompts=ps)
    if backend is not None:
        from redistill.llm.usage import write_ledger

        write_ledger(backend, path.parent, f"usage.{path.stem}.json")
    console.print(f"{r.done} tasks done, {r.skipped} already on disk, {r.remaining} left; {r.calls} calls, "
                  f"{r.usage.prompt_tokens + r.usage.completion_tokens:,} tokens, ${r.cost_usd:.2f} -> {path}")
    if r.stopped_for_budget:
        console.print(f"[yellow]stopped before crossing the budget of ${budget_usd:.2f}[/]; re-run with a larger "
                      "--budget-usd to continue")


def register(app: typer.Typer) -> None:
    app.command("augment")(augment)
