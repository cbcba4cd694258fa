"""Crash-safe file helpers: atomic writes, whole-line appends, line-numbered reads."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from redistill.errors import located


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Atomically write all rows; returns the count."""
    lines = [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


class JsonlAppender:
    """Append whole JSON lines with flush+fsync, so a kill loses at most the line being written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, row: dict) -> None:
        self._f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode(raw: bytes, path: Path, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise located(path, lineno, None, f"not UTF-8 text (byte {e.start + 1} of the line); is this a binary "
                      "file? A JSONL file holds one JSON object per line") from None


def _lines(path: Path) -> list[bytes]:
    try:
        return path.read_bytes().split(b"\n")
    except IsADirectoryError:
        raise located(path, None, None, "is a folder, not a JSONL file") from None
    except OSError as e:
        raise located(path, None, None, f"cannot read ({e.strerror})") from None


def _parse(path: Path, allow_cut: bool) -> tuple[list[tuple[int, dict]], bool]:
    """The ``(line number, object)`` rows of a JSONL file, and whether its last line was cut (only with
    ``allow_cut``: a kill mid-write, left out). Any other bad line (bad JSON, not an object, not UTF-8
    text) raises an error naming file and line."""
    if not path.exists():
        raise located(path, None, None, "file not found")
    lines = _lines(path)
    rows: list[tuple[int, dict]] = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            if allow_cut and all(not rest.strip() for rest in lines[i + 1 :]) and _cut(raw):
                return rows, True
            _decode(raw, path, i + 1)  # not UTF-8: says so
            raise located(path, i + 1, None, f"not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise located(path, i + 1, None, f"expected a JSON object, got {type(obj).__name__}")
        rows.append((i + 1, obj))
    return rows, False


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)``; a malformed line (bad JSON, not an object, not UTF-8) raises an
    error naming file and line."""
    yield from _parse(Path(path), allow_cut=False)[0]


def read_jsonl(path: str | Path) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path)]


def _cut(raw: bytes) -> bool:
    """A line a kill cut short: the start of a JSON object, where at most the last UTF-8 character is cut
    in two (a binary file is no cut line)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.end != len(raw) or e.reason != "unexpected end of data":
            return False
    return b"\0" not in raw and raw.lstrip()[:1] == b"{"


def parse_appended(path: Path) -> tuple[list[tuple[int, dict]], bool]:
    """The rows of an append-only JSONL file, and whether its last line was cut (a kill mid-write: bad
    JSON or a UTF-8 character cut in two), which is left out; any other bad line is an error."""
    return _parse(Path(path), allow_cut=True)


def read_jsonl_repairing(path: str | Path) -> list[dict]:
    """Read an append-only JSONL file, dropping a truncated last line (a kill mid-write).

    The file is rewritten without that line, with a warning. A bad line anywhere else is an error.
    """
    path = Path(path)
    if not path.exists():
        return []
    rows, cut = parse_appended(path)
    if cut:
        line = rows[-1][0] + 1 if rows else 1
        warnings.warn(f"{path}:{line}: dropping a truncated last line (interrupted write)", stacklevel=2)
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for _, r in rows))
    return [r for _, r in rows]
