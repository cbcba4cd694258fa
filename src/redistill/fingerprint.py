"""What a stage left on disk, so a skip can check its outputs are still there and whole.

``fingerprint(paths)`` maps every file under the given files and folders (hidden files, such as
locks, left out) to its size and, for files up to ``HASH_LIMIT`` bytes, its SHA-256. A stage whose
recorded fingerprint differs from the current one (a file deleted, truncated or edited) is redone.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

HASH_LIMIT = 64 * 2**20
"""Larger files (model weights) are checked by size only: hashing gigabytes at every skip costs minutes."""


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                          p.relative_to(path).parts))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(paths: list[Path], root: Path) -> dict[str, Any]:
    """``{path relative to root (``../`` for a sibling folder): [size, sha256 or None]}`` of every file under ``paths``."""
    out: dict[str, Any] = {}
    for p in paths:
        for f in _files(Path(p)):
            size = f.stat().st_size
            out[os.path.relpath(f, root)] = [size, _sha256(f) if size <= HASH_LIMIT else None]
    return out


def changed(recorded: dict[str, Any], paths: list[Path], root: Path) -> str | None:
    """Why the outputs differ from ``recorded`` (a missing or altered file), or None when they match."""
    now = fingerprint(paths, root)
    for name, value in recorded.items():
        if name not in now:
            return f"{name} is missing"
        if list(now[name]) != list(value):
            return f"{name} changed"
    return None
