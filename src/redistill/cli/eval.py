"""``redistill eval``: run a method (io | search) of a model on suites; resumable into --out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console
from redistill.cli.options import ConcurrencyOpt, MaxRetriesOpt, TimeoutOpt, config_command
from redistill.cli.tasks import split_list
from redistill.eval.report import label_of, summary_table
from redistill.eval.runner import EvalConfig, prepare, run_eval

console = make_console()


@config_command(EvalConfig, convert={"suites": split_list})
def eval_command(
    cfg: EvalConfig,
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running into it resumes).")],
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the response cache.")] = False,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Response cache folder.")] = None,
    concurrency: ConcurrencyOpt = 32,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
) -> None:
    """Evaluate a model with direct prompting (io) or hypothesis search on one or more suites."""
    model = cfg.model
    suites = prepare(cfg, out)  # bad settings and data fail before a model is loaded
    from redistill.cli.options import api_options, cache_choice
    from redistill.llm import factory

    backend = factory.make_backend(model, adapter=cfg.adapters or None, cache=cache_choice(cache_dir, no_cache),
                                   **api_options(model, concurrency, timeout, max_retries))
    summaries = run_eval(cfg, out, backend, console=console, suites=suites)
    from redistill.llm.usage import write_ledger

    write_ledger(backend, out)
    console.print(summary_table(summaries, title=f"{label_of(cfg.to_json())} -> {out}"))
    failed = {s: v for s, v in summaries.items() if v.get("failed")}
    if failed:
        from redistill.cli.augment import report_failures
        from redistill.failures import FailureLog

        report_failures(sum(v["failed"] for v in failed.values()), [FailureLog(v["failures_file"]) for v in failed.values()])
