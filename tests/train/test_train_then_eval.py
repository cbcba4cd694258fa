"""Training outputs load straight into ``redistill eval``: a LoRA adapter on its base (``--adapter``) and
full fine-tuned weights as ``hf:DIR``."""

from __future__ import annotations

import json

from redistill.cli import main
from redistill.jsonl import read_jsonl
from tests.search.fixtures import LIST_TASKS, write_tasks


def evaluate(tmp_path, name: str, model: str, *extra: str) -> tuple[dict, list[dict]]:
    data = write_tasks(tmp_path / "lists.jsonl", LIST_TASKS)
    out = tmp_path / name
    try:
        main(["eval", "--model", model, *extra, "--suite", "list_func", "--data", str(data), "--split", "all",
              "--hypotheses", "3", "--max-tokens", "8", "--seed", "0", "--no-cache", "--out", str(out)])
    except SystemExit as e:
        assert not e.code
    return json.loads((out / "config.json").read_text()), read_jsonl(out / "list_func.jsonl")


def rules_of(rows: list[dict]) -> list[list[str]]:
    return [[r["rule"] for r in row["rules"]] for row in rows]


def test_full_weights_and_lora_adapter_evaluate(tiny_model_dir, base_model, sft_lora, tmp_path):
    # base_model is the output folder of a full fine-tune (run_sft with full=True) of the random tiny model
    manifest = json.loads((base_model / "redistill_train.json").read_text())
    assert manifest["adapter"] is False and (base_model / "model.safetensors").exists()
    raw_cfg, raw_rows = evaluate(tmp_path, "raw", f"hf:{tiny_model_dir}")
    base_cfg, base_rows = evaluate(tmp_path, "full", f"hf:{base_model}")
    assert base_cfg["backend"]["weights"] != raw_cfg["backend"]["weights"]
    assert rules_of(base_rows) != rules_of(raw_rows)  # same seeds and prompts: the trained weights answer

    assert (sft_lora / "adapter_config.json").exists() and not (sft_lora / "model.safetensors").exists()
    cfg, rows = evaluate(tmp_path, "sft", f"hf:{base_model}", "--adapter", str(sft_lora))
    [adapter] = cfg["backend"]["adapters"]
    assert adapter["path"] == str(sft_lora) and adapter["sha256"]
    assert cfg["backend"]["weights"] == base_cfg["backend"]["weights"] and base_cfg["backend"]["adapters"] == []
    assert len(rows) == len(base_rows) == 4 and all(len(r["rules"]) >= 1 for r in rows)
    assert rules_of(rows) != rules_of(base_rows)  # what differs is the adapter
