"""Hypothesis search, stage-batched engine vs a naive sequential loop, on the same tiny local model.

Both ways run the same search (same tasks, H, prompts, sampling settings and seeds) through
``make_backend("hf:PATH", cache=None)``. The naive loop is written the way the reference code works:
one ``generate`` per sampled rule, one per (rule, seen example), one per unseen example, in sequence.
Prints wall times (model loading included), model calls (requests) and ``generate`` invocations each
way, and the ratio. The engine runs ``--repeats`` times, interleaved with the naive loop's tasks (the
mean is reported), so a shared machine's changing load weighs on both sides alike.

    PYTHONPATH=src python benchmarks/search_speed.py [--data ../shared/benchmarks] [--model PATH]

Without --data (or REDISTILL_DATA) 25 generated stand-in list tasks are used.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from redistill.llm.types import Request, SamplingParams
from redistill.prompts import apply_rule_messages, generate_rule_messages, load_prompts
from redistill.search.engine import run_search
from redistill.search.followers import LLMFollower
from redistill.search.proposers import ModelProposer
from redistill.search.scoring import judge
from redistill.tasks import Example, Task, load_tasks


def stand_in_tasks(n: int, seed: int = 0) -> list[Task]:
    """List tasks with 8 seen and 8 unseen examples, like List Function's."""
    rng = random.Random(seed)
    fns = [lambda x: x[::-1], sorted, lambda x: [v + 1 for v in x], lambda x: x[1:], lambda x: [sum(x)]]
    tasks = []
    for i in range(n):
        fn = fns[i % len(fns)]
        xs = [[rng.randint(0, 20) for _ in range(rng.randint(1, 6))] for _ in range(16)]
        ex = [Example(str(x), str(fn(x))) for x in xs]
        tasks.append(Task(i, "list_func", ex[:8], ex[8:]))
    return tasks


def corpus(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = ["rule", "input", "output", "the", "list", "reverse", "sort", "each", "element", "apply"]
    return [f"Input: {[rng.randint(0, 99) for _ in range(5)]}\nOutput: {[rng.randint(0, 99) for _ in range(3)]}\n"
            + " ".join(rng.choices(words, k=8)) for _ in range(n)]


class Counting:
    """Backend wrapper counting ``generate`` invocations and requests."""

    def __init__(self, inner):
        self.inner, self.spec = inner, inner.spec
        self.invocations = self.requests = 0

    def identity(self):
        return self.inner.identity()

    def generate(self, requests, progress=None):
        self.invocations += 1
        self.requests += len(requests)
        return self.inner.generate(requests, progress)


def naive_search(tasks, backend, prompts, H, rule_params, apply_params):
    """The reference code's shape: everything one prompt at a time."""
    correct = total = 0
    for t in tasks:
        p = prompts.for_suite(t.suite, t.answer_type)
        rules = []
        for h in range(H):  # one sample per call; a distinct seed per sample, as n=H sampling draws distinct ones
            params = replace(rule_params, seed=None if rule_params.seed is None else rule_params.seed + h)
            rules.append(backend.generate([Request(generate_rule_messages(p, t), params)])[0].texts[0])
        scores = []
        for rule in rules:
            hits = 0
            for ex in t.train:
                text = backend.generate([Request(apply_rule_messages(p, rule, ex.input), apply_params)])[0].texts[0]
                hits += judge(t, ex, text).correct
            scores.append(hits)
        best = rules[scores.index(max(scores))]
        for ex in t.test:
            text = backend.generate([Request(apply_rule_messages(p, best, ex.input), apply_params)])[0].texts[0]
            correct += judge(t, ex, text).correct
            total += 1
    return correct / max(total, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("REDISTILL_DATA"))
    ap.add_argument("--model", help="an hf model folder (default: build a tiny one here)")
    ap.add_argument("--tasks", type=int, default=25)
    ap.add_argument("--hypotheses", type=int, default=10)
    ap.add_argument("--rule-tokens", type=int, default=48)
    ap.add_argument("--apply-tokens", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall time, or this process's CPU "
                    "time (with --threads 1: immune to the process being paused or preempted on a shared machine)")
    ap.add_argument("--repeats", type=int, default=3, help="engine runs, spread over the naive loop's tasks")
    ap.add_argument("--prune", action="store_true", help="engine scores rules in rounds and drops hopeless ones")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice; 1 is "
                    "steadier on a busy machine, where idle-spinning worker threads stall)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from redistill.llm.factory import make_backend  # the backends issue
    from redistill.train.scratch import build_student

    tmp = tempfile.mkdtemp(prefix="search-speed-")
    model = args.model or str(build_student(corpus(), Path(tmp) / "tiny", hidden_size=64, num_layers=2, num_heads=2,
                                            vocab_size=512))
    tasks = (load_tasks("list_func", args.data, "test", limit=args.tasks) if args.data
             else stand_in_tasks(args.tasks, args.seed))
    prompts = load_prompts(None)
    H, seed = args.hypotheses, args.seed
    rule_params = SamplingParams(n=1, temperature=0.9, max_tokens=args.rule_tokens, seed=seed)
    apply_params = SamplingParams(n=1, temperature=0.7, max_tokens=args.apply_tokens, seed=seed)

    # Each side's time includes loading the model (start-up), as a user's run does. On a shared machine
    # the load drifts over a run, so the engine's search is repeated between the naive loop's tasks and
    # its mean is taken: both sides then see the same stretch of load.
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def engine_once():
        start = clock()
        backend = Counting(make_backend(f"hf:{model}", cache=None))
        rows = run_search(tasks, ModelProposer(backend, prompts, 0.9, args.rule_tokens, seed=seed),
                          LLMFollower(backend, prompts, 0.7, args.apply_tokens, seed=seed), H=H,
                          **({"prune": True} if args.prune else {}))  # (runs on older versions too)
        return clock() - start, backend, rows

    engine_times: list[float] = []
    naive_s = 0.0
    naive_backend = None
    correct = 0
    slots = {round(i * len(tasks) / args.repeats) for i in range(args.repeats)}
    for i, task in enumerate(tasks):
        if i in slots:
            took, engine_backend, rows = engine_once()
            engine_times.append(took)
        start = clock()
        if naive_backend is None:
            naive_backend = Counting(make_backend(f"hf:{model}", cache=None))
        correct += naive_search([task], naive_backend, prompts, H, rule_params, apply_params) * len(task.test)
        naive_s += clock() - start
    engine_s = sum(engine_times) / len(engine_times)
    engine_acc = sum(sum(r["correct"]) for r in rows) / max(sum(len(r["correct"]) for r in rows), 1)
    naive_acc = correct / max(sum(len(t.test) for t in tasks), 1)

    import torch

    print(f"{len(tasks)} tasks, H={H}, model {model}, {torch.get_num_threads()} torch thread(s), {args.clock} clock")
    spread = f"  (mean of {len(engine_times)}: {min(engine_times):.1f}-{max(engine_times):.1f} s)"
    print(f"engine: {engine_s:8.1f} s  {engine_backend.requests:6d} requests  {engine_backend.invocations:5d} generate calls"
          f"  accuracy {engine_acc:.3f}{spread}")
    print(f"naive : {naive_s:8.1f} s  {naive_backend.requests:6d} requests  {naive_backend.invocations:5d} generate calls"
          f"  accuracy {naive_acc:.3f}")
    print(f"speed-up (naive / engine {args.clock} time): {naive_s / engine_s:.1f}x")


if __name__ == "__main__":
    main()
