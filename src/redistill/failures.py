"""Tasks whose model calls failed for good (an outage, a rejected request): a file per suite, never data.

``FOLDER/<suite>.failures.json`` holds one entry per unfinished task::

    [{"suite", "task_id", "stage", "reason", "time"}, ...]

A task listed here is not in ``<suite>.jsonl``: a re-run retries it (paying only for the calls that
failed, the cache holds the others) and removes it from this file once it finishes. The file is
rewritten atomically after every chunk and deleted when no failure is left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from redistill.errors import located
from redistill.jsonl import atomic_write_text

SUFFIX = ".failures.json"


def failures_path(folder: str | Path, suite: str) -> Path:
    return Path(folder) / f"{suite}{SUFFIX}"


class FailureLog:
    """The failures of one suite's tasks, keyed by ``(suite, task_id)``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        if self.path.exists():
            try:
                rows = json.loads(self.path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise located(self.path, None, None, f"not a failures file ({e}); delete it to retry every "
                              "unfinished task") from None
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise located(self.path, None, None, "expected a JSON list of objects; delete it to retry "
                              "every unfinished task")
            for r in rows:
                self.entries[(str(r.get("suite")), str(r.get("task_id")))] = r

    def record(self, suite: str, task_id: Any, stage: str, reason: str) -> None:
        self.entries[(suite, str(task_id))] = {"suite": suite, "task_id": task_id, "stage": stage,
                                               "reason": reason, "time": round(time.time(), 3)}

    def clear(self, suite: str, task_id: Any) -> None:
        self.entries.pop((suite, str(task_id)), None)

    def __len__(self) -> int:
        return len(self.entries)

    def save(self) -> None:
        if not self.entries:
            self.path.unlink(missing_ok=True)
            return
        atomic_write_text(self.path, json.dumps(list(self.entries.values()), indent=2, ensure_ascii=False) + "\n")

    def sample(self, k: int = 1) -> str:
        """The first ``k`` failures as ``task T (stage): reason``, for a message."""
        items = list(self.entries.values())[:k]
        return "; ".join(f"task {e['task_id']} ({e['stage']}): {e['reason']}" for e in items)
