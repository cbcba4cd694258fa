"""One writer per folder and stage: an advisory lock (``fcntl.flock``) on ``FOLDER/.NAME.lock``.

Two processes augmenting, building, training or evaluating into the same place would pay every call
twice and write every line twice. The second one gets an error naming the holder's PID instead.
The kernel drops a ``flock`` when its process dies, however it dies, so a lock left behind by a killed
run never blocks the next one: the file may stay, the lock does not.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redistill.errors import RedistillError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one writer is the user's care
    fcntl = None  # type: ignore[assignment]


def lock_path(folder: str | Path, name: str) -> Path:
    return Path(folder) / f".{name.replace(' ', '-')}.lock"


@contextmanager
def stage_lock(folder: str | Path, name: str, what: str | None = None) -> Iterator[Path]:
    """Hold ``FOLDER/.NAME.lock`` for the block, or raise naming the process that holds it.

    Args:
        folder: the folder the stage writes (created if missing).
        name: the lock's name within the folder (``augment-acre``, ``eval``...).
        what: how the error describes the work (default: ``name``).
    """
    path = lock_path(folder, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(path)
                raise RedistillError(
                    f"{Path(folder)}: another redistill process{holder} is already running {what or name} here; "
                    "wait for it to finish or stop it (two writers would pay every call twice)") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "what": what or name, "since": round(time.time())}).encode())
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        since = time.strftime("%H:%M:%S", time.localtime(info["since"])) if "since" in info else "?"
        return f" (PID {info['pid']}, since {since})" if "pid" in info else ""
    except (OSError, ValueError, KeyError, TypeError):
        return ""
