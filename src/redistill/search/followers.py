"""Rule followers: turn (rule, input) into a predicted output, for many pairs at once.

- ``llm``: the model applies the rule through the rule-application prompt (the paper's follower);
  all requests of a stage go to the backend as one batch.
- ``python``: the rule is a ``def transform(x)`` program, run in a bubblewrap sandbox
  (``redistill.search.sandbox``): exact, free scoring for list suites.
"""

from __future__ import annotations

import json
import re
from typing import Any

from redistill.errors import RedistillError
from redistill.llm.types import Backend, Request, SamplingParams, Usage
from redistill.prompts import Prompts, apply_rule_messages
from redistill.search.sandbox import run_programs
from redistill.search.types import Answer, ApplyRequest, Hypothesis

_PY_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S | re.I)
_DEF = re.compile(r"^def transform\s*\(", re.M)


def extract_program(text: str) -> str | None:
    """The python source in a response: a fenced block defining ``transform`` (else the first fenced
    block), or the text from ``def transform`` on. ``None`` when there is none."""
    blocks = _PY_BLOCK.findall(text)
    for block in blocks:
        if _DEF.search(block):
            return block.strip() + "\n"
    if blocks:
        return blocks[0].strip() + "\n"
    m = _DEF.search(text)
    if m:
        return text[m.start():].replace("```", "").strip() + "\n"
    return None


class LLMFollower:
    """Applies rule texts with the model, one batched ``generate`` per ``apply`` call (``n=1``)."""

    name = "llm"

    def __init__(self, backend: Backend, prompts: Prompts, temperature: float = 0.7, max_tokens: int = 256,
                 seed: int | None = None):
        self.backend, self.prompts = backend, prompts
        self.params = SamplingParams(n=1, temperature=temperature, max_tokens=max_tokens, seed=seed)
        self._usage = Usage()

    def apply(self, requests: list[ApplyRequest]) -> list[Answer]:
        """Identical prompts (one rule on one input, in two tasks or twice in a task) are sent once and
        share the answer, as the reference code's seeded calls do; the copies cost nothing."""
        prompts = [
            apply_rule_messages(self.prompts.for_suite(r.task.suite, r.task.answer_type), r.hypothesis.text, r.input)
            for r in requests
        ]
        first: dict[str, int] = {}
        slot, unique = [], []
        for p in prompts:
            j = first.setdefault(json.dumps(p), len(first))
            if j == len(unique):
                unique.append(p)
            slot.append(j)
        completions = self.backend.generate([Request(p, self.params) for p in unique]) if unique else []
        for c in completions:
            self._usage = self._usage + c.usage
        seen: set[int] = set()
        out = []
        for j, p in zip(slot, prompts):
            c, copy = completions[j], j in seen
            seen.add(j)
            text = c.texts[0] if c.texts else ""
            out.append(Answer(text if not c.error or text else f"error: {c.error}", p,
                              Usage() if copy else c.usage, 0 if copy else 1, c.error))
        return out

    def usage(self) -> Usage:
        return self._usage


class PythonFollower:
    """Runs ``Hypothesis.program`` (or the program found in its text) on each input in a sandbox.

    A crash, a timeout or a wrong return type is a miss (an ``error: ...`` response), never a raise.
    """

    name = "python"
    answer_types = ("list",)

    def __init__(self, timeout_s: float = 2.0, memory_mb: int = 512, workers: int | None = None,
                 unsafe_sandbox: bool = False):
        self.timeout_s, self.memory_mb, self.workers = timeout_s, memory_mb, workers
        self.unsafe_sandbox = unsafe_sandbox
        """Run programs without bubblewrap, under the old in-process guard only (``--unsafe-sandbox``)."""

    @staticmethod
    def program_of(h: Hypothesis) -> str | None:
        return h.program or extract_program(h.text)

    def apply(self, requests: list[ApplyRequest]) -> list[Answer]:
        for r in requests:
            check_python_suite(r.task.suite, r.task.answer_type)
        programs = [self.program_of(r.hypothesis) for r in requests]
        runnable = [(p, r.input) for p, r in zip(programs, requests) if p]
        results = iter(run_programs(runnable, self.timeout_s, self.memory_mb, self.workers, self.unsafe_sandbox))
        return [Answer(next(results) if p else "error: no python program in the rule") for p in programs]

    def usage(self) -> Usage:
        return Usage()


def check_python_suite(suite: str, answer_type: str) -> None:
    """The python follower serves list answers only; say what to use instead."""
    if answer_type not in PythonFollower.answer_types:
        raise RedistillError(
            f"suite {suite!r} has {answer_type} answers, which the python follower cannot produce "
            "(it runs transform(list) -> list); use --follower llm"
        )


def make_follower(name: str, backend: Backend | None = None, prompts: Prompts | None = None, **kw: Any):
    """A rule follower by name: ``llm`` (needs backend and prompts), ``python``, or ``library`` (exact
    interpreters of the rule library, for rules written in its canonical wording)."""
    if name == "llm":
        if backend is None or prompts is None:
            raise RedistillError("the llm follower needs a model backend and prompts")
        return LLMFollower(backend, prompts, **kw)
    if name == "python":
        return PythonFollower(**kw)
    if name == "library":
        from redistill.tasks.generators.followers import LibraryFollower

        return LibraryFollower()
    raise RedistillError(f"unknown follower {name!r}; choose 'llm', 'python' or 'library'")
