"""The library teacher: a zero-cost, offline rule proposer whose hypotheses carry honest scores.

For each task it enumerates the family's rule library (parameters fitted to the seen examples),
scores every rule on the seen examples and returns the best ``n`` (ties kept in library order, so
the answer is deterministic), near misses included.
"""

from __future__ import annotations

from redistill.search.types import Hypothesis, Proposal
from redistill.tasks.generators import get_family
from redistill.tasks.generators.library import Rule
from redistill.tasks.model import Task


def score_rule(family, rule: Rule, task: Task) -> int:
    """How many seen examples the rule reproduces exactly."""
    return sum(family.apply(rule, e.input) == e.output for e in task.train)


def ranked_rules(task: Task) -> list[tuple[Rule, int]]:
    """Every candidate library rule of the task with its seen score, best first (stable)."""
    family = get_family(task.suite)
    scored = [(rule, score_rule(family, rule, task)) for rule in family.candidates(task)]
    return sorted(scored, key=lambda rs: -rs[1])


def hypothesis(rule: Rule, score: int | None = None) -> Hypothesis:
    meta = {"library": rule.name, "params": dict(rule.params)}
    if score is not None:
        meta["score"] = score
    return Hypothesis(text=rule.text, program=rule.program, meta=meta)


class LibraryTeacher:
    """``RuleProposer`` over the rule library; ``propose(tasks, n)`` gives each task its top ``n`` rules."""

    name = "library"

    def propose(self, tasks: list[Task], n: int) -> list[Proposal]:
        return [Proposal([hypothesis(rule, score) for rule, score in ranked_rules(t)[:n]]) for t in tasks]


def solves(task: Task) -> bool:
    """Whether the library teacher's best rule reproduces every seen and unseen example."""
    family = get_family(task.suite)
    ranked = ranked_rules(task)
    if not ranked or ranked[0][1] < len(task.train):
        return False
    best = ranked[0][0]
    return all(family.apply(best, e.input) == e.output for e in task.test)
