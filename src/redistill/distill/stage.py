"""The augment stage as one call, shared by ``redistill augment`` and ``redistill run``: the teacher built
once, every suite augmented into ``RUN_DIR/augment/<suite>.jsonl`` (``run_augment``), and what the server
counted written beside them (``usage.<suite>.json`` per suite, ``usage.json`` for the whole call)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redistill.distill.aside import set_aside_file
from redistill.distill.augment import AugmentConfig, AugmentParams, AugmentResult, run_augment
from redistill.jsonl import write_json
from redistill.prompts import Prompts
from redistill.search.types import RuleFollower, RuleProposer
from redistill.tasks.model import Task


def make_teacher(
    spec: str, params: AugmentParams, prompts: Prompts, unsafe_sandbox: bool = False, **backend_options: Any
) -> tuple[RuleProposer, RuleFollower, Any]:
    """The teacher a spec names, as ``(proposer, follower, backend or None)``.

    ``library`` is the offline rule library with exact followers; any other spec is a model backend
    that proposes rules (as programs when the follower is ``python``) and, with the ``llm`` follower,
    applies them at the apply temperature. The python follower needs bubblewrap (checked here, before
    any spend) unless ``unsafe_sandbox``.
    """
    from redistill.search.followers import make_follower
    from redistill.search.sandbox import require_sandbox

    kw: dict[str, Any] = {}
    if params.follower == "python":
        require_sandbox(unsafe_sandbox)
        kw = {"unsafe_sandbox": unsafe_sandbox}
    if spec == "library":
        from redistill.tasks.generators.teacher import LibraryTeacher

        return LibraryTeacher(), make_follower(params.follower, **kw), None
    from redistill.llm.factory import make_backend
    from redistill.search.proposers import ModelProposer

    backend = make_backend(spec, **backend_options)
    # the python follower runs programs: ask for them with the program prompt (what rule_prompt records)
    proposer = ModelProposer(backend, prompts, params.rule_temperature, params.max_tokens,
                             program=params.follower == "python")
    if params.follower == "llm":
        kw = {"temperature": params.apply_temperature, "max_tokens": params.max_tokens}
    return proposer, make_follower(params.follower, backend, prompts, **kw), backend


@dataclass
class SuiteAugment:
    """One suite's outcome: its file, what ``run_augment`` did, and the server's counts (None: no model)."""

    path: Path
    result: AugmentResult
    usage: dict | None

    def summary(self) -> str:
        r, u = self.result, self.usage
        failed = f", {r.failed} failed" if r.failed else ""
        if u is None:
            calls = "no model calls"
        else:
            extra = [f"{u[k]} {k.replace('_', ' ')}" for k in ("retries", "errors", "cache_hits") if u[k]]
            calls = f"{u['calls']} calls" + (f" ({', '.join(extra)})" if extra else "")
        return (f"{self.path.stem}: {r.done} tasks done{failed}, {r.skipped} already on disk, {r.remaining} left; "
                f"{calls}, {r.usage.prompt_tokens + r.usage.completion_tokens:,} tokens, ${r.cost_usd:.2f} -> "
                f"{self.path}")


def augment_suites(cfg: AugmentConfig, teacher: str, suites: dict[str, list[Task]], run_dir: str | Path,
                   prompts: Prompts, unsafe_sandbox: bool = False, prices: dict | None = None,
                   on_suite: Callable[[SuiteAugment], None] | None = None, exact: bool = False,
                   **backend_options: Any) -> list[SuiteAugment]:
    """Augment every suite with one teacher (``on_suite`` is told as each finishes); stops after a suite
    that reached ``cfg.budget_usd``.

    ``exact``: ``suites`` is the run's whole task set, so lines of other tasks and the files of other
    suites are set aside (``distill.aside``) rather than built into its data.

    ``prices`` (USD per 1M tokens by model) go over the built-in table for the records and the ledger
    alike; ``backend_options`` reach ``make_backend`` (api options, cache, poll_s).
    """
    from redistill.llm.usage import cost_fn_for

    run_dir = Path(run_dir)
    params = cfg.for_teacher(teacher)
    cost_fn = cost_fn_for(teacher, prices)
    if prices and teacher.startswith("openai:"):
        backend_options["prices"] = prices
    if cfg.batch:
        from redistill.distill.batch import batch_cost, batch_options

        backend_options.update(batch_options(teacher, run_dir))
        cost_fn = batch_cost(cost_fn)
    proposer, follower, backend = make_teacher(teacher, params, prompts, unsafe_sandbox, **backend_options)
    ledger = getattr(backend, "ledger", None)
    paths = {name: run_dir / "augment" / f"{tasks[0].suite if tasks else name}.jsonl" for name, tasks in suites.items()}
    if exact:
        for path in sorted((run_dir / "augment").glob("*.jsonl")):
            if path not in paths.values():
                set_aside_file(path)
    out = []
    for name, tasks in suites.items():
        path = paths[name]
        before = ledger.to_json() if ledger is not None else None
        chunk = max(1, len(tasks)) if cfg.batch else cfg.chunk_size  # batch: every task in one chunk, one batch a stage
        r = run_augment(tasks, proposer, follower, path, teacher, params, chunk, cfg.budget_usd, cost_fn,
                        progress=True, prompts=prompts, exact=exact)
        spent = _delta(before, ledger.to_json()) if ledger is not None else None
        if spent is not None:  # this suite's share of the backend's ledger: what the server saw
            write_json(path.parent / f"usage.{path.stem}.json", spent)
        out.append(SuiteAugment(path, r, spent))
        if on_suite is not None:
            on_suite(out[-1])
        if r.stopped_for_budget:
            break
    if ledger is not None:
        ledger.write(run_dir / "augment")
    return out


def _delta(before: dict, after: dict) -> dict:
    """What a ledger counted between two snapshots (the counts of one suite)."""
    out = {k: (round(v - before[k], 6) if isinstance(v, float) else v - before[k])
           for k, v in after.items() if isinstance(v, (int, float))}
    return out | {"notes": after.get("notes", [])}
