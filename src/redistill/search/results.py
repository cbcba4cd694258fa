"""One result row per task, the same shape for every method (one line of ``DIR/<suite>.jsonl``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from redistill.llm.types import Usage
from redistill.search.types import Answer, Application, ApplyRequest, Messages, RuleFollower
from redistill.tasks.model import Task


class TaskMeter:
    """Tokens and model calls attributed to each task (by ``Task.key``) across batched stages."""

    def __init__(self) -> None:
        self.usage: dict[str, Usage] = defaultdict(Usage)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, key: str, usage: Usage | None, calls: int = 1) -> None:
        self.usage[key] = self.usage[key] + (usage or Usage())
        self.calls[key] += calls

    def row(self, key: str) -> dict[str, int]:
        u = self.usage[key]
        return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "calls": self.calls[key]}


class MeteredFollower:
    """A follower whose answers' usage and calls are charged to their tasks in a ``TaskMeter``;
    ``on_stage(stage, n)`` is told before each batch (it drives the progress display)."""

    def __init__(self, inner: RuleFollower, meter: TaskMeter, stage: str = "",
                 on_stage: Callable[[str, int], None] | None = None):
        self.inner, self.meter, self.stage, self.on_stage = inner, meter, stage, on_stage
        self.name = inner.name

    def apply(self, requests: list[ApplyRequest]) -> list[Answer]:
        if self.on_stage:
            self.on_stage(self.stage, len(requests))
        answers = self.inner.apply(requests)
        for r, a in zip(requests, answers):
            self.meter.add(r.task.key, a.usage, a.calls)
        return answers

    def usage(self) -> Usage:
        return self.inner.usage()


def prediction_json(app: Application, example_meta: dict[str, Any]) -> dict[str, Any]:
    d = app.to_json()
    if "type" in example_meta:
        d["type"] = example_meta["type"]
    return d


def task_row(
    task: Task,
    method: str,
    predictions: list[Application],
    usage: dict[str, int],
    strict: bool,
    rules: list[dict] | None = None,
    chosen: int | None = None,
    rule_prompt: Messages | None = None,
) -> dict[str, Any]:
    """The saved trace of one task: enough to recompute every metric without calling a model again."""
    correct = [bool(a.correct) for a in predictions]
    return {
        "key": task.key,
        "task": task.id,
        "suite": task.suite,
        "answer_type": task.answer_type,
        "method": method,
        "strict": strict,
        "seen": len(task.train),
        "rule_prompt": rule_prompt,
        "rules": rules or [],
        "chosen": chosen,
        "chosen_rule": rules[chosen]["rule"] if rules and chosen is not None else None,
        "predictions": [prediction_json(a, ex.meta) for a, ex in zip(predictions, task.test)],
        "correct": correct,
        "accuracy": sum(correct) / len(correct) if correct else 0.0,
        "task_correct": bool(correct) and all(correct),
        "usage": usage,
    }
