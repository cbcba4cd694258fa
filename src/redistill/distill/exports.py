"""Other formats of the built data: a ``datasets.DatasetDict`` on disk, and LLaMA-Factory files."""

from __future__ import annotations

import shutil
from pathlib import Path

from redistill.jsonl import write_json


def save_hf(path: Path, splits: dict[str, list[dict]]) -> None:
    """Save one split per dataset with ``DatasetDict.save_to_disk``, swapped into place whole."""
    from datasets import Dataset, DatasetDict
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    dd = DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()})
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # our own output is the summary table
    try:
        dd.save_to_disk(str(tmp))
    finally:
        if not quiet:
            enable_progress_bars()
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def _user_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] != "assistant")


def to_alpaca(messages: list[dict]) -> dict[str, str]:
    """Alpaca as the reference release wrote it: the prompt split at its first ``Input:``."""
    prompt = _user_text(messages)
    cut = prompt.find("Input:")
    cut = len(prompt) if cut < 0 else cut
    return {"instruction": prompt[:cut], "input": prompt[cut:], "output": messages[-1]["content"]}


def to_sharegpt_pair(row: dict) -> dict:
    return {
        "conversations": [{"from": "human", "value": _user_text(row["prompt"])}],
        "chosen": {"from": "gpt", "value": row["chosen"][-1]["content"]},
        "rejected": {"from": "gpt", "value": row["rejected"][-1]["content"]},
    }


DATASET_INFO = {
    "redis_rule_generation": {"file_name": "rule_generation.json"},
    "redis_rule_application": {"file_name": "rule_application.json"},
    "redis_preference": {
        "file_name": "preference.json",
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
    },
}


def export_llama_factory(out_dir: Path, generation: list[dict], application: list[dict],
                         preference: list[dict]) -> None:
    """Alpaca SFT files, a sharegpt ranking file and ``dataset_info.json``: copy the folder's files
    into LLaMA-Factory's ``data/`` (merging the ``dataset_info.json`` entries)."""
    write_json(out_dir / "rule_generation.json", [to_alpaca(r["messages"]) for r in generation])
    write_json(out_dir / "rule_application.json", [to_alpaca(r["messages"]) for r in application])
    write_json(out_dir / "preference.json", [to_sharegpt_pair(r) for r in preference])
    write_json(out_dir / "dataset_info.json", DATASET_INFO)
