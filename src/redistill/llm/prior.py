"""``prior:FILE``: a "model" that answers a rule-generation prompt with training rules drawn blind.

FILE is a build stage's ``rule_generation.jsonl`` (or the data folder holding it). Each request gets
``n`` rules drawn at random, with replacement, from the rows whose rule-generation instruction (the
prompt's first paragraph) is the request's: common rules come up as often as the teacher wrote them,
and the examples in the prompt are never read. Hypothesis search with this proposer and the exact
interpreters (``--follower library``) is the yardstick a distilled student must beat: what knowing
which rules exist, and nothing about reading examples, already scores.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError, located
from redistill.llm.types import Completion, Messages, ProgressFn, Request, Usage
from redistill.llm.usage import UsageLedger

DATA_FILE = "rule_generation.jsonl"
MISUSE = "the rule prior only proposes rules (it never reads a prompt)"


def misused(model: str, method: str, follower: str) -> bool:
    """True for a prior (a run's ``prior`` row, a ``prior:`` spec) asked to do anything but propose rules
    for the exact interpreters to score."""
    return (model == "prior" or model.startswith("prior:")) and (method, follower) != ("search", "library")


def instruction(messages: Messages) -> str:
    """The first paragraph of the last user message: the suite's rule-generation instruction."""
    text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return text.split("\n\n", 1)[0].strip()


class PriorBackend:
    """Rules drawn from a training file, keyed by the rule-generation instruction they answered."""

    def __init__(self, name: str, spec: str = "", seed: int | None = None, ledger: UsageLedger | None = None):
        path = Path(name).expanduser()
        if path.is_dir():
            path = path / DATA_FILE
        if not path.is_file():
            raise RedistillError(f"model spec '{spec}': {path} not found; give a build stage's {DATA_FILE} "
                                 "(RUN/data/) or its folder")
        self.spec, self.path, self.seed = spec or f"prior:{path}", path, seed or 0
        self.ledger = ledger or UsageLedger()
        self.rules: dict[str, list[str]] = defaultdict(list)
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    messages = json.loads(line)["messages"]
                    rule = messages[-1]["content"]
                    key = instruction(messages[:-1])
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    raise located(path, lineno, "messages", "not a rule-generation row (messages: a prompt, then "
                                  f"the assistant's rule): {type(e).__name__}: {e}") from None
                self.rules[key].append(rule)
        if not self.rules:
            raise RedistillError(f"model spec '{spec}': {path} holds no rule-generation rows")
        self._digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def identity(self) -> dict[str, Any]:
        return {"engine": "prior", "file": str(self.path.resolve()), "sha256": self._digest, "seed": self.seed}

    def generate(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        out = []
        for r in requests:
            key = instruction(r.messages)
            pool = self.rules.get(key)
            if pool is None:
                raise RedistillError(f"model spec '{self.spec}': a request whose instruction is not one of "
                                     f"{self.path}'s ({key[:80]!r}...): the prior answers the rule-generation "
                                     "prompts of the suites it was built from only (a run without this suite, or another prompts file)")
            # seeded by the prompt: the same task draws the same rules on a re-run, other tasks others
            digest = hashlib.sha256(json.dumps([self.seed, r.params.seed, r.messages]).encode()).digest()
            rng = random.Random(digest)
            out.append(Completion([rng.choice(pool) for _ in range(r.params.n)], Usage()))
            if progress:
                progress(1, Usage())
        return out
