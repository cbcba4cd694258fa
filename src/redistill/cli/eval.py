"""``redistill eval``: run a method (io | search) of a model on suites; resumable into --out."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console
from redistill.cli.options import ConcurrencyOpt, MaxRetriesOpt, TimeoutOpt
from redistill.cli.tasks import split_list
from redistill.eval.report import label_of, summary_table
from redistill.eval.runner import EvalConfig, prepare, run_eval

console = make_console()
_HELP = {f.name: f.metadata.get("help", "") for f in fields(EvalConfig)}


def _opt(name: str, *flags: str, **limits: float) -> typer.models.OptionInfo:
    """An option with its EvalConfig help; ``min=`` makes a bad value a usage error (exit 2)."""
    return typer.Option(*flags, help=_HELP[name], **limits)


def eval_command(
    model: Annotated[str, _opt("model", "--model")],
    suite: Annotated[list[str], _opt("suites", "--suite")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (re-running into it resumes).")],
    adapter: Annotated[list[str] | None, _opt("adapters", "--adapter")] = None,
    data: Annotated[str | None, _opt("data", "--data")] = None,
    split: Annotated[str, _opt("split", "--split")] = "test",
    answer_type: Annotated[str | None, _opt("answer_type", "--answer-type")] = None,
    method: Annotated[str, _opt("method", "--method")] = "search",
    hypotheses: Annotated[int, _opt("hypotheses", "--hypotheses", min=1)] = 10,
    rule_temperature: Annotated[float, _opt("rule_temperature", "--rule-temperature", min=0.0)] = 0.9,
    apply_temperature: Annotated[float, _opt("apply_temperature", "--apply-temperature", min=0.0)] = 0.7,
    io_temperature: Annotated[float, _opt("io_temperature", "--io-temperature", min=0.0)] = 0.6,
    follower: Annotated[str, _opt("follower", "--follower")] = "llm",
    max_tokens: Annotated[int | None, _opt("max_tokens", "--max-tokens", min=1)] = None,
    limit: Annotated[int | None, _opt("limit", "--limit", min=1)] = None,
    prompts: Annotated[str | None, _opt("prompts", "--prompts")] = None,
    strict: Annotated[bool, _opt("strict", "--strict")] = False,
    seed: Annotated[int | None, _opt("seed", "--seed")] = None,
    tie_break: Annotated[str, _opt("tie_break", "--tie-break")] = "first",
    early_stop: Annotated[bool, _opt("early_stop", "--early-stop")] = False,
    oracle: Annotated[bool | None, _opt("oracle", "--oracle/--no-oracle")] = None,
    prune: Annotated[bool, _opt("prune", "--prune")] = False,
    chunk_size: Annotated[int, _opt("chunk_size", "--chunk-size", min=1)] = 64,
    unsafe_sandbox: Annotated[bool, _opt("unsafe_sandbox", "--unsafe-sandbox")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the response cache.")] = False,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Response cache folder.")] = None,
    concurrency: ConcurrencyOpt = 32,
    timeout: TimeoutOpt = 120.0,
    max_retries: MaxRetriesOpt = 6,
) -> None:
    """Evaluate a model with direct prompting (io) or hypothesis search on one or more suites."""
    cfg = EvalConfig(
        model=model, adapters=list(adapter or []), suites=split_list(suite), data=data, split=split,
        answer_type=answer_type,
        method=method, hypotheses=hypotheses, rule_temperature=rule_temperature,
        apply_temperature=apply_temperature, io_temperature=io_temperature, follower=follower,
        max_tokens=max_tokens, limit=limit, prompts=prompts, strict=strict, seed=seed, tie_break=tie_break,
        early_stop=early_stop, oracle=oracle, prune=prune, chunk_size=chunk_size, unsafe_sandbox=unsafe_sandbox,
    )
    suites = prepare(cfg, out)  # bad settings and data fail before a model is loaded
    from redistill.cli.options import api_options, cache_choice
    from redistill.llm import factory
    from redistill.llm.usage import cost_fn_for

    backend = factory.make_backend(model, adapter=cfg.adapters or None, cache=cache_choice(cache_dir, no_cache),
                                   **api_options(model, concurrency, timeout, max_retries))
    summaries = run_eval(cfg, out, backend, cost_fn=cost_fn_for(model), console=console, suites=suites)
    from redistill.llm.usage import write_ledger

    write_ledger(backend, out)
    console.print(summary_table(summaries, title=f"{label_of(cfg.to_json())} -> {out}"))
    failed = {s: v for s, v in summaries.items() if v.get("failed")}
    if failed:
        from redistill.cli.augment import report_failures
        from redistill.failures import FailureLog

        report_failures(sum(v["failed"] for v in failed.values()), [FailureLog(v["failures_file"]) for v in failed.values()])
