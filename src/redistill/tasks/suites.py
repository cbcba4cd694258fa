"""Suites: the four published benchmarks (registered by name) and custom JSONL suites.

A suite file holds one task per line: ``{"idx", "train": [{"input", "output"}...], "test": [...]}``.
It is found from a file path, or a data folder in the published layout (``--data`` or the
``REDISTILL_DATA`` environment variable).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError, located
from redistill.jsonl import iter_jsonl
from redistill.tasks.answers import ANSWER_TYPES, get_answer_type
from redistill.tasks.model import Example, Task

SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class Suite:
    name: str
    answer_type: str
    """``list``, ``label`` or ``tokens``: how answers are parsed and compared."""
    relpath: str | None = None
    """Where the file lies inside a data folder in the published layout."""
    margin: int = 1
    """Preference-pair score margin: a pair needs ``score(chosen) - score(rejected) > margin``."""
    description: str = ""

    @property
    def checker(self):
        return get_answer_type(self.answer_type)


SUITES: dict[str, Suite] = {}
ALIASES: dict[str, str] = {}


def register_suite(suite: Suite, aliases: Sequence[str] = ()) -> Suite:
    SUITES[suite.name] = suite
    for alias in aliases:
        ALIASES[alias] = suite.name
    return suite


register_suite(Suite("1d_arc", "list", "1d_arc/1D_arc.jsonl", 1, "1D-ARC: 1-D grid puzzles, 18 transformation types"),
               ["1d-arc", "1darc", "arc1d"])
register_suite(Suite("list_func", "list", "list_func/list_function.jsonl", 3, "List Function: 250 list concepts"),
               ["list_function", "list-func", "listfunc"])
register_suite(Suite("acre", "label", "acre/acre.jsonl", 2, "ACRE: causal induction (blicket detector)"), [])
register_suite(Suite("scan", "tokens", "scan/scan.jsonl", 4, "MiniSCAN: pseudoword grammar to colour tokens"),
               ["miniscan", "mini_scan"])


def get_suite(name: str, answer_type: str | None = None) -> Suite:
    """A registered suite by name or alias; any other name is a custom suite and needs an answer type."""
    key = ALIASES.get(name.lower(), name.lower())
    if key in SUITES:
        return SUITES[key]
    if answer_type is None:
        raise RedistillError(
            f"unknown suite {name!r}; known suites: {', '.join(SUITES)}. "
            f"For a custom suite give its file with --data and its answer type ({', '.join(ANSWER_TYPES)})."
        )
    get_answer_type(answer_type)  # validates the name
    return Suite(name, answer_type)


def default_data_dir() -> Path | None:
    value = os.environ.get("REDISTILL_DATA")
    return Path(value) if value else None


def resolve_path(suite: Suite, data: str | Path | None = None) -> Path:
    """The suite's JSONL file, from a file path, a data folder, or ``REDISTILL_DATA``."""
    root = Path(data) if data is not None else default_data_dir()
    if root is None:
        raise RedistillError(
            f"no data for suite {suite.name!r}: pass --data (a JSONL file or a folder in the published layout) "
            "or set REDISTILL_DATA"
        )
    if root.is_file():
        return root
    if root.is_dir():
        if suite.relpath is None:
            raise RedistillError(f"custom suite {suite.name!r} needs --data to be its JSONL file, not a folder ({root})")
        path = root / suite.relpath
        if not path.exists():
            raise RedistillError(f"{path}: file not found (suite {suite.name!r} in data folder {root})")
        return path
    raise RedistillError(f"{root}: file not found")


def _value(raw: Any, path: Path, lineno: int, where: str, answer_type: str, is_output: bool) -> Any:
    if isinstance(raw, list):
        # JSON lists: list suites keep the published string form; other suites keep the list (ACRE objects)
        return str(raw) if (answer_type == "list" or is_output) else raw
    if isinstance(raw, (str, int, float)):
        return str(raw)
    raise located(path, lineno, where, f"expected a string or list, got {type(raw).__name__}")


def _examples(raw: Any, path: Path, lineno: int, key: str, answer_type: str) -> list[Example]:
    if not isinstance(raw, list):
        raise located(path, lineno, key, f"expected a list of examples, got {type(raw).__name__}")
    out = []
    for i, ex in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(ex, dict):
            raise located(path, lineno, where, "expected an object with 'input' and 'output'")
        for f in ("input", "output"):
            if f not in ex:
                raise located(path, lineno, f"{where}.{f}", "missing")
        meta = {k: v for k, v in ex.items() if k not in ("input", "output")}
        out.append(Example(
            _value(ex["input"], path, lineno, f"{where}.input", answer_type, False),
            _value(ex["output"], path, lineno, f"{where}.output", answer_type, True),
            meta,
        ))
    return out


def parse_task(obj: dict, suite: Suite, path: Path, lineno: int) -> Task:
    for key in ("train", "test"):
        if key not in obj:
            raise located(path, lineno, key, "missing (every task needs 'train' and 'test' lists; 'test' may be empty)")
    train = _examples(obj["train"], path, lineno, "train", suite.answer_type)
    if not train:
        raise located(path, lineno, "train", "empty: a task needs at least one seen example")
    test = _examples(obj["test"], path, lineno, "test", suite.answer_type)
    task_id = obj.get("idx", obj.get("id", lineno - 1))
    if isinstance(task_id, bool) or not isinstance(task_id, (int, str)):
        field = "idx" if "idx" in obj else "id"
        raise located(path, lineno, field, f"a task id is an integer or a string, got {type(task_id).__name__} "
                      f"{json.dumps(task_id)[:40]}")
    meta = {k: v for k, v in obj.items() if k not in ("idx", "id", "train", "test")}
    return Task(task_id, suite.name, train, test, meta, suite.answer_type)


def load_file(path: str | Path, suite: Suite) -> list[Task]:
    path = Path(path)
    tasks = [parse_task(obj, suite, path, lineno) for lineno, obj in iter_jsonl(path)]
    if not tasks:
        raise located(path, None, None, f"no tasks in this file (suite {suite.name!r}); a suite file holds one "
                      "task per line: {\"idx\", \"train\": [...], \"test\": [...]}")
    seen: dict[Any, int] = {}
    for t in tasks:
        if t.id in seen:
            raise located(path, None, "idx", f"task id {t.id!r} appears twice")
        seen[t.id] = 1
    return tasks


def split_tasks(tasks: list[Task], split: str = "all", ids: Sequence[Any] | None = None) -> list[Task]:
    """Select tasks. ``test`` reproduces the published split exactly: shuffle with ``random.seed(10)``,
    the first ``int(0.9 n)`` are train and the rest test. ``ids`` picks tasks by id (in file order)."""
    if ids is not None:
        wanted = {str(i) for i in ids}
        chosen = [t for t in tasks if str(t.id) in wanted]
        missing = wanted - {str(t.id) for t in chosen}
        if missing:
            raise RedistillError(f"task ids not found: {', '.join(sorted(missing))}")
        return chosen
    if split == "all":
        return list(tasks)
    if split not in SPLITS:
        raise RedistillError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)} (or give task ids)")
    shuffled = list(tasks)
    random.Random(10).shuffle(shuffled)  # same sequence as random.seed(10); random.shuffle(...)
    cut = int(0.9 * len(shuffled))
    return shuffled[:cut] if split == "train" else shuffled[cut:]


def load_tasks(
    suite: str,
    data: str | Path | None = None,
    split: str = "all",
    ids: Sequence[Any] | None = None,
    limit: int | None = None,
    answer_type: str | None = None,
) -> list[Task]:
    """Load a suite's tasks: the one call every stage uses."""
    s = get_suite(suite, answer_type)
    if s.relpath is None and data is None:
        raise RedistillError(f"custom suite {suite!r} needs --data pointing at its JSONL file")
    path = resolve_path(s, data)
    every = load_file(path, s)
    tasks = split_tasks(every, split, ids)
    if not tasks:
        raise RedistillError(f"{path}: split {split!r} of its {len(every)} task(s) is empty (test takes the last "
                             "10%, train the first 90%); use --split all, or a file with more tasks")
    if limit is not None and limit < 1:
        raise RedistillError(f"--limit must be at least 1, got {limit}")
    return tasks[:limit] if limit is not None else tasks
