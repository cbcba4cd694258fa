"""Augment lines that no longer answer a task of the run, kept in ``RUN_DIR/augment/stale/<suite>.jsonl``.

A line answers a task when its suite and id match, the task still has the seen examples the teacher saw
(``seen_sha256``, where recorded) and its rule prompt is the one the run asks now (the prompts file may
have changed). A task regenerated under the same id with other examples (a changed ``max_row`` or
``max_seen``) is therefore augmented again, never trained on with rules scored on other examples, and
the student is never trained on a prompt other than the one it is evaluated with. With ``exact``
(``redistill run``: the run's task set is the whole data) lines of tasks that are
not in the set are set aside too, so lowering ``n_train`` also lowers the data. Nothing paid for is
deleted: a set-aside line comes back when its task does (same id, same seen examples, same settings).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from pathlib import Path

from redistill.jsonl import read_jsonl_repairing, write_jsonl
from redistill.tasks.model import Task


def seen_hash(task: Task) -> str:
    """SHA-256 of a task's seen examples, recorded in its augment line."""
    data = json.dumps([[e.input, e.output] for e in task.train], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def stale_path(path: Path) -> Path:
    return path.parent / "stale" / path.name


def _key(row: dict) -> tuple[str, str]:
    return str(row.get("suite")), str(row.get("task_id"))


def _answers(row: dict, seen: dict[tuple[str, str], tuple[str, list]]) -> bool:
    want = seen.get(_key(row))
    # lines from before seen_sha256: matched without it
    return want is not None and row.get("seen_sha256") in (None, want[0]) and row.get("prompt") == want[1]


def sort_lines(path: Path, rows: list[dict], tasks: list[Task], exact: bool,
               fits: Callable[[dict], bool], prompt_of: Callable[[Task], list]) -> list[dict]:
    """The lines of ``path`` that answer ``tasks`` (``prompt_of``: a task's rule prompt now), with lines set
    aside earlier that answer one again (and ``fits``: same teacher and settings) moved back; the others
    go to the stale file."""
    seen = {(t.suite, str(t.id)): (seen_hash(t), prompt_of(t)) for t in tasks}
    stays = [_answers(r, seen) or (not exact and _key(r) not in seen) for r in rows]
    keep = [r for r, ok in zip(rows, stays) if ok]
    aside = [r for r, ok in zip(rows, stays) if not ok]
    old = read_jsonl_repairing(stale_path(path))
    have = {_key(r) for r in keep}
    back = []
    for r in old:
        if _key(r) not in have and _answers(r, seen) and fits(r):
            back.append(r)
            have.add(_key(r))
    if not aside and not back:
        return rows
    _move(path, keep + back, aside, old, back)
    if aside:
        warnings.warn(f"{path}: {len(aside)} line(s) answer no task of this run (the task set changed: other ids, "
                      f"other seen examples or another rule prompt); moved to {stale_path(path)}, they come back "
                      "if their tasks do", stacklevel=3)
    return keep + back


def set_aside_file(path: Path) -> None:
    """Move a whole augment file (a suite no longer in the run) to the stale folder, after its earlier lines."""
    _move(path, None, read_jsonl_repairing(path), read_jsonl_repairing(stale_path(path)), [])
    warnings.warn(f"{path}: its suite is not in this run; moved to {stale_path(path)}, its lines come back if the "
                  "suite does", stacklevel=2)


def _move(path: Path, keep: list[dict] | None, aside: list[dict], old: list[dict], back: list[dict]) -> None:
    """Stale file := its ``old`` lines but ``back``, then ``aside``; ``path`` := ``keep`` (None: removed).
    The stale file is written first: a kill between the two writes leaves a line in both, never in neither."""
    restored = {id(r) for r in back}
    write_jsonl(stale_path(path), [r for r in old if id(r) not in restored] + aside)
    if keep is None:
        path.unlink()
    else:
        write_jsonl(path, keep)
