"""Can the quickstart's student learn to copy a list? A synthetic probe for issue 14's open problem.

Trains the student of a run (its tokenizer and architecture, fresh weights) on rows in the quickstart's
rule-application format whose rule is "Return the list unchanged." (lists of 1-10 numbers 0-99), and
prints greedy exact-match on 60 held-out lists as training goes; with ``--model DIR`` it only measures
a trained model (e.g. ``runs/quickstart/models/sft``). Measured (README, "Teaching rule application"):
tied embeddings never copy in 1,500 steps, untied ones copy every list by step 1,000 at lr 5e-4.

    python benchmarks/copy_probe.py runs/quickstart [--untie] [--lr 5e-4] [--steps 1500]
    python benchmarks/copy_probe.py runs/quickstart --model runs/quickstart/models/sft
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from redistill.prompts import Prompts, apply_rule_messages
from redistill.tasks.model import format_value

PROMPTS = Prompts().for_suite("list_func")  # the built-in texts the quickstart's application rows use


def row(rnd: random.Random) -> list[dict]:
    xs = [rnd.randrange(100) for _ in range(rnd.randint(1, 10))]
    return [*apply_rule_messages(PROMPTS, "Return the list unchanged.", xs),
            {"role": "assistant", "content": format_value(xs)}]


def exact(model, tok, rows: list[list[dict]]) -> int:
    model.eval()
    ok = 0
    with torch.no_grad():
        for msgs in rows:
            prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
            ids = tok(prompt, return_tensors="pt")["input_ids"]
            out = model.generate(ids, max_new_tokens=40, do_sample=False, pad_token_id=tok.pad_token_id)
            ok += tok.decode(out[0, ids.shape[1]:]).split("<|end|>")[0].strip() == msgs[1]["content"]
    model.train()
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run folder with models/init (redistill run ... --until student)")
    p.add_argument("--model", help="only measure this trained model")
    p.add_argument("--untie", action="store_true", help="untie the output layer from the input embedding")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    test = [row(random.Random(10_000 + i)) for i in range(60)]
    for need in [a.model] if a.model else [f"{a.run}/models/init"]:
        if not (Path(need) / "config.json").is_file():
            sys.exit(f"{need}: no model here (config.json missing); for a run folder, run "
                     "`redistill run NAME --until student` first")
    if a.model:
        tok, model = AutoTokenizer.from_pretrained(a.model), AutoModelForCausalLM.from_pretrained(a.model)
        print(f"{a.model}: copies {exact(model, tok, test)} of 60 lists")
        return
    init = f"{a.run}/models/init"
    tok, cfg = AutoTokenizer.from_pretrained(init), AutoConfig.from_pretrained(init)
    cfg.tie_word_embeddings = not a.untie and cfg.tie_word_embeddings
    model = AutoModelForCausalLM.from_config(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    warm = 50
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)))
    rnd, t0 = random.Random(a.seed), time.time()
    print(f"tied embeddings: {cfg.tie_word_embeddings}, lr {a.lr}, {a.steps} steps of {a.batch}")
    for step in range(1, a.steps + 1):
        texts = [tok.apply_chat_template(row(rnd), tokenize=False) for _ in range(a.batch)]
        enc = tok(texts, return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 250 == 0 or step == a.steps:
            print(f"step {step:5d}  loss {loss.item():.3f}  copies {exact(model, tok, test):2d} of 60  "
                  f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
