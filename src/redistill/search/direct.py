"""The IO baseline: direct few-shot prompting (seen examples + one unseen input -> output).

Every (task, unseen input) pair of every task goes to the backend as one batch. The reference code
samples these answers at temperature 0.6, its default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redistill.llm.types import Backend, Request, SamplingParams
from redistill.prompts import Prompts, direct_messages
from redistill.search.results import TaskMeter, task_row
from redistill.search.scoring import judge
from redistill.tasks.model import Task


def run_direct(
    tasks: list[Task],
    backend: Backend,
    prompts: Prompts,
    temperature: float = 0.6,
    max_tokens: int = 256,
    seed: int | None = None,
    strict: bool = False,
    on_stage: Callable[[str, int], None] | None = None,
) -> list[dict[str, Any]]:
    """One result row per task, with the prompt and raw answer of every unseen example (and
    ``row["error"] = {"stage", "reason"}`` when a call of the task failed for good)."""
    params = SamplingParams(n=1, temperature=temperature, max_tokens=max_tokens, seed=seed)
    pairs = [(t, ex) for t in tasks for ex in t.test]
    messages = [direct_messages(prompts.for_suite(t.suite, t.answer_type), t, ex.input) for t, ex in pairs]
    if on_stage:
        on_stage("answer unseen (io)", len(messages))
    completions = backend.generate([Request(m, params) for m in messages]) if messages else []
    meter = TaskMeter()
    apps: dict[str, list] = {t.key: [] for t in tasks}
    errors: dict[str, str] = {}
    for (t, ex), m, c in zip(pairs, messages, completions):
        text = c.texts[0] if c.texts and c.texts[0] else (f"error: {c.error}" if c.error else "")
        apps[t.key].append(judge(t, ex, text, m, strict))
        meter.add(t.key, c.usage)
        if c.error is not None:
            errors.setdefault(t.key, c.error)
    rows = []
    for t in tasks:
        row = task_row(t, "io", apps[t.key], meter.row(t.key), strict)
        if t.key in errors:  # an outage, not a wrong answer: the runner retries it
            row["error"] = {"stage": "answer unseen (io)", "reason": errors[t.key]}
        rows.append(row)
    return rows
