"""A scripted backend for tests: deterministic answers computed from the prompt.

Rule texts encode a transform by name (``RULE: reverse the list``); applying a rule really applies
that transform, so scores and accuracies are facts about the tasks, not canned numbers. For ACRE the
"rule" carries the blicket worlds consistent with the seen panels, which answers every query right.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import time
import zlib

from redistill.llm.types import Completion, Request, Usage
from redistill.prompts.templates import DEFAULTS

LIST_RULES = {
    "reverse the list": ("x[::-1]", lambda x: x[::-1]),
    "sort the list ascending": ("sorted(x)", sorted),
    "add one to every element": ("[v + 1 for v in x]", lambda x: [v + 1 for v in x]),
    "keep the first element": ("x[:1]", lambda x: x[:1]),
    "remove the first element": ("x[1:]", lambda x: x[1:]),
    "return the list unchanged": ("list(x)", list),
    "sum of the elements": ("[sum(x)]", lambda x: [sum(x)]),
    "double every element": ("[2 * v for v in x]", lambda x: [2 * v for v in x]),
}
_PAIR = re.compile(r"\nInput: (.*)\nOutput: (.*)\n")
_APPLY_PREFIXES = {p.apply_rule for p in DEFAULTS.values()}
_DIRECT_MARKS = {p.direct_fewshot2 for p in DEFAULTS.values()}


def fitting_list_rules(pairs: list[tuple[list, list]]) -> list[str]:
    return [name for name, (_, fn) in LIST_RULES.items() if all(_safe(fn, i) == o for i, o in pairs)]


def _safe(fn, x):
    try:
        return fn(x)
    except Exception:
        return None


def acre_worlds(pairs: list[tuple[list[str], str]]) -> dict:
    """Blicket assignments consistent with the seen panels (disjunctive: on iff any blicket present)."""
    objects = sorted({o for objs, _ in pairs for o in objs})
    worlds = []
    for bits in itertools.product([0, 1], repeat=len(objects)):
        blickets = {o for o, b in zip(objects, bits) if b}
        if all((bool(blickets & set(objs)) == (out == "on")) for objs, out in pairs):
            worlds.append(sorted(blickets))
    return {"objects": objects, "worlds": worlds}


def acre_answer(rule: dict, query: list[str]) -> str:
    known = [o for o in query if o in rule["objects"]]
    novel = [o for o in query if o not in rule["objects"]]
    lit = [bool(set(known) & set(w)) for w in rule["worlds"]]
    if lit and all(lit):
        return "on"
    if not any(lit) and not novel:
        return "off"
    return "undetermined"


class ScriptedBackend:
    """Implements the ``Backend`` protocol; records every ``generate`` batch in ``batches``."""

    spec = "scripted:test"

    def __init__(self, fail_on_batch: int | None = None, correct_every: int = 3, delay: float = 0.0):
        self.batches: list[list[Request]] = []
        self.delay = delay
        """Seconds to sleep per generate call (lets a test interrupt a run from outside)."""
        self.fail_on_batch = fail_on_batch
        """Raise KeyboardInterrupt on this (1-based) generate call: an interruption mid-run."""
        self.correct_every = correct_every

    def identity(self) -> dict:
        return {"spec": self.spec}

    @property
    def requests(self) -> int:
        return sum(len(b) for b in self.batches)

    def generate(self, requests: list[Request], progress=None) -> list[Completion]:
        self.batches.append(list(requests))
        time.sleep(self.delay)
        if self.fail_on_batch is not None and len(self.batches) == self.fail_on_batch:
            raise KeyboardInterrupt
        out = []
        for r in requests:
            prompt = r.messages[-1]["content"]
            texts = [self.answer(prompt, slot, r.params.seed) for slot in range(r.params.n)]
            usage = Usage(len(prompt.split()) * 1, sum(len(t.split()) for t in texts))
            out.append(Completion(texts, usage))
        if progress:
            progress(len(requests), sum((c.usage for c in out), Usage()))
        return out

    # --- answers -------------------------------------------------------------------------------
    def answer(self, prompt: str, slot: int, seed: int | None) -> str:
        for prefix in _APPLY_PREFIXES:
            if prompt.startswith(prefix):
                return self.apply(prompt[len(prefix):])
        pairs = [(ast.literal_eval(i), o if not o.startswith("[") else ast.literal_eval(o))
                 for i, o in _PAIR.findall(prompt)]
        query = re.search(r"Input: (.*)\n$", prompt)
        if any(mark in prompt for mark in _DIRECT_MARKS):
            return self.direct(pairs, ast.literal_eval(query.group(1)))
        program = "def transform(x)" in prompt
        return self.propose(pairs, slot + (seed or 0) + zlib.crc32(prompt.encode()) % 7, program)

    def propose(self, pairs: list, slot: int, program: bool) -> str:
        if pairs and isinstance(pairs[0][1], str):  # ACRE labels
            rule = acre_worlds(pairs)
            if slot % self.correct_every != self.correct_every - 1:
                rule = {"objects": rule["objects"], "worlds": [[]]}  # wrong: "nothing is a blicket"
            return "RULE: " + json.dumps(rule)
        fitting = fitting_list_rules(pairs)
        wrong = [n for n in LIST_RULES if n not in fitting]
        name = fitting[0] if fitting and slot % self.correct_every == self.correct_every - 1 else wrong[slot % len(wrong)]
        if program:
            return f"Here you go:\n```python\ndef transform(x):\n    return {LIST_RULES[name][0]}\n```\n"
        return f"RULE: {name}" + (" " if slot % 2 else "")  # trailing space: same rule once normalised

    def apply(self, rest: str) -> str:
        rule_text, _, tail = rest.lstrip("\n").partition("\nInput: ")
        value = ast.literal_eval(tail.strip())
        body = rule_text.strip().removeprefix("RULE:").strip()
        if body.startswith("{"):
            return acre_answer(json.loads(body), value)
        if body in LIST_RULES:
            return str(LIST_RULES[body][1](value))
        return "I cannot apply this rule."

    def direct(self, pairs: list, value) -> str:
        if pairs and isinstance(pairs[0][1], str):
            return "on"
        fitting = fitting_list_rules(pairs[:1])  # a hasty guess from the first example only
        return str(LIST_RULES[fitting[0]][1](value)) if fitting else "no idea"
