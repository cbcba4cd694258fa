"""Read the build stage's files into TRL-ready datasets, checking every row and naming bad ones.

SFT rows become TRL's *conversational prompt-completion* format (``prompt``: the user turn,
``completion``: the assistant turn), so the loss falls on the assistant turn for any chat template,
with or without ``{% generation %}`` tags. Preference rows keep TRL's ``prompt/chosen/rejected``
layout; KTO rows (``prompt/completion/label``) are derived from them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError, located
from redistill.jsonl import iter_jsonl

GENERATION = "rule_generation.jsonl"
APPLICATION = "rule_application.jsonl"
PREFERENCE = "preference.jsonl"
SFT_PARTS = {"generation": GENERATION, "application": APPLICATION}


def _data_file(data_dir: str | Path, name: str) -> Path:
    path = Path(data_dir) / name
    if not path.exists():
        raise located(path, None, None, "file not found; run `redistill build` first, or point --data at RUN_DIR/data")
    return path


def data_hash(paths: list[Path]) -> str:
    """sha256 over the files' names and bytes: recorded in the output so a model names its data."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _turns(path: Path, line: int, row: dict, key: str, role: str) -> list[dict[str, str]]:
    """``row[key]`` as a non-empty list of chat turns with string content."""
    turns = row.get(key)
    if not isinstance(turns, list) or not turns:
        raise located(path, line, key, "missing or empty; expected a list of {'role', 'content'} turns")
    for t in turns:
        if not isinstance(t, dict) or not isinstance(t.get("content"), str) or not isinstance(t.get("role"), str):
            raise located(path, line, key, "each turn needs string 'role' and 'content'")
    if role == "assistant" and any(t["role"] != "assistant" for t in turns):
        raise located(path, line, key, "expected assistant turns only")
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def read_sft_rows(data_dir: str | Path, only: str | None = None) -> tuple[list[dict], list[Path]]:
    """Rule generation and/or rule application rows as ``{"prompt": [...], "completion": [...]}``."""
    if only is not None and only not in SFT_PARTS:
        raise RedistillError(f"field 'only': unknown value {only!r}; use one of {sorted(SFT_PARTS)} or leave it unset")
    names = [SFT_PARTS[only]] if only else [GENERATION, APPLICATION]
    rows, paths = [], []
    for name in names:
        path = _data_file(data_dir, name)
        paths.append(path)
        for line, row in iter_jsonl(path):
            messages = _turns(path, line, row, "messages", "any")
            if messages[-1]["role"] != "assistant" or len(messages) < 2:
                raise located(path, line, "messages", "must end with an assistant turn after at least one prompt turn")
            rows.append({"prompt": messages[:-1], "completion": messages[-1:]})
        if not rows:
            raise located(path, None, None, "no rows; nothing to train on")
    return rows, paths


def read_preference_rows(data_dir: str | Path) -> tuple[list[dict], list[Path]]:
    """Preference pairs as ``{"prompt", "chosen", "rejected", "score_chosen", "score_rejected"}``."""
    path = _data_file(data_dir, PREFERENCE)
    rows = []
    for line, row in iter_jsonl(path):
        out: dict[str, Any] = {
            "prompt": _turns(path, line, row, "prompt", "any"),
            "chosen": _turns(path, line, row, "chosen", "assistant"),
            "rejected": _turns(path, line, row, "rejected", "assistant"),
        }
        for key in ("score_chosen", "score_rejected"):
            if not isinstance(row.get(key), (int, float)):
                raise located(path, line, key, "missing or not a number (the augment score of that rule)")
            out[key] = float(row[key])
        rows.append(out)
    if not rows:
        raise located(path, None, None, "no preference pairs; nothing to align on")
    return rows, [path]


def kto_rows(pairs: list[dict]) -> list[dict]:
    """Unpaired KTO rows from preference pairs: chosen rules are desirable, rejected ones undesirable.

    A rule appears once per prompt. One that is chosen in one pair and rejected in another (a
    middle-scoring rule) has no clear label and is left out.
    """
    labels: dict[tuple[str, str], set[bool]] = {}
    turns: dict[tuple[str, str], tuple[list, list]] = {}
    for p in pairs:
        prompt_key = repr(p["prompt"])
        for key, label in (("chosen", True), ("rejected", False)):
            k = (prompt_key, repr(p[key]))
            labels.setdefault(k, set()).add(label)
            turns[k] = (p["prompt"], p[key])
    return [
        {"prompt": turns[k][0], "completion": turns[k][1], "label": next(iter(seen))}
        for k, seen in labels.items()
        if len(seen) == 1
    ]


def split_eval(rows: list[dict], ratio: float, seed: int):
    """A ``datasets.Dataset`` and its held-out part (``None`` when ``ratio`` leaves fewer than one row)."""
    from datasets import Dataset

    ds = Dataset.from_list(rows)
    n_eval = int(round(len(rows) * ratio))
    if ratio <= 0 or n_eval < 1 or n_eval >= len(rows):
        return ds, None
    parts = ds.train_test_split(test_size=n_eval, seed=seed, shuffle=True)
    return parts["train"], parts["test"]
