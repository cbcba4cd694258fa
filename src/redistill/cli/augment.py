"""``redistill augment``: the teacher proposes and scores rules for every task (resumable, budgeted)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from redistill.cli.console import make_console
from redistill.cli.options import (
    CacheDirOpt,
    ConcurrencyOpt,
    MaxRetriesOpt,
    NoCacheOpt,
    TimeoutOpt,
    api_options,
    cache_choice,
    config_command,
)
from redistill.cli.tasks import AnswerTypeOpt, DataOpt, SplitOpt, split_list
from redistill.distill.augment import AugmentConfig
from redistill.errors import RedistillError

console = make_console()


@config_command(AugmentConfig)
def augment(
    cfg: AugmentConfig,
    teacher: Annotated[str, typer.Option("--teacher", help="Backend spec of the teacher (openai:gpt-4o, hf:PATH...) or `library` (the offline rule library).")],
    suite: Annotated[list[str], typer.Option("--suite", help="Suites to augment, repeatable or comma-separated.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder; writes RUN_DIR/augment/<suite>.jsonl.")],
    data: DataOpt = None,
    split: SplitOpt = "train",
    answer_type: AnswerTypeOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tasks.")] = None,
    prompts: Annotated[Path | None, typer.Option(help="Prompts JSON file (reference layout).")] = None,
    price_in: Annotated[float | None, typer.Option(min=0.0, help="USD per 1M prompt tokens (overrides the price table).")] = None,
    price_out: Annotated[float | None, typer.Option(min=0.0, help="USD per 1M completion tokens.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the call count and estimated cost only.")] = False,
    poll_s: Annotated[float, typer.Option("--poll-s", help="With --batch: seconds between polls of a running batch.")] = 30.0,
    concurrency: ConcurrencyOpt = 32,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    unsafe_sandbox: Annotated[bool, typer.Option("--unsafe-sandbox", help="Run --follower python programs WITHOUT the bubblewrap sandbox (old in-process guard only; recorded in each line). Not recommended.")] = False,
) -> None:
    """Sample rules from the teacher, score each on the seen examples, append one line per task."""
    from redistill.distill.augment import estimate_augment
    from redistill.distill.stage import augment_suites
    from redistill.llm.openai_batch import BATCH_DISCOUNT
    from redistill.llm.usage import cost_fn_for, model_name
    from redistill.prompts import load_prompts
    from redistill.tasks import load_tasks

    names = split_list(suite)
    if not names:
        raise RedistillError("--suite: no suite given (e.g. --suite list_func,acre)")
    # every suite is loaded before anything is paid for: a bad file fails first
    suites = {name: load_tasks(name, data, split, limit=limit, answer_type=answer_type) for name in names}
    params = cfg.for_teacher(teacher)
    ps = load_prompts(prompts)
    # one price source: the flags (USD per 1M tokens) over the built-in table, for the records and the ledger
    prices = {model_name(teacher): (price_in or 0.0, price_out or 0.0)} \
        if price_in is not None or price_out is not None else None
    if dry_run:
        cost_fn = cost_fn_for(teacher, prices)
        table = Table(title=f"augment {', '.join(names)} ({split}) with {teacher}: estimate")
        for col in ("suite", "tasks", "rule requests", "apply requests", "calls", "prompt tokens",
                    "completion tokens", "USD", "USD batch"):
            table.add_column(col, justify="left" if col == "suite" else "right")
        for name, tasks in suites.items():
            est = estimate_augment(tasks, params, ps, cost_fn)
            usd = "unknown price" if est.cost_usd is None else f"{est.cost_usd:.2f}"
            usd_batch = "unknown price" if est.cost_usd is None else f"{est.cost_usd * BATCH_DISCOUNT:.2f}"
            table.add_row(name, str(est.tasks), str(est.rule_requests), str(est.apply_requests), str(est.calls),
                          f"{est.prompt_tokens:,}", f"{est.completion_tokens:,}", usd, usd_batch)
        console.print(table)
        return

    options = api_options(teacher, concurrency, timeout, max_retries)
    if teacher != "library":
        options["cache"] = cache_choice(cache_dir, no_cache)
    if cfg.batch:
        options["poll_s"] = poll_s
    done = augment_suites(cfg, teacher, suites, out, ps, unsafe_sandbox, prices,
                          on_suite=lambda d: console.print(d.summary()), **options)
    if done and done[-1].result.stopped_for_budget:
        console.print(f"[yellow]stopped before crossing the budget of ${cfg.budget_usd:.2f}[/]; re-run with a "
                      "larger --budget-usd to continue")
    logs = [d.result.failures for d in done if d.result.failures is not None and len(d.result.failures)]
    if logs:
        report_failures(sum(len(log) for log in logs), logs)


def report_failures(n: int, logs: list) -> None:
    """Say which tasks are unfinished because a model call failed, and exit 1 (nothing of them is data)."""
    import sys

    err = make_console(stderr=True)
    files = ", ".join(str(log.path) for log in logs)
    err.print(f"[bold red]{n} task(s) not finished[/]: a model call failed after its retries ({logs[0].sample()}); "
              f"they are listed in {files} and are not in the data. Re-run the same command to retry only "
              "them.", highlight=False)
    sys.exit(1)


def register(app: typer.Typer) -> None:
    app.command("augment")(augment)
