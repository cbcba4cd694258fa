"""Library-teacher coverage on the published suites.

The share of published tasks whose best library rule (top-scored on the seen examples) reproduces
every seen and unseen example, per suite and per 1D-ARC type; also the exact interpreters' checks
(ACRE labeller, MiniSCAN interpreter). A yardstick beside GPT-4o's accuracy on the same tasks.

    PYTHONPATH=src python benchmarks/library_coverage.py [--data ../shared/benchmarks]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from redistill.tasks import load_tasks
from redistill.tasks.generators.teacher import solves

ARC_TYPES = ["denoising_1c", "denoising_mc", "fill", "flip", "hollow", "mirror", "move_1p", "move_2p", "move_2p_dp",
             "move_3p", "move_dp", "padded_fill", "pcopy_1c", "pcopy_mc", "recolor_cmp", "recolor_cnt", "recolor_oe",
             "scale_dp"]


def arc_type(idx: int) -> str:
    """The published 1D-ARC type of a task index (50 per type in type order; the last has 51)."""
    return ARC_TYPES[min(idx // 50, len(ARC_TYPES) - 1)]


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default)
    args = ap.parse_args()
    console = Console()
    suites = Table(title="Library teacher: best rule reproduces every seen and unseen example")
    for col in ("suite", "tasks", "solved", "share", "seconds", "ms / task"):
        suites.add_column(col, justify="right" if col != "suite" else "left")
    per_type: dict[str, list[bool]] = {}
    for suite in ("1d_arc", "list_func", "acre", "scan"):
        tasks = load_tasks(suite, args.data)
        start = time.perf_counter()
        results = [solves(t) for t in tasks]
        seconds = time.perf_counter() - start
        suites.add_row(suite, str(len(tasks)), str(sum(results)), f"{sum(results) / len(tasks):.1%}",
                       f"{seconds:.1f}", f"{1000 * seconds / len(tasks):.1f}")
        if suite == "1d_arc":
            for t, ok in zip(tasks, results, strict=False):
                per_type.setdefault(arc_type(int(t.id)), []).append(ok)
    console.print(suites)
    types = Table(title="1D-ARC by type")
    for col in ("type", "tasks", "solved", "share"):
        types.add_column(col, justify="right" if col != "type" else "left")
    for name, oks in per_type.items():
        types.add_row(name, str(len(oks)), str(sum(oks)), f"{sum(oks) / len(oks):.0%}")
    console.print(types)


if __name__ == "__main__":
    main()
