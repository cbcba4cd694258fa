"""Shared prompt prefixes: read a prefix once, copy its KV cache to every prompt that starts with it.

Rule application sends one prompt per (rule, input): instruction + rule + input. Every input of a rule
repeats the same instruction + rule tokens, usually most of the prompt. ``plan_prefixes`` groups
token lists (sorted, so prompts with a common start sit side by side) and picks for each group the
longest token prefix all its members share, leaving every prompt at least one token of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PrefixPlan:
    prefixes: list[list[int]]
    """The distinct prefixes, each read once."""
    owner: list[int]
    """Per prompt, the index of its prefix in ``prefixes``."""
    suffixes: list[list[int]]
    """Per prompt, its tokens after the prefix (at least one)."""

    @property
    def tokens_read(self) -> int:
        """Prompt tokens run through the model under this plan (the saving is against the plain total)."""
        return sum(map(len, self.prefixes)) + sum(map(len, self.suffixes))


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def sharing_order(prompts: list[list[int]], idxs: list[int]) -> list[int]:
    """``idxs`` sorted so prompts that start alike are neighbours."""
    return sorted(idxs, key=lambda i: prompts[i])


def plan_prefixes(prompts: list[list[int]], min_shared: int = 4) -> PrefixPlan:
    """Group neighbouring prompts (in the given order) under shared prefixes.

    A prompt joins the current group while the tokens saved do not drop: with ``k`` members sharing
    ``p`` tokens a group saves ``(k - 1) * p``; a newcomer that shares only ``q < p`` joins when
    ``k * q >= (k - 1) * p``. A prompt alone keeps all but its last token as its "prefix", so the plan
    with no sharing at all is the plain prefill of everything but the last token.
    """
    groups: list[list[int]] = []
    shared: list[int] = []  # per group: tokens all its members share
    for i, ids in enumerate(prompts):
        if groups:
            k, p = len(groups[-1]), shared[-1]
            q = min(p, common_prefix(prompts[groups[-1][-1]], ids))
            if q >= min_shared and k * q >= (k - 1) * p:
                groups[-1].append(i)
                shared[-1] = q
                continue
        groups.append([i])
        shared.append(len(ids))
    prefixes: list[list[int]] = []
    owner = [0] * len(prompts)
    suffixes: list[list[int]] = [[] for _ in prompts]
    for g, (members, p) in enumerate(zip(groups, shared)):
        cut = min(p, min(len(prompts[i]) for i in members) - 1)  # every prompt keeps >= 1 token
        cut = max(cut, 0)
        prefixes.append(prompts[members[0]][:cut])
        for i in members:
            owner[i] = g
            suffixes[i] = prompts[i][cut:]
    return PrefixPlan(prefixes, owner, suffixes)
