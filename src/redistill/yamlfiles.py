"""YAML config files and ``--set key=value`` overrides, shared by the training and pipeline configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from redistill.errors import RedistillError


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping; a missing file or a syntax error names the file (and line)."""
    path = Path(path)
    if not path.exists():
        raise RedistillError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise RedistillError(f"{path}{line}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    if not isinstance(data, dict):
        raise RedistillError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def parse_sets(sets: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` with YAML-parsed values (``lr=1e-4``, ``full=true``, ``x=[1,2]``)."""
    out: dict[str, Any] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RedistillError(f"--set {item!r}: expected key=value")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out
