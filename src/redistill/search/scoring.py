"""Score hypotheses on a task's seen examples: the one scoring path of augment and eval.

Identical rule texts (whitespace-normalised) within a task are applied once, and every
(rule, seen example) pair of every task goes to the follower as one batch.
"""

from __future__ import annotations

from redistill.search.results import MeteredFollower, TaskMeter
from redistill.search.types import (
    Application,
    ApplyRequest,
    Hypothesis,
    RuleFollower,
    RuleProposer,
    ScoredRule,
)
from redistill.tasks.answers import get_answer_type
from redistill.tasks.model import Example, Task


def normalise_rule(text: str) -> str:
    return " ".join(text.split())


def dedupe(hypotheses: list[Hypothesis], start: int = 0,
           known: dict[str, ScoredRule] | None = None) -> list[ScoredRule]:
    """Unique hypotheses (by whitespace-normalised text) in first-seen order, with how many samples
    produced each; sample slots count from ``start``. A text already in ``known`` (an earlier round's
    rules, by normalised text) only adds to that rule's count; ``known`` gains the new ones, returned."""
    known = {} if known is None else known
    fresh = []
    for slot, h in enumerate(hypotheses, start):
        key = normalise_rule(h.text)
        if key in known:
            known[key].count += 1
        else:
            known[key] = rule = ScoredRule(hypothesis=h, score=0, count=1, first_index=slot)
            fresh.append(rule)
    return fresh


def judge(task: Task, example: Example, response: str, prompt=None, strict: bool = False) -> Application:
    """Check one response against an example's gold output with the task's answer type."""
    verdict = get_answer_type(task.answer_type).check(response, example.output, strict=strict)
    return Application(example.input, example.output, response, verdict.parsed, verdict.correct, prompt)


def apply_rules(
    follower: RuleFollower, items: list[tuple[Task, Hypothesis, Example]], strict: bool = False
) -> list[Application]:
    """Apply many (task, rule, example) triples in one follower batch and judge each result."""
    requests = [ApplyRequest(task, hyp, ex.input) for task, hyp, ex in items]
    answers = follower.apply(requests) if requests else []
    apps = [judge(task, ex, a.response, a.prompt, strict) for (task, _, ex), a in zip(items, answers)]
    for app, a in zip(apps, answers):
        if a.error is not None:
            app.error, app.correct = a.error, None  # an outage is no verdict
    return apps


def score_rules(
    tasks: list[Task], rules: list[list[ScoredRule]], follower: RuleFollower, strict: bool = False
) -> None:
    """Fill ``applications`` and ``score`` of every rule with its results on its task's seen examples."""
    items, owners = [], []
    for task, task_rules in zip(tasks, rules):
        for rule in task_rules:
            for ex in task.train:
                items.append((task, rule.hypothesis, ex))
                owners.append(rule)
    for rule in {id(r): r for r in owners}.values():
        rule.applications, rule.score = [], 0
    for rule, app in zip(owners, apply_rules(follower, items, strict)):
        rule.applications.append(app)
        rule.score += int(bool(app.correct))


def task_failure(rules: list[ScoredRule], unseen: list[Application] = ()) -> dict[str, str] | None:
    """``{"stage", "reason"}`` of the first model call of a task that failed for good, or None.

    Such a task is not finished: it is recorded as a failure and retried on the next run, never
    written as data (augment) or scored as a wrong answer (eval)."""
    for r in rules:
        if r.hypothesis.meta.get("error"):
            return {"stage": "generate rules", "reason": str(r.hypothesis.meta["error"])}
    for r in rules:
        for a in r.applications:
            if a.error:
                return {"stage": "apply rules to seen", "reason": a.error}
    for a in unseen:
        if a.error:
            return {"stage": "apply rules to unseen", "reason": a.error}
    return None


def propose_and_score(
    tasks: list[Task], proposer: RuleProposer, follower: RuleFollower, n: int, strict: bool = False,
    meter: TaskMeter | None = None,
) -> list[list[ScoredRule]]:
    """Sample ``n`` hypotheses per task, dedupe them, score each unique one on the seen examples;
    with ``meter``, every call's usage is charged to its task.

    A task whose rule request failed keeps one unscored rule carrying the error (see ``task_failure``):
    its empty samples are not applied, so an outage costs no application calls."""
    proposals = proposer.propose(tasks, n)
    if meter is not None:
        for t, p in zip(tasks, proposals):
            meter.add(t.key, p.usage, p.calls)
        follower = MeteredFollower(follower, meter)
    rules = [dedupe(p.hypotheses) for p in proposals]
    ok = [i for i, p in enumerate(proposals) if p.error is None]
    score_rules([tasks[i] for i in ok], [rules[i] for i in ok], follower, strict)
    for i in set(range(len(tasks))) - set(ok):
        rules[i] = rules[i][:1]
    return rules


def select_best(rules: list[ScoredRule], tie_break: str = "first") -> ScoredRule | None:
    """Highest score; ties go to the rule sampled first, or with ``reference`` to the published code's
    choice (rules reverse-sorted by text, then the first of the highest score)."""
    if not rules:
        return None
    if tie_break == "reference":
        ordered = sorted(rules, key=lambda r: r.hypothesis.text, reverse=True)
        return max(ordered, key=lambda r: r.score)  # max keeps the first of equal scores
    if tie_break != "first":
        from redistill.errors import RedistillError

        raise RedistillError(f"unknown tie-break {tie_break!r}; choose 'first' or 'reference'")
    return min(rules, key=lambda r: (-r.score, r.first_index))
