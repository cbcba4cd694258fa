"""The rule prior over draws: hypothesis search whose rules are training rules drawn blind.

The report's "rule prior" row (``model: prior``, ``redistill.llm.prior``) is one draw; this runs the
same search over several seeds and prints mean ± sd per suite, so a student's row can be read against
the prior's spread. A student has induced something only where it beats this.

    python benchmarks/rule_prior.py RUN [--hypotheses 10] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from redistill.eval.metrics import summarize
from redistill.llm.prior import PriorBackend
from redistill.prompts import load_prompts
from redistill.search.engine import run_search
from redistill.search.followers import make_follower
from redistill.search.proposers import ModelProposer
from redistill.tasks import get_suite
from redistill.tasks.suites import load_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder (its data/rule_generation.jsonl and tasks/)")
    ap.add_argument("--hypotheses", "-H", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=5, help="draws of the H rules")
    args = ap.parse_args()
    files = sorted((args.run / "tasks").glob("*.test.jsonl"))
    if not files or not (args.run / "data" / "rule_generation.jsonl").exists():
        raise SystemExit(f"{args.run}: not a run folder with test tasks (tasks/*.test.jsonl) and build data "
                         "(data/rule_generation.jsonl)")
    follower = make_follower("library")
    config = args.run / "config.json"  # the run's own prompts file, if it had one: the prior keys on its wording
    prompts = load_prompts(json.loads(config.read_text()).get("prompts") if config.exists() else None)
    backends = [PriorBackend(str(args.run / "data"), seed=seed) for seed in range(args.seeds)]  # one read each
    table = Table(title=f"Rule prior: H = {args.hypotheses} training rules drawn blind, exact interpreters "
                        f"(accuracy over unseen examples, %, mean ± sd over {args.seeds} draws)")
    for col in ("suite", "tasks", "accuracy"):
        table.add_column(col, justify="left" if col == "suite" else "right")
    per_seed: list[list[float]] = [[] for _ in range(args.seeds)]
    for path in files:
        suite = path.name.removesuffix(".test.jsonl")
        tasks = load_file(path, get_suite(suite))
        accs = []
        for seed, backend in enumerate(backends):
            proposer = ModelProposer(backend, prompts)
            accs.append(100 * summarize(run_search(tasks, proposer, follower, H=args.hypotheses))["accuracy"])
            per_seed[seed].append(accs[-1])
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        table.add_row(suite, str(len(tasks)), f"{statistics.mean(accs):.1f} ± {sd:.1f}")
    means = [statistics.mean(s) for s in per_seed]
    sd = statistics.stdev(means) if len(means) > 1 else 0.0
    table.add_row("mean", "", f"{statistics.mean(means):.1f} ± {sd:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
