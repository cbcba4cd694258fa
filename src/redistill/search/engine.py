"""Hypothesis search, batched by stage rather than by task.

1. rule generation: every task's H samples in one proposer call (or, with early stop, in rounds);
2. rule application on the seen examples: every unique (rule, example) pair of every task in one
   follower batch (``search.scoring``), then selection with the tie-break; with ``prune``, a few
   rounds of examples that drop rules which can no longer be chosen (``search.pruning``);
3. final application: the chosen rule of every task on its unseen inputs in one batch (with
   ``oracle``, every unique rule, which also gives the best-of-H ceiling and the accuracy-vs-H curve).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redistill.errors import RedistillError
from redistill.search.followers import check_python_suite
from redistill.search.pruning import score_rules_pruned
from redistill.search.results import MeteredFollower, TaskMeter, task_row
from redistill.search.scoring import apply_rules, dedupe, score_rules, select_best, task_failure
from redistill.search.types import Application, RuleFollower, RuleProposer, ScoredRule
from redistill.tasks.model import Task

StageFn = Callable[[str, int], None]
"""Called before each stage with its name and number of requests (drives progress display)."""


def _check_follower(follower: RuleFollower, tasks: list[Task]) -> None:
    if follower.name == "python":
        for t in tasks:
            check_python_suite(t.suite, t.answer_type)


def _sample_and_score(
    tasks: list[Task], proposer: RuleProposer, scorer: MeteredFollower, H: int, early_stop: bool,
    round_size: int | None, strict: bool, meter: TaskMeter, on_stage: StageFn | None,
    prune: bool = False, tie_break: str = "first",
) -> tuple[list[list[ScoredRule]], dict[str, Any], dict[int, dict[str, str]]]:
    """Unique scored rules per task (first-seen order), each task's rule-generation prompt, and the
    tasks (by index) whose rule request failed for good: they stop sampling and score nothing."""
    failed: dict[int, dict[str, str]] = {}
    by_text: list[dict[str, ScoredRule]] = [{} for _ in tasks]
    sampled = [0] * len(tasks)
    prompts: dict[str, Any] = {}
    size = max(1, round_size or max(1, H // 5)) if early_stop else H
    active = list(range(len(tasks)))
    while active:
        k = min(size, H - sampled[active[0]])  # active tasks have all sampled the same number
        if on_stage:
            on_stage("generate rules", len(active))
        proposals = proposer.propose([tasks[i] for i in active], k)
        new: list[list[ScoredRule]] = []
        for i, p in zip(active, proposals):
            meter.add(tasks[i].key, p.usage, p.calls)
            if p.prompt is not None:
                prompts[tasks[i].key] = p.prompt
            if p.error is not None:
                failed[i] = {"stage": "generate rules", "reason": p.error}
                new.append([])
                sampled[i] = H
                continue
            new.append(dedupe(p.hypotheses, sampled[i], by_text[i]))
            sampled[i] += k
        if prune:
            score_rules_pruned([tasks[i] for i in active], new, scorer, strict, tie_break)
        else:
            score_rules([tasks[i] for i in active], new, scorer, strict)
        active = [
            i for i in active
            if i not in failed and sampled[i] < H and not (early_stop and any(r.score == len(tasks[i].train) for r in by_text[i].values()))
        ]
    return [list(d.values()) for d in by_text], prompts, failed


def run_search(
    tasks: list[Task],
    proposer: RuleProposer,
    follower: RuleFollower,
    H: int = 10,
    tie_break: str = "first",
    early_stop: bool = False,
    strict: bool = False,
    oracle: bool = False,
    round_size: int | None = None,
    on_stage: StageFn | None = None,
    prune: bool = False,
) -> list[dict[str, Any]]:
    """Search every task; one result row per task (see ``search.results.task_row``).

    ``follower`` scores rules on the seen examples and applies the chosen rule to the unseen inputs.
    With ``oracle`` every unique rule is applied to the unseen inputs.
    With ``prune`` rules are scored in rounds of seen examples and each stops once it can no longer
    be chosen (``search.pruning``): the same choice, fewer applications, partial scores for the rest.
    A task with a model call that failed for good gets ``row["error"] = {"stage", "reason"}``.
    """
    if H < 1:
        raise RedistillError(f"--hypotheses must be at least 1 (got {H})")
    if tie_break not in ("first", "reference"):
        raise RedistillError(f"unknown tie-break {tie_break!r}; choose 'first' or 'reference'")
    if prune and oracle:
        raise RedistillError("--prune and --oracle exclude each other: the oracle's accuracy-vs-H curve needs "
                             "every rule's full score; drop one of them")
    _check_follower(follower, tasks)
    meter = TaskMeter()
    scorer = MeteredFollower(follower, meter, "apply rules to seen", on_stage)
    final = MeteredFollower(follower, meter, "apply rules to unseen", on_stage)
    rules, prompts, failed = _sample_and_score(tasks, proposer, scorer, H, early_stop, round_size, strict, meter,
                                               on_stage, prune, tie_break)
    for i, task_rules in enumerate(rules):
        if i not in failed and (f := task_failure(task_rules)):
            failed[i] = f  # a failed application: the task's scores are incomplete, do not apply its rule
    chosen = [select_best(r, tie_break) if i not in failed else None for i, r in enumerate(rules)]

    targets = [(r if oracle else [c]) if c is not None else [] for r, c in zip(rules, chosen)]
    items = [(t, rule.hypothesis, ex) for t, rs in zip(tasks, targets) for rule in rs for ex in t.test]
    apps = iter(apply_rules(final, items, strict))
    unseen: dict[int, list[Application]] = {}
    for t, rs in zip(tasks, targets):
        for rule in rs:
            unseen[id(rule)] = [next(apps) for _ in t.test]

    rows = []
    for i, (t, task_rules, best) in enumerate(zip(tasks, rules, chosen)):
        rule_rows = []
        for r in task_rules:
            d = r.to_json()
            if oracle:
                d["unseen"] = [a.to_json() for a in unseen[id(r)]]
            rule_rows.append(d)
        preds = unseen[id(best)] if best is not None else [_no_rule(ex) for ex in t.test]
        idx = next((i for i, r in enumerate(task_rules) if r is best), None)
        row = task_row(t, "search", preds, meter.row(t.key), strict, rule_rows, idx, prompts.get(t.key))
        failure = failed.get(i) or task_failure([], [a for r in targets[i] for a in unseen[id(r)]])
        if failure:
            row["error"] = failure  # not a result: the runner records it as a failure and retries it
        rows.append(row)
    return rows


def _no_rule(example) -> Application:
    return Application(example.input, example.output, "error: no rule was proposed", None, False)
