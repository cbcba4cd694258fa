"""Throughput of the hf backend: one batched ``generate`` vs one request per call, then a cached re-run.

The same 200 sampling requests (n=10) on a tiny model built here with ``build_student``. Prints the
times and the ratios measured in this run (targets on CPU: batched >= 5x, cached >= 100x).

    PYTHONPATH=src python benchmarks/backend_throughput.py [--requests 200] [--n 10] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from redistill.llm.cache import CachedBackend, ResponseCache
from redistill.llm.hf import HFBackend
from redistill.llm.types import Request, SamplingParams
from redistill.train.scratch import build_student


def corpus(n: int = 300) -> list[str]:
    rng = random.Random(0)
    return [f"Input: {[rng.randint(0, 9) for _ in range(6)]}\nOutput: {[rng.randint(0, 9) for _ in range(6)]}"
            for _ in range(n)]


def requests(count: int, n: int, max_tokens: int) -> list[Request]:
    rng = random.Random(1)
    out = []
    for i in range(count):
        xs = [rng.randint(0, 9) for _ in range(rng.randint(3, 10))]
        text = f"Apply the rule to the input.\nRule: reverse the list\nInput: {xs}\nOutput:"
        out.append(Request([{"role": "user", "content": f"[{i}] {text}"}],
                           SamplingParams(n=n, temperature=1.0, max_tokens=max_tokens)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=512, help="sequences per generate call")
    ap.add_argument("--hidden-size", type=int, default=32, help="32 x 2 layers is the tests' tiny model")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_student(corpus(), Path(tmp) / "model", hidden_size=args.hidden_size,
                                  num_layers=args.layers, num_heads=2, vocab_size=512)
        backend = HFBackend(str(model_dir), batch_size=args.batch_size)
        reqs = requests(args.requests, args.n, args.max_tokens)
        backend.generate(reqs[:2])  # warm-up (first-call allocations)

        start = time.perf_counter()
        for r in reqs:
            backend.generate([r])
        one_by_one = time.perf_counter() - start

        cached = CachedBackend(backend, ResponseCache(Path(tmp) / "cache"))
        start = time.perf_counter()
        first = cached.generate(reqs)
        batched = time.perf_counter() - start

        start = time.perf_counter()
        again = cached.generate(reqs)
        from_cache = time.perf_counter() - start
        assert [c.texts for c in again] == [c.texts for c in first]
        assert cached.hits == args.requests * args.n

    samples = args.requests * args.n
    table = Table(title=f"hf backend, {args.requests} requests x n={args.n}, {args.max_tokens} new tokens, "
                        f"hidden {args.hidden_size} x {args.layers} layers, CPU")
    for col in ("run", "seconds", "samples/s", "speed-up"):
        table.add_column(col, justify="right")
    table.add_row("one request per call", f"{one_by_one:.2f}", f"{samples / one_by_one:,.0f}", "1.0x")
    table.add_row("one batched call", f"{batched:.2f}", f"{samples / batched:,.0f}", f"{one_by_one / batched:.1f}x")
    table.add_row("batched re-run from cache", f"{from_cache:.4f}", f"{samples / from_cache:,.0f}",
                  f"{batched / from_cache:,.0f}x vs first batched run")
    console.print(table)
    console.print(f"batched / one-at-a-time: {one_by_one / batched:.1f}x (target >= 5x); "
                  f"cached / first run: {batched / from_cache:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
