"""Metrics from saved result rows only: nothing here calls a model.

- accuracy over unseen examples (the paper's metric) and task accuracy (all unseen right);
- per ACRE query type; normal and strict scoring (the chosen rule's saved answers re-judged);
- oracle ceiling: the best of the task's rules on the unseen examples (needs ``--oracle`` traces);
- the accuracy-vs-H curve: the search re-run on the first h samples of the saved traces.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from redistill.errors import RedistillError
from redistill.search.scoring import select_best
from redistill.search.types import Hypothesis, ScoredRule
from redistill.tasks.answers import get_answer_type


def rejudge(row: dict, strict: bool) -> list[bool]:
    """The row's saved final answers checked again in normal or strict mode."""
    checker = get_answer_type(row["answer_type"])
    return [checker.check(p["response"], p["gold"], strict=strict).correct for p in row["predictions"]]


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _accuracies(verdicts: list[list[bool]]) -> dict[str, float | None]:
    scored = [v for v in verdicts if v]
    return {
        "accuracy": _ratio(sum(sum(v) for v in scored), sum(len(v) for v in scored)),
        "task_accuracy": _ratio(sum(all(v) for v in scored), len(scored)),
    }


def _oracle(rows: list[dict]) -> dict[str, float | None]:
    """Best-of-H: per task the rule with the most unseen examples right; None without oracle traces."""
    search = [r for r in rows if r.get("rules") and r["predictions"]]
    if not search or any("unseen" not in rule for r in search for rule in r["rules"]):
        return {"oracle_accuracy": None, "oracle_task_accuracy": None}
    best = [max(sum(bool(a["correct"]) for a in rule["unseen"]) for rule in r["rules"]) for r in search]
    examples = sum(len(r["predictions"]) for r in search)
    perfect = sum(b == len(r["predictions"]) for b, r in zip(best, search))
    return {"oracle_accuracy": _ratio(sum(best), examples), "oracle_task_accuracy": _ratio(perfect, len(search))}


def summarize(rows: list[dict]) -> dict[str, Any]:
    """Per-suite summary of result rows (one suite's rows)."""
    by_type: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        for p, ok in zip(r["predictions"], r["correct"]):
            if p.get("type"):
                by_type[p["type"]].append(ok)
    usage = [r.get("usage") or {} for r in rows]
    costs = [u.get("cost_usd", u.get("cost")) for u in usage]  # "cost": rows written before the rename
    search = [r for r in rows if r.get("rules")]
    out: dict[str, Any] = {
        "tasks": len(rows),
        "examples": sum(len(r["correct"]) for r in rows),
        **_accuracies([r["correct"] for r in rows]),
        "scoring": "strict" if rows and rows[0].get("strict") else "normal",
        "normal": _accuracies([rejudge(r, False) for r in rows]),
        "strict": _accuracies([rejudge(r, True) for r in rows]),
        "by_query_type": {t: _ratio(sum(v), len(v)) for t, v in sorted(by_type.items())},
        **_oracle(rows),
        "mean_unique_rules": _ratio(sum(len(r["rules"]) for r in search), len(search)),
        "perfect_rule_rate": _ratio(sum(any(x["score"] == r["seen"] for x in r["rules"]) for r in search), len(search)),
        "calls": sum(u.get("calls", 0) for u in usage),
        "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage),
        "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage),
        "cost_usd": round(sum(costs), 6) if costs and all(c is not None for c in costs) else None,
        "wall_s": round(sum(r.get("wall_s", 0.0) for r in rows), 3),
    }
    return out


def accuracy_vs_h(rows: list[dict], tie_break: str = "first") -> list[dict[str, float]]:
    """Accuracy and task accuracy had the search drawn only the first h samples, for h = 1..H.

    Uses the saved scores and every rule's saved unseen answers: an evaluation run with ``--oracle``.
    """
    search = [r for r in rows if r.get("rules")]
    if not search:
        return []
    if any("unseen" not in rule for r in search for rule in r["rules"]):
        raise RedistillError(
            "the accuracy-vs-H curve needs every rule's answers on the unseen examples: "
            "re-run `redistill eval --method search --oracle` into a new --out folder"
        )
    H = max(sum(rule["count"] for rule in r["rules"]) for r in search)
    curve = []
    for h in range(1, H + 1):
        verdicts = []
        for r in search:
            rules = [ScoredRule(Hypothesis(x["rule"]), x["score"], x["count"], x["first_index"]) for x in r["rules"]]
            drawn = [(s, x) for s, x in zip(rules, r["rules"]) if x["first_index"] < h]
            best = select_best([s for s, _ in drawn], tie_break)
            unseen = next(x["unseen"] for s, x in drawn if s is best)
            verdicts.append([bool(a["correct"]) for a in unseen])
        curve.append({"h": h, **_accuracies(verdicts)})
    return curve
