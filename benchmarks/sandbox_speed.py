"""Python-follower throughput: the bubblewrap sandbox vs the old in-process guard, side by side.

The workload is what ``--follower python`` sends in one batch: P distinct programs (H rules of many
tasks), each applied to K inputs (seen plus unseen examples). Both ways run the same batch through
``run_programs`` (``unsafe=True`` is ``--unsafe-sandbox``: the old guard), alternating, R times each;
the best time of each way is kept. Also timed: a batch of one program (what a worker start costs).

    PYTHONPATH=src python benchmarks/sandbox_speed.py [--programs 400] [--inputs 16] [--repeats 3] [--workers N]
"""

from __future__ import annotations

import argparse
import random
import time

from redistill.search.sandbox import require_sandbox, run_programs

BODIES = ["x[::-1]", "sorted(x)", "[v + 1 for v in x]", "x[1:]", "[sum(x)]", "[v for v in x if v % 2]",
          "sorted(set(x), reverse=True)", "x[:1] * len(x)"]


def workload(programs: int, inputs: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sources = [f"def transform(x):\n    # rule {i}\n    return {BODIES[i % len(BODIES)]}\n" for i in range(programs)]
    values = [str([rng.randint(0, 99) for _ in range(rng.randint(0, 10))]) for _ in range(inputs)]
    return [(src, v) for src in sources for v in values]


def timed(calls: list[tuple[str, str]], unsafe: bool, workers: int | None) -> tuple[float, list[str]]:
    start = time.perf_counter()
    out = run_programs(calls, timeout_s=2.0, workers=workers, unsafe=unsafe)
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", type=int, default=400)
    ap.add_argument("--inputs", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="Sandboxed workers per batch (default: CPU count).")
    args = ap.parse_args()
    require_sandbox()
    calls = workload(args.programs, args.inputs)
    ways = {"old guard (--unsafe-sandbox)": True, "bubblewrap sandbox": False}
    best = {name: float("inf") for name in ways}
    start_cost = {name: float("inf") for name in ways}
    answers = {}
    for _ in range(args.repeats):
        for name, unsafe in ways.items():
            t, answers[name] = timed(calls, unsafe, args.workers)
            best[name] = min(best[name], t)
            start_cost[name] = min(start_cost[name], timed(calls[:1], unsafe, 1)[0])
    old, new = ways
    assert answers[old] == answers[new], "the two ways disagree on an honest program"
    print(f"{args.programs} programs x {args.inputs} inputs = {len(calls)} calls, best of {args.repeats}")
    print(f"{'way':<30} {'wall s':>8} {'programs/s':>11} {'calls/s':>9} {'1-program batch s':>18}")
    for name in ways:
        print(f"{name:<30} {best[name]:>8.2f} {args.programs / best[name]:>11.0f} {len(calls) / best[name]:>9.0f} "
              f"{start_cost[name]:>18.3f}")
    print(f"ratio (old guard / sandbox, programs per second): {best[new] / best[old]:.2f}x")


if __name__ == "__main__":
    main()
