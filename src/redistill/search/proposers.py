"""Rule proposers backed by a model: one batched ``generate`` for all tasks, ``n`` samples each."""

from __future__ import annotations

import warnings

from redistill.llm.types import Backend, Request, SamplingParams, Usage
from redistill.prompts import Prompts, generate_program_messages, generate_rule_messages
from redistill.search.followers import extract_program
from redistill.search.types import Hypothesis, Messages, Proposal
from redistill.tasks.model import Task

IDENTICAL_AFTER = 3
"""Requests whose samples must all have come back identical before that is worth a warning."""


class ModelProposer:
    """Samples hypotheses with the rule-generation prompt (or, with ``program=True``, the
    program-generation prompt, extracting the ```python block into ``Hypothesis.program``)."""

    name = "model"

    def __init__(self, backend: Backend, prompts: Prompts, temperature: float = 0.9, max_tokens: int = 512,
                 program: bool = False, seed: int | None = None):
        self.backend, self.prompts = backend, prompts
        self.temperature, self.max_tokens, self.program, self.seed = temperature, max_tokens, program, seed
        self._usage = Usage()
        self.rounds = 0
        self._warned: bool | None = None
        self._sampled = 0

    def messages(self, task: Task) -> Messages:
        p = self.prompts.for_suite(task.suite, task.answer_type)
        return generate_program_messages(p, task) if self.program else generate_rule_messages(p, task)

    def propose(self, tasks: list[Task], n: int) -> list[Proposal]:
        """A failed request's hypotheses are empty texts with ``meta["error"]``: never rules to score."""
        # each call is a new round of samples: shift the seed so rounds do not repeat each other
        seed = None if self.seed is None else self.seed + self.rounds
        params = SamplingParams(n=n, temperature=self.temperature, max_tokens=self.max_tokens, seed=seed)
        prompts = [self.messages(t) for t in tasks]
        completions = self.backend.generate([Request(p, params) for p in prompts]) if tasks else []
        self.rounds += 1
        self._warn_if_identical(completions, n)
        out = []
        for p, c in zip(prompts, completions):
            self._usage = self._usage + c.usage
            texts = (list(c.texts) + [""] * n)[:n]
            meta = {"error": c.error} if c.error else {}
            hyps = [Hypothesis(t, extract_program(t) if self.program else None, dict(meta)) for t in texts]
            out.append(Proposal(hyps, p, c.usage, 1, c.error))
        return out

    def _warn_if_identical(self, completions: list, n: int) -> None:
        """The n samples at temperature > 0 of every request so far (at least ``IDENTICAL_AFTER``) all the
        same: the server likely ignores temperature, and one rule makes no preference pair. Said once."""
        if self._warned is not None or n < 2 or self.temperature <= 0:
            return
        for c in completions:
            if c.error is None and len(c.texts) > 1:
                self._sampled += 1
                if len(set(c.texts)) > 1:
                    self._warned = False  # the server does sample: never warn
                    return
        if self._sampled >= IDENTICAL_AFTER:
            self._warned = True
            warnings.warn(
                f"{self.backend.spec}: all {n} rule samples of each of {self._sampled} request(s) at temperature "
                f"{self.temperature:g} are identical; the server may ignore temperature (check its sampling "
                "settings), and identical rules give no preference pairs", stacklevel=2)

    def usage(self) -> Usage:
        return self._usage
