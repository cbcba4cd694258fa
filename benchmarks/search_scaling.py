"""How the engine's lead over the reference-style loop grows with H and the number of seen examples.

For each (H, seen) the same stand-in list tasks are searched both ways on the same tiny local model
(``search_speed.py``'s engine and naive loop, model loading included); prints a markdown table of
wall times and the ratio naive / engine.

    PYTHONPATH=src nice -n 19 python benchmarks/search_scaling.py [--hs 1,5,10,20] [--seen 4,8,14]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from search_speed import Counting, corpus, naive_search

from redistill.llm.types import SamplingParams
from redistill.prompts import load_prompts
from redistill.search.engine import run_search
from redistill.search.followers import LLMFollower
from redistill.search.proposers import ModelProposer
from redistill.tasks import Example, Task


def tasks_with(n_tasks: int, seen: int, unseen: int, seed: int = 0) -> list[Task]:
    rng = random.Random(seed)
    fns = [lambda x: x[::-1], sorted, lambda x: [v + 1 for v in x], lambda x: x[1:], lambda x: [sum(x)]]
    out = []
    for i in range(n_tasks):
        xs = [[rng.randint(0, 20) for _ in range(rng.randint(1, 6))] for _ in range(seen + unseen)]
        ex = [Example(str(x), str(fns[i % len(fns)](x))) for x in xs]
        out.append(Task(i, "list_func", ex[:seen], ex[seen:]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hs", default="1,5,10,20")
    ap.add_argument("--seen", default="4,8,14")
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--unseen", type=int, default=2)
    ap.add_argument("--rule-tokens", type=int, default=24)
    ap.add_argument("--apply-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from redistill.llm.factory import make_backend
    from redistill.train.scratch import build_student

    model = str(build_student(corpus(), Path(tempfile.mkdtemp(prefix="search-scaling-")) / "tiny", hidden_size=64,
                              num_layers=2, num_heads=2, vocab_size=512))
    prompts = load_prompts(None)
    rule_params = SamplingParams(n=1, temperature=0.9, max_tokens=args.rule_tokens, seed=0)
    apply_params = SamplingParams(n=1, temperature=0.7, max_tokens=args.apply_tokens, seed=0)
    print(f"{args.tasks} stand-in list tasks, {args.unseen} unseen each, {args.rule_tokens}/{args.apply_tokens} "
          f"rule/apply tokens, {torch.get_num_threads()} torch thread(s)\n")
    print("| H | seen | engine s | naive s | naive calls | speed-up |")
    print("|---|---|---|---|---|---|")
    for seen in (int(s) for s in args.seen.split(",")):
        tasks = tasks_with(args.tasks, seen, args.unseen)
        for H in (int(h) for h in args.hs.split(",")):
            start = time.perf_counter()
            b = Counting(make_backend(f"hf:{model}", cache=None))
            run_search(tasks, ModelProposer(b, prompts, 0.9, args.rule_tokens, seed=0),
                       LLMFollower(b, prompts, 0.7, args.apply_tokens, seed=0), H=H)
            engine_s = time.perf_counter() - start
            start = time.perf_counter()
            nb = Counting(make_backend(f"hf:{model}", cache=None))
            naive_search(tasks, nb, prompts, H, rule_params, apply_params)
            naive_s = time.perf_counter() - start
            print(f"| {H} | {seen} | {engine_s:.1f} | {naive_s:.1f} | {nb.invocations} | {naive_s / engine_s:.1f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
