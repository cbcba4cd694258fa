"""The augment stage: a teacher proposes rules for each task, each rule is scored on the seen examples.

One line per finished task is appended to ``RUN_DIR/augment/<suite>.jsonl``::

    {"task_id", "suite", "answer_type", "seen_sha256", "teacher": SPEC,
     "params": {"hypotheses", "rule_temperature", "apply_temperature", "follower", "max_tokens", "strict"},
     "prompt": MESSAGES, "n_seen", "rules": [ScoredRule.to_json() ...],
     "usage": {"calls", "prompt_tokens", "completion_tokens", "cost_usd"}}

Tasks go through ``propose_and_score`` a chunk at a time (one batch per stage inside a chunk), so a
kill loses at most the chunk in flight, and with the response cache even that costs nothing again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from redistill.config import StageConfig
from redistill.distill.aside import seen_hash, sort_lines
from redistill.errors import RedistillError, located
from redistill.failures import FailureLog, failures_path
from redistill.jsonl import JsonlAppender, read_jsonl_repairing, write_jsonl
from redistill.llm.types import Usage
from redistill.locks import stage_lock
from redistill.manifest import difference
from redistill.prompts import Prompts, apply_rule_messages, generate_program_messages, generate_rule_messages
from redistill.search.results import TaskMeter
from redistill.search.scoring import propose_and_score, task_failure
from redistill.search.types import FollowerName, RuleFollower, RuleProposer, ScoredRule
from redistill.tasks.model import Task, format_value

CostFn = Callable[[Usage], float]
"""Dollars for a usage (input and output tokens), e.g. from the backend's price table."""


class AugmentParams(StageConfig):
    """What shapes the teacher data: recorded in every line, and lines made with other values are never
    mixed into one file. Defaults: the paper's."""

    hypotheses: int = Field(50, ge=1, description="Rules sampled per task (the paper: 50).")
    rule_temperature: float = Field(1.0, ge=0, description="Sampling temperature of the rules.")
    apply_temperature: float = Field(0.7, ge=0, description="Temperature of rule application.")
    follower: FollowerName = Field("llm", description="Who scores the rules: llm (the teacher applies each rule) | "
                               "python (rules are programs, executed) | library (exact interpreters).")
    max_tokens: int = Field(512, ge=1, description="Token limit per completion.")
    strict: bool = Field(False, description="Score with the published exact comparison instead of tolerant parsing.")

    def params_json(self) -> dict[str, Any]:
        """The recorded part (a line's ``params``)."""
        return self.model_dump(include=set(AugmentParams.model_fields))


class AugmentConfig(AugmentParams):
    """The augment stage: the recorded parameters plus how the stage runs (may change between runs)."""

    budget_usd: float | None = Field(None, ge=0, description="Stop before this run's spend would cross X USD.")
    chunk_size: int = Field(16, ge=1, description="Tasks per batch (a kill loses at most one chunk).")
    batch: bool = Field(False, description="Send the teacher's calls through OpenAI's Batch API: half price, answers "
                        "within 24 h; a re-run resumes by polling (state in RUN_DIR/augment/batches/).")

    def for_teacher(self, teacher: str) -> AugmentConfig:
        """The settings the teacher runs with: the library teacher's rules are applied exactly, at no cost,
        so its ``llm`` follower (the default) is the library's interpreters."""
        if teacher == "library" and self.follower == "llm":
            return self.model_copy(update={"follower": "library"})
        return self


@dataclass
class AugmentResult:
    done: int = 0
    """Tasks finished by this run."""
    skipped: int = 0
    """Tasks already in the file (resume)."""
    remaining: int = 0
    """Tasks left undone (budget stop)."""
    failed: int = 0
    """Tasks of this run with a model call that failed for good: in the failures file, not the data."""
    failures: FailureLog | None = None
    """Every unfinished task's failure (this run's and earlier ones not retried)."""
    stopped_for_budget: bool = False
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0


@dataclass
class AugmentEstimate:
    """A dry run: what augmenting these tasks would take, before paying for it."""

    tasks: int
    rule_requests: int
    """One request with ``n = hypotheses`` per task."""
    apply_requests: int
    """Assuming every sampled rule is unique: hypotheses x seen examples per task (0 for exact followers)."""
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @property
    def calls(self) -> int:
        return self.rule_requests + self.apply_requests


def rule_prompt(prompts: Prompts, task: Task, follower: str) -> list[dict[str, str]]:
    """The rule-generation prompt recorded with the task (the program prompt for the python follower)."""
    p = prompts.for_suite(task.suite, task.answer_type)
    return generate_program_messages(p, task) if follower == "python" else generate_rule_messages(p, task)


def _tokens(text: str, chars_per_token: float) -> int:
    return max(1, round(len(text) / chars_per_token))


def estimate_augment(
    tasks: list[Task],
    params: AugmentParams,
    prompts: Prompts | None = None,
    cost_fn: CostFn | None = None,
    rule_tokens: int = 80,
    chars_per_token: float = 4.0,
) -> AugmentEstimate:
    """Count the calls and estimate tokens and cost: prompts by their length, a rule as ``rule_tokens``,
    an application's answer as long as the gold output (plus a little)."""
    prompts = prompts or Prompts()
    h = params.hypotheses
    apply_requests = prompt_tokens = completion_tokens = 0
    placeholder_rule = "x" * int(rule_tokens * chars_per_token)
    for task in tasks:
        gen = rule_prompt(prompts, task, params.follower)
        prompt_tokens += _tokens(gen[-1]["content"], chars_per_token)  # an n-request pays its prompt once
        completion_tokens += h * rule_tokens
        if params.follower != "llm":
            continue
        p = prompts.for_suite(task.suite, task.answer_type)
        for ex in task.train:
            msg = apply_rule_messages(p, placeholder_rule, ex.input)[-1]["content"]
            apply_requests += h
            prompt_tokens += h * _tokens(msg, chars_per_token)
            completion_tokens += h * (_tokens(format_value(ex.output), chars_per_token) + 4)
    cost = cost_fn(Usage(prompt_tokens, completion_tokens)) if cost_fn else None
    return AugmentEstimate(len(tasks), len(tasks), apply_requests, prompt_tokens, completion_tokens, cost)


def check_lines(path: Path, rows: list[dict], teacher_spec: str, params: AugmentParams) -> None:
    """Refuse a file whose lines came from another teacher or other sampling parameters."""
    want = params.params_json()
    for i, row in enumerate(rows, 1):  # each line records its identity: teacher and params
        key = difference(row, {"teacher": teacher_spec, "params": want})
        if key == "teacher":
            raise located(path, i, "teacher", f"this file was made by teacher {row.get('teacher')!r}, not "
                          f"{teacher_spec!r}; use another --out run folder, or the same --teacher to resume")
        got = row.get("params")
        if key == "params":
            diff = ", ".join(f"{k}={(got or {}).get(k)!r} (now {v!r})" for k, v in want.items()
                             if not isinstance(got, dict) or got.get(k) != v)
            raise located(path, i, "params", f"made with other parameters: {diff}; use another --out run "
                          "folder, or the same parameters to resume")


def task_record(task: Task, rules: list[ScoredRule], teacher_spec: str, params: AugmentParams,
                prompt: list[dict[str, str]], usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "suite": task.suite,
        "answer_type": task.answer_type,
        "seen_sha256": seen_hash(task),
        "teacher": teacher_spec,
        "params": params.params_json(),
        "prompt": prompt,
        "n_seen": len(task.train),
        "rules": [r.to_json() for r in rules],
        "usage": usage,
    }


def _usage_json(row: dict[str, int], cost_fn: CostFn | None) -> dict[str, Any]:
    """A task's ``usage`` field: its own calls and tokens (``TaskMeter.row``) and their cost."""
    u = Usage(row["prompt_tokens"], row["completion_tokens"])
    return {"calls": row["calls"], "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "cost_usd": round(cost_fn(u), 8) if cost_fn else 0.0}


def run_augment(
    tasks: list[Task],
    proposer: RuleProposer,
    follower: RuleFollower,
    out_path: str | Path,
    teacher_spec: str,
    params: AugmentParams,
    chunk_size: int = 16,
    budget_usd: float | None = None,
    cost_fn: CostFn | None = None,
    progress: bool = True,
    prompts: Prompts | None = None,
    exact: bool = False,
) -> AugmentResult:
    """Augment ``tasks`` into ``out_path``, skipping finished ones; stop before ``budget_usd`` of new spend.

    A line whose task now has other seen examples is set aside (``distill.aside``) and the task done
    again; with ``exact`` so are the lines of tasks not in ``tasks``.

    The budget counts this invocation's spend. The cost of a task is estimated from the finished ones
    (in the file or this run); before any has finished, one task is run alone to measure it.

    A task with a model call that failed for good (after the backend's retries) is not written: it goes
    to ``<suite>.failures.json`` beside ``out_path`` (task, stage, reason) and is retried by the next run.
    """
    if chunk_size < 1:
        raise RedistillError(f"chunk size must be at least 1, got {chunk_size}")
    if budget_usd is not None and budget_usd < 0:
        raise RedistillError(f"budget must be 0 USD or more, got {budget_usd}")
    out_path = Path(out_path)
    # one writer per suite file: a second augment here would pay every call twice
    with stage_lock(out_path.parent, f"augment-{out_path.stem}", f"augment of {out_path.name}"):
        return _augment(tasks, proposer, follower, out_path, teacher_spec, params, chunk_size, budget_usd,
                        cost_fn, progress, prompts, exact)


def _augment(tasks: list[Task], proposer: RuleProposer, follower: RuleFollower, out_path: Path, teacher_spec: str,
             params: AugmentParams, chunk_size: int, budget_usd: float | None, cost_fn: CostFn | None,
             progress: bool, prompts: Prompts | None, exact: bool) -> AugmentResult:
    prompts = prompts or getattr(proposer, "prompts", None) or Prompts()
    existing = _drop_duplicates(out_path, read_jsonl_repairing(out_path))
    check_lines(out_path, existing, teacher_spec, params)
    identity = {"teacher": teacher_spec, "params": params.params_json()}
    existing = sort_lines(out_path, existing, tasks, exact, lambda row: difference(row, identity) is None,
                          lambda task: rule_prompt(prompts, task, params.follower))
    finished = {(str(r.get("suite")), str(r.get("task_id"))) for r in existing}
    todo = [t for t in tasks if (t.suite, str(t.id)) not in finished]
    result = AugmentResult(skipped=len(tasks) - len(todo))
    costs = [float(r.get("usage", {}).get("cost_usd") or 0.0) for r in existing]

    result.failures = log = FailureLog(failures_path(out_path.parent, out_path.stem))
    for suite, task_id in finished:
        log.clear(suite, task_id)
    ledger = getattr(getattr(proposer, "backend", None), "ledger", None)
    bar = _Bar(len(tasks), result.skipped, enabled=progress, ledger=ledger)
    with bar, JsonlAppender(out_path) as out:
        i = 0
        while i < len(todo):
            size = min(chunk_size, len(todo) - i)
            if budget_usd is not None:
                per_task = sum(costs) / len(costs) if costs else None
                if per_task is None:
                    size = 1  # measure one task before committing to a whole chunk
                elif per_task > 0:
                    size = min(size, int((budget_usd - result.cost_usd) // per_task))
                if result.cost_usd >= budget_usd or size < 1:
                    result.stopped_for_budget = True
                    break
            chunk = todo[i : i + size]
            meter = TaskMeter()
            rules = propose_and_score(chunk, proposer, follower, params.hypotheses, params.strict, meter)
            for task, task_rules in zip(chunk, rules):
                rec = task_record(task, task_rules, teacher_spec, params, rule_prompt(prompts, task, params.follower),
                                  _usage_json(meter.row(task.key), cost_fn))
                u = rec["usage"]
                result.calls += u["calls"]
                result.usage = result.usage + Usage(u["prompt_tokens"], u["completion_tokens"])
                result.cost_usd += u["cost_usd"]
                failure = task_failure(task_rules)
                if failure is not None:  # an outage is not data: record it, retry it next run
                    log.record(task.suite, task.id, failure["stage"], failure["reason"])
                    result.failed += 1
                    continue
                if getattr(follower, "unsafe_sandbox", False):
                    rec["unsafe_sandbox"] = True  # its programs ran without bubblewrap: say so in the data
                out.write(rec)
                log.clear(task.suite, task.id)
                result.done += 1
                costs.append(u["cost_usd"])
            log.save()
            i += size
            left = len(todo) - i
            bar.update(result, left * (sum(costs) / len(costs)) if costs else None)
    result.remaining = len(todo) - result.done - result.failed
    return result


def _drop_duplicates(path: Path, rows: list[dict]) -> list[dict]:
    """Keep the first line of each task: a file two processes appended to at once (before the lock) has
    every task twice, which build refuses. The file is rewritten, with a warning."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in rows:
        key = (str(r.get("suite")), str(r.get("task_id")))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    if len(unique) < len(rows):
        import warnings

        warnings.warn(f"{path}: dropped {len(rows) - len(unique)} duplicate task line(s) (two augments wrote here "
                      "at once); the first line of each task is kept", stacklevel=3)
        write_jsonl(path, unique)
    return unique


class _Bar:
    """Rich progress: tasks, calls, tokens, spend and an estimate of the spend still to come."""

    def __init__(self, total: int, already: int, enabled: bool, ledger: Any = None):
        self.enabled = enabled
        self.ledger, self.calls0 = ledger, ledger.calls if ledger is not None else 0
        if not enabled:
            return
        from redistill.progress import progress_bar

        self.progress = progress_bar("{task.fields[info]}")
        self.task = self.progress.add_task("augment", total=total, completed=already, info="")
        self.already = already

    def __enter__(self) -> _Bar:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def update(self, r: AugmentResult, remaining_usd: float | None) -> None:
        if not self.enabled:
            return
        tokens = r.usage.prompt_tokens + r.usage.completion_tokens
        rest = f" | ~${remaining_usd:.2f} to go" if remaining_usd is not None else ""
        calls = self.ledger.calls - self.calls0 if self.ledger is not None else r.calls  # what the server saw
        info = f"{calls} calls | {tokens:,} tokens | ${r.cost_usd:.2f}{rest}"
        self.progress.update(self.task, completed=self.already + r.done, info=info)
