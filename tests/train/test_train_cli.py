"""``redistill train sft`` then ``train align`` end to end through the CLI; errors print as one line."""

from __future__ import annotations

import json

import pytest

from redistill.cli import main


def test_cli_sft_then_align(tiny_model_dir, train_data, tmp_path, capsys):
    sft, orpo = tmp_path / "sft", tmp_path / "orpo"
    fast = ["--set", "logging_steps=1", "--set", "activation_checkpointing=false", "--grad-accum", "1"]
    main(["train", "sft", "--model", str(tiny_model_dir), "--data", str(train_data), "--out", str(sft), "--full",
          "--max-steps", "3", "--lr", "1e-3", "--batch-size", "4", "--seed", "7", *fast])
    manifest = json.loads((sft / "redistill_train.json").read_text())
    assert manifest["steps"] == 3 and manifest["config"]["seed"] == 7 and manifest["adapter"] is False
    main(["train", "align", "--init", str(sft), "--data", str(train_data), "--out", str(orpo), "--method", "orpo",
          "--max-steps", "2", "--batch-size", "2", *fast])
    aligned = json.loads((orpo / "redistill_train.json").read_text())
    assert aligned["method"] == "orpo" and aligned["init"] == str(sft) and aligned["config"]["beta"] == 0.1
    assert (orpo / "loss.png").stat().st_size > 1000


def test_cli_errors_are_one_line(sft_lora, train_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "align", "--init", str(sft_lora), "--data", str(train_data), "--out", str(tmp_path),
              "--method", "ppo"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown alignment method 'ppo'" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["train", "sft", "--model", "x", "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "rule_generation.jsonl: file not found" in capsys.readouterr().err
