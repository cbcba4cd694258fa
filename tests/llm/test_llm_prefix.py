"""Prefix planning: which prompts share which prefix, and that every prompt is rebuilt exactly."""

from __future__ import annotations

from redistill.llm.prefix import common_prefix, plan_prefixes, sharing_order


def rebuilt(plan):
    return [plan.prefixes[o] + s for o, s in zip(plan.owner, plan.suffixes)]


def test_rule_groups_share_instruction_and_rule():
    instr, rule_a, rule_b = [1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15], [20, 21, 22, 23, 24, 25]
    prompts = [instr + rule_a + [90 + i, 99] for i in range(4)] + [instr + rule_b + [80 + i, 99] for i in range(4)]
    plan = plan_prefixes(prompts)
    assert rebuilt(plan) == prompts
    assert plan.prefixes == [instr + rule_a, instr + rule_b]  # not just the instruction all share
    assert plan.owner == [0, 0, 0, 0, 1, 1, 1, 1]
    assert plan.tokens_read == 2 * 11 + 8 * 2


def test_alone_prompts_keep_their_last_token_and_short_ones_work():
    prompts = [[5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [7, 8, 9, 10]]
    plan = plan_prefixes(prompts)
    assert rebuilt(plan) == prompts
    assert all(len(s) >= 1 for s in plan.suffixes)
    assert plan.prefixes[0] == []  # a one-token prompt has nothing to prefill
    assert plan.owner[1] == plan.owner[2]  # identical prompts share all but their last token
    assert plan.suffixes[1] == [5]


def test_sharing_order_puts_alike_prompts_together():
    prompts = [[1, 2, 9], [3, 3], [1, 2, 8], [3, 3, 1]]
    order = sharing_order(prompts, [0, 1, 2, 3])
    assert order == [2, 0, 1, 3]
    assert common_prefix([1, 2, 9], [1, 2, 8]) == 2
