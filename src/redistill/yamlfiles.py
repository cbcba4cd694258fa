"""YAML config files and ``--set key=value`` overrides, shared by the training and pipeline configs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from redistill.errors import RedistillError

_BOOL = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off as booleans, so
    ``save_strategy: no`` or an ACRE label ``on`` silently became False/True."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str) -> Any:
    """Parse YAML text with the safe loader and YAML 1.2 booleans."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping; a missing file or a syntax error names the file (and line)."""
    path = Path(path)
    if not path.exists():
        raise RedistillError(f"{path}: config file not found")
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
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
        out[key.strip()] = load_yaml(value) if value.strip() else None
    return out
