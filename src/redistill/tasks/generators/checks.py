"""Checks every generated task passes; a task that fails one is drawn again."""

from __future__ import annotations

import json

from redistill.tasks.model import Task


def _key(value) -> str:
    return json.dumps(value) if isinstance(value, list) else str(value)


def check_task(family, task: Task) -> list[str]:
    """Problems with a generated task (empty when it is sound).

    The stored rule must map back to the library and reproduce every example; no example input may
    repeat; unseen inputs must not copy seen ones; and the family's own check (ACRE / MiniSCAN: the
    unseen answers are determined by the seen examples) must pass.
    """
    problems: list[str] = []
    rule = family.lookup(task.meta.get("rule", {}).get("text", ""))
    if rule is None:
        return ["the stored rule text is not a library rule"]
    for where, examples in (("train", task.train), ("test", task.test)):
        for i, e in enumerate(examples):
            if family.apply(rule, e.input) != e.output:
                problems.append(f"{where}[{i}]: the rule does not reproduce the output")
    seen = [_key(e.input) for e in task.train]
    unseen = [_key(e.input) for e in task.test]
    if len(set(seen)) != len(seen) or len(set(unseen)) != len(unseen):
        problems.append("duplicate example inputs")
    if set(seen) & set(unseen):
        problems.append("an unseen example copies a seen one")
    extra = getattr(family, "check", None)
    if extra is not None:
        problems += extra(task)
    return problems
