"""Score rules in rounds of seen examples, dropping each rule once it can no longer be chosen.

After a round a rule has ``hits`` and ``left`` unscored examples, so its final score lies in
``[hits, hits + left]``. It is dropped when another rule already has more hits than it can reach,
or exactly as many and wins the tie (the tie-break's order: sampled first, or the reference code's
reverse-sorted text). The rule ``select_best`` picks from the full scores is never dropped, and every
dropped rule ends with a partial score below it, so the choice is the one full scoring makes.

Rounds: first ``n // 2 + 1`` examples (no rule can be dropped before a majority is scored), then the
rest in halves, so a task of 8 seen examples takes 3 rounds (5, 2, 1) and 14 takes 4 (8, 3, 2, 1).
"""

from __future__ import annotations

from redistill.search.scoring import apply_rules
from redistill.search.types import RuleFollower, ScoredRule
from redistill.tasks.model import Task


def rounds(n: int) -> list[int]:
    """How many examples each round scores, for ``n`` seen examples."""
    if n <= 0:
        return []
    out = [min(n, n // 2 + 1)]
    rest = n - out[0]
    while rest:
        step = max(1, (rest + 1) // 2)
        out.append(step)
        rest -= step
    return out


def tie_order(rules: list[ScoredRule], tie_break: str) -> dict[int, int]:
    """Rank of each rule (by ``id``) in the tie-break: a lower rank wins a tie."""
    if tie_break == "reference":
        ordered = sorted(rules, key=lambda r: r.hypothesis.text, reverse=True)
    else:
        ordered = sorted(rules, key=lambda r: r.first_index)
    return {id(r): i for i, r in enumerate(ordered)}


def alive(rules: list[ScoredRule], left: int, tie_break: str) -> list[ScoredRule]:
    """The rules that can still be chosen when each has ``left`` examples to go (same for all)."""
    if not rules or left <= 0:
        return rules
    rank = tie_order(rules, tie_break)
    top = max(r.score for r in rules)
    first_top = min(rank[id(r)] for r in rules if r.score == top)
    return [r for r in rules if r.score + left > top or (r.score + left == top and rank[id(r)] <= first_top)]


def score_rules_pruned(tasks: list[Task], rules: list[list[ScoredRule]], follower: RuleFollower,
                       strict: bool = False, tie_break: str = "first") -> int:
    """Like ``score_rules`` but in rounds, one follower batch per round across all tasks; rules dropped
    early get ``pruned = True`` and a partial score. Returns how many applications were skipped."""
    for task_rules in rules:
        for r in task_rules:
            r.applications, r.score, r.pruned = [], 0, False
    plans = [rounds(len(t.train)) for t in tasks]
    live = [list(rs) for rs in rules]
    done = [0] * len(tasks)
    skipped = 0
    step = 0
    while any(step < len(p) for p in plans):
        items, owners = [], []
        for ti, (task, plan) in enumerate(zip(tasks, plans)):
            if step >= len(plan):
                continue
            block = task.train[done[ti]: done[ti] + plan[step]]
            for rule in live[ti]:
                for ex in block:
                    items.append((task, rule.hypothesis, ex))
                    owners.append(rule)
        for rule, app in zip(owners, apply_rules(follower, items, strict)):
            rule.applications.append(app)
            rule.score += int(bool(app.correct))
        for ti, (task, plan) in enumerate(zip(tasks, plans)):
            if step >= len(plan):
                continue
            done[ti] += plan[step]
            left = len(task.train) - done[ti]
            keep = alive(live[ti], left, tie_break)
            kept = {id(r) for r in keep}
            for r in live[ti]:
                if id(r) not in kept:
                    r.pruned = True
                    skipped += left
            live[ti] = keep
        step += 1
    return skipped
