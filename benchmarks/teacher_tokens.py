"""Teacher tokens and dollars per task that ``augment`` bills at H rules per task, against the reference
pattern (one rule-generation request per hypothesis), online and through the Batch API.

The numbers come from the dry run's own arithmetic (``distill.augment.estimate_augment``, prompts at
4 characters a token, a rule as 80 tokens, an application's answer as long as the gold output) and the
price table (``llm.usage``), the Batch API at ``llm.openai_batch.BATCH_DISCOUNT``. Applications are
the same both ways (one request per unique rule and seen example); what differs is the rule-generation
prompt, paid once per task with ``n = H`` and H times by one request per hypothesis.

    PYTHONPATH=src python benchmarks/teacher_tokens.py --data ../shared/benchmarks [--hypotheses 50]
"""

from __future__ import annotations

import argparse
import os

from redistill.distill.augment import AugmentParams, estimate_augment
from redistill.llm.openai_batch import BATCH_DISCOUNT
from redistill.llm.types import Usage
from redistill.llm.usage import cost_fn_for
from redistill.prompts import load_prompts
from redistill.tasks import load_tasks

SUITES = ("list_func", "1d_arc", "acre", "scan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("REDISTILL_DATA"), required=os.environ.get("REDISTILL_DATA") is None)
    ap.add_argument("--split", default="train")
    ap.add_argument("--hypotheses", type=int, default=50)
    ap.add_argument("--teacher", default="openai:gpt-4o")
    args = ap.parse_args()
    prompts = load_prompts(None)
    cost = cost_fn_for(args.teacher)
    H = args.hypotheses
    print(f"teacher {args.teacher}, H = {H}, {args.split} split; per task (mean over the suite's tasks)\n")
    print("| suite | tasks | way | requests | prompt tokens | completion tokens | USD online | USD batch |")
    print("|---|---|---|---|---|---|---|---|")
    totals = {"n = H (redistill)": [0.0, 0.0], "one per hypothesis": [0.0, 0.0]}
    for suite in SUITES:
        tasks = load_tasks(suite, args.data, args.split)
        params = AugmentParams(hypotheses=H)
        ours = estimate_augment(tasks, params, prompts, cost)
        rules = estimate_augment(tasks, params.model_copy(update={"follower": "library"}), prompts, cost)  # the rule part alone
        ref_prompt = ours.prompt_tokens + (H - 1) * rules.prompt_tokens  # the rule prompt paid H times
        ref_cost = cost(Usage(ref_prompt, ours.completion_tokens)) if cost else 0.0
        n = max(len(tasks), 1)
        for way, calls, prompt_tokens, usd in (
            ("n = H (redistill)", ours.calls, ours.prompt_tokens, ours.cost_usd or 0.0),
            ("one per hypothesis", ours.apply_requests + H * len(tasks), ref_prompt, ref_cost),
        ):
            totals[way][0] += usd
            totals[way][1] += usd * BATCH_DISCOUNT
            print(f"| {suite} | {len(tasks)} | {way} | {calls / n:,.0f} | {prompt_tokens / n:,.0f} | "
                  f"{ours.completion_tokens / n:,.0f} | {usd / n:.4f} | {usd * BATCH_DISCOUNT / n:.4f} |")
    print()
    for way, (online, batch) in totals.items():
        print(f"all four suites, {way}: ${online:,.2f} online, ${batch:,.2f} batched")
    ratio = totals["one per hypothesis"][0] / max(totals["n = H (redistill)"][1], 1e-12)
    print(f"reference pattern online / redistill batched: {ratio:.2f}x")


if __name__ == "__main__":
    main()
