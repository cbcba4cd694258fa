"""Tables of evaluations: one evaluation's suites, and several evaluations side by side (the paper's table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from redistill.errors import RedistillError
from redistill.eval.metrics import accuracy_vs_h
from redistill.jsonl import read_jsonl


def label_of(config: dict[str, Any]) -> str:
    """``method[/follower] · model[+adapter]`` (and `` (unsafe sandbox)`` if so): the row name of an evaluation."""
    spec = str(config.get("model", "?"))
    kind, _, rest = spec.partition(":")
    model = (Path(rest.split("@")[0]).name or rest) if rest else spec
    adapters = "+".join(Path(a).name for a in config.get("adapters") or [])
    method = config.get("method", "?")
    if method == "search" and config.get("follower", "llm") != "llm":
        method += f"/{config['follower']}"
    unsafe = " (unsafe sandbox)" if config.get("unsafe_sandbox") and config.get("follower") == "python" else ""
    return f"{method} · {model}" + (f"+{adapters}" if adapters else "") + unsafe


def load_evaluation(folder: str | Path) -> dict[str, Any]:
    """An evaluation folder's config and summary."""
    folder = Path(folder)
    paths = {name: folder / f"{name}.json" for name in ("summary", "config")}
    for path in paths.values():
        if not path.exists():
            raise RedistillError(f"{path}: not found; is {folder} an output folder of `redistill eval --out`?")
    loaded = {}
    for name, path in paths.items():
        try:
            loaded[name] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise RedistillError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    return {"dir": str(folder), "label": label_of(loaded["config"]), **loaded}


def pct(value: float | None) -> str:
    """A ratio as a percentage with one decimal, ``-`` when unknown."""
    return "-" if value is None else f"{100 * value:.1f}"


def suite_order(evals: list[dict]) -> list[str]:
    """Every suite of the evaluations, in the order they first appear."""
    order: list[str] = []
    for e in evals:
        order += [s for s in e["summary"] if s not in order]
    return order


def comparison_rows(evals: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and cells: one row per evaluation, accuracy and task accuracy per suite (percent)."""
    suites = suite_order(evals)
    header = ["evaluation"] + [f"{s} {kind}" for s in suites for kind in ("acc", "task acc")]
    rows = []
    for e in evals:
        cells = [e["label"]]
        for s in suites:
            summary = e["summary"].get(s, {})
            cells += [pct(summary.get("accuracy")), pct(summary.get("task_accuracy"))]
        rows.append(cells)
    return header, rows


def md_table(header: list[str], rows: list[list[str]], right_align: bool = False) -> str:
    """A markdown table; ``right_align``: every column but the first right-aligned."""
    rule = ["---"] + ["---:" if right_align else "---"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def markdown_table(evals: list[dict]) -> str:
    return md_table(*comparison_rows(evals), right_align=True) + "\n"


def comparison_table(evals: list[dict]) -> Table:
    header, rows = comparison_rows(evals)
    table = Table(title="Evaluations (accuracy %, task accuracy %)")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    return table


def summary_table(summaries: dict[str, dict], title: str = "Evaluation") -> Table:
    """One evaluation: a row per suite with accuracies, the oracle ceiling and what it cost."""
    table = Table(title=title)
    for col in ("suite", "tasks", "failed", "acc %", "task acc %", "strict acc %", "oracle %", "calls", "tokens",
                "cost", "wall s"):
        table.add_column(col, justify="left" if col == "suite" else "right")
    for suite, s in summaries.items():
        cost = "-" if s.get("cost_usd") is None else f"{s['cost_usd']:.4f}"
        table.add_row(
            suite, str(s["tasks"]), str(s.get("failed", 0)), pct(s["accuracy"]), pct(s["task_accuracy"]), pct(s["strict"]["accuracy"]),
            pct(s.get("oracle_accuracy")), str(s["calls"]), str(s["prompt_tokens"] + s["completion_tokens"]),
            cost, f"{s['wall_s']:.1f}",
        )
        for qtype, value in (s.get("by_query_type") or {}).items():
            table.add_row(f"  {qtype}", "", "", pct(value), *[""] * 7)
    return table


def accuracy_curve(folder: str | Path, suite: str) -> list[dict[str, float]]:
    """Accuracy vs number of sampled rules for one suite of an evaluation folder (no model calls)."""
    evaluation = load_evaluation(folder)
    path = Path(folder) / f"{suite}.jsonl"
    if not path.exists():
        raise RedistillError(f"{path}: not found; suites in {folder}: {', '.join(evaluation['summary']) or 'none'}")
    return accuracy_vs_h(read_jsonl(path), evaluation["config"].get("tie_break", "first"))
