"""What the built data looks like: statistics per suite, PNG plots, and the printed summary table."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table


@dataclass
class SuiteTally:
    tasks: int = 0
    scores: list[int] = field(default_factory=list)
    """Scores of all unique rules (empty for imported training sets, which lack them)."""
    chosen_scores: list[int] = field(default_factory=list)
    rejected_scores: list[int] = field(default_factory=list)
    rules_per_task: list[int] = field(default_factory=list)
    pairs_per_task: list[int] = field(default_factory=list)
    generation: int = 0
    application: int = 0
    rule_words: list[int] = field(default_factory=list)
    prompt_words: list[int] = field(default_factory=list)
    answer_words: list[int] = field(default_factory=list)


def _words(text: str) -> int:
    return len(text.split())


@dataclass
class Tally:
    suites: dict[str, SuiteTally] = field(default_factory=dict)

    def add_task(self, suite: str, scores: list[int] | None, generation: list[dict],
                 application: list[dict], preference: list[dict]) -> None:
        """Count one task: its unique rules' scores (None when unknown) and the rows it produced."""
        t = self.suites.setdefault(suite, SuiteTally())
        t.tasks += 1
        if scores is not None:
            t.scores += scores
            t.rules_per_task.append(len(scores))
        else:
            t.rules_per_task.append(len(generation))
        t.pairs_per_task.append(len(preference))
        t.generation += len(generation)
        for row in preference:
            if row.get("score_chosen") is not None:
                t.chosen_scores.append(row["score_chosen"])
                t.rejected_scores.append(row["score_rejected"])
        for row in generation:
            t.rule_words.append(_words(row["messages"][-1]["content"]))
            t.prompt_words.append(sum(_words(m["content"]) for m in row["messages"][:-1]))
        self.add_applications(suite, application)

    def add_applications(self, suite: str, rows: list[dict]) -> None:
        t = self.suites.setdefault(suite, SuiteTally())
        t.application += len(rows)
        t.answer_words += [_words(row["messages"][-1]["content"]) for row in rows]


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "mean": 0.0, "max": 0}
    return {"min": min(values), "mean": round(statistics.mean(values), 2), "max": max(values)}


def _hist(values: list[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(values).items())}


def _suite_stats(t: SuiteTally) -> dict[str, Any]:
    return {
        "tasks": t.tasks,
        "unique_rules": sum(t.rules_per_task),
        "rule_generation": t.generation,
        "rule_application": t.application,
        "preference": sum(t.pairs_per_task),
        "mean_score": round(statistics.mean(t.scores), 3) if t.scores else None,
        "score_histogram": {"all": _hist(t.scores), "chosen": _hist(t.chosen_scores),
                            "rejected": _hist(t.rejected_scores)},
        "rules_per_task": _summary(t.rules_per_task),
        "pairs_per_task": _summary(t.pairs_per_task),
        "tasks_without_pairs": sum(1 for n in t.pairs_per_task if n == 0),
        "length_words": {"rule": _summary(t.rule_words), "generation_prompt": _summary(t.prompt_words),
                         "application_answer": _summary(t.answer_words)},
    }


def _merged(tally: Tally) -> SuiteTally:
    out = SuiteTally()
    for t in tally.suites.values():
        for name, value in vars(t).items():
            setattr(out, name, getattr(out, name) + value)
    return out


def compute_stats(tally: Tally) -> dict[str, Any]:
    return {"suites": {s: _suite_stats(t) for s, t in sorted(tally.suites.items())},
            "total": _suite_stats(_merged(tally))}


def _hist_panel(ax, data: dict[str, list[int]], title: str, xlabel: str) -> None:
    data = {k: v for k, v in data.items() if v}
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if not data:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    top = max(max(v) for v in data.values())
    bins = [x - 0.5 for x in range(top + 2)] if top <= 60 else 30
    ax.hist(list(data.values()), bins=bins, stacked=True, label=list(data), edgecolor="black")
    ax.legend(fontsize="small")


def write_plots(tally: Tally, out_dir: Path) -> list[Path]:
    """Score histograms (all / chosen / rejected), rules per task, pairs per suite, lengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = tally.suites
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str) -> None:
        tmp = out_dir / f".{name}.tmp.png"
        fig.tight_layout()
        fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        os.replace(tmp, out_dir / name)  # atomic: a reader never sees half a picture
        written.append(out_dir / name)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
    for ax, key, title in zip(axes, ("scores", "chosen_scores", "rejected_scores"),
                              ("all unique rules", "chosen (preference)", "rejected (preference)")):
        _hist_panel(ax, {s: getattr(t, key) for s, t in suites.items()}, title, "score (seen examples right)")
    axes[0].set_ylabel("rules")
    save(fig, "scores.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    _hist_panel(ax, {s: t.rules_per_task for s, t in suites.items()}, "unique rules per task", "rules")
    save(fig, "rules_per_task.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(suites)
    ax.bar(names, [sum(t.pairs_per_task) for t in suites.values()], edgecolor="black")
    ax.set_title("preference pairs per suite")
    ax.set_ylabel("pairs")
    save(fig, "pairs_per_suite.png")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, key, title in zip(axes, ("rule_words", "prompt_words", "answer_words"),
                              ("rule length", "generation prompt length", "application answer length")):
        _hist_panel(ax, {s: getattr(t, key) for s, t in suites.items()}, title, "words")
    save(fig, "lengths.png")
    return written


def summary_table(stats: dict[str, Any], title: str = "Built training data") -> Table:
    table = Table(title=title, caption="rules: unique rules; no pair: tasks without a preference pair")
    for col in ("suite", "tasks", "rules", "mean score", "gen rows", "apply rows", "pairs", "no pair"):
        table.add_column(col, justify="left" if col == "suite" else "right", no_wrap=col == "suite")
    rows = [*stats["suites"].items(), ("total", stats["total"])]
    for i, (name, s) in enumerate(rows):
        mean = "-" if s["mean_score"] is None else f"{s['mean_score']:.2f}"
        table.add_row(name, str(s["tasks"]), str(s["unique_rules"]), mean, str(s["rule_generation"]),
                      str(s["rule_application"]), str(s["preference"]), str(s["tasks_without_pairs"]),
                      end_section=i == len(rows) - 2)
    return table
