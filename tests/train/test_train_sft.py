"""SFT on the tiny model: the loss falls, the output folder is complete and reloads, runs skip and resume."""

from __future__ import annotations

import json

import pytest
import torch

from redistill.errors import RedistillError
from redistill.train.config import SFTRunConfig, load_config
from redistill.train.sft import run_sft
from tests.train.conftest import SFT_LORA_STEPS


def _logits(model, tokenizer) -> torch.Tensor:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "rule for the list\nInput: [3, 1]"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids["input_ids"]).logits


def test_full_sft_lowers_loss(base_model):
    manifest = json.loads((base_model / "redistill_train.json").read_text())
    assert manifest["adapter"] is False and manifest["only"] == "application"
    assert manifest["last_loss"] < 0.7 * manifest["first_loss"]
    assert (base_model / "model.safetensors").exists() and not (base_model / "adapter_config.json").exists()


def test_sft_lora_lowers_loss_and_writes_a_complete_folder(sft_lora, base_model):
    manifest = json.loads((sft_lora / "redistill_train.json").read_text())
    assert manifest["method"] == "sft" and manifest["adapter"] is True and manifest["steps"] == SFT_LORA_STEPS
    assert manifest["last_loss"] < manifest["first_loss"] - 0.3
    assert manifest["last_eval_loss"] is not None and manifest["eval_rows"] == 4
    assert manifest["config"]["lora_r"] == 8 and len(manifest["data_hash"]) == 64
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "log.jsonl", "loss.png"):
        assert (sft_lora / name).exists(), name
    log = [json.loads(line) for line in (sft_lora / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, SFT_LORA_STEPS + 1))
    assert json.loads((sft_lora / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base_model)


def test_loss_only_on_the_assistant_turn(tiny_model_dir, train_data, tmp_path, fast):
    from redistill.train.data import read_sft_rows, split_eval
    from redistill.train.sft import build_trainer

    cfg = load_config(SFTRunConfig, flags={"model_name_or_path": str(tiny_model_dir), "data_dir": str(train_data),
                                           "output_dir": str(tmp_path), "max_steps": 1, **fast})
    rows, _ = read_sft_rows(train_data, "generation")
    trainer = build_trainer(cfg, split_eval(rows, 0, 0)[0], None)
    tok = trainer.processing_class
    row = trainer.train_dataset[0]
    learned = [label for label in row["labels"] if label != -100]
    assert tok.decode(learned) == row["completion"][0]["content"] + "<|end|>\n"  # the assistant turn, nothing else
    assert row["labels"][: len(row["input_ids"]) - len(learned)] == [-100] * (len(row["input_ids"]) - len(learned))


def test_loss_on_the_prompt_but_not_its_input_lines(tiny_model_dir, train_data, tmp_path, fast):
    from redistill.train.data import read_sft_rows, split_eval
    from redistill.train.sft import build_trainer

    flags = {"model_name_or_path": str(tiny_model_dir), "data_dir": str(train_data), "output_dir": str(tmp_path),
             "max_steps": 1, "completion_only_loss": False, "loss_on_inputs": False, **fast}
    rows, _ = read_sft_rows(train_data)
    trainer = build_trainer(load_config(SFTRunConfig, flags=flags), split_eval(rows, 0, 0)[0], None)
    tok = trainer.processing_class
    for row, source in zip(trainer.train_dataset, rows):
        kept = tok.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
        dropped = tok.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label == -100])
        user = source["prompt"][0]["content"]
        inputs = [line for line in user.splitlines() if line.startswith("Input: ")]
        assert inputs and dropped.split() == " ".join(inputs).split()  # every input line, nothing else
        assert source["completion"][0]["content"] in kept  # the answer and the examples' outputs are learned
        assert all(line in kept for line in user.splitlines() if line.startswith("Output: "))
    with pytest.raises(RedistillError, match="loss_on_inputs"):
        load_config(SFTRunConfig, flags={**flags, "completion_only_loss": True})


def test_saved_adapter_reloads_with_the_same_logits(tiny_model_dir, train_data, tmp_path, fast):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from redistill.train.data import read_sft_rows, split_eval
    from redistill.train.outputs import config_dict, finish
    from redistill.train.sft import build_trainer

    cfg = load_config(SFTRunConfig, flags={"model_name_or_path": str(tiny_model_dir), "data_dir": str(train_data),
                                           "output_dir": str(tmp_path), "max_steps": 5, "learning_rate": 1e-2,
                                           "merge": True, **fast, "bf16": False})  # bf16 autocast stays on the
    rows, _ = read_sft_rows(train_data)                                           # trained model's forward
    trainer = build_trainer(cfg, split_eval(rows, 0, 0)[0], None)
    trainer.train()
    finish(trainer, cfg, {"method": "sft", "base_model": str(tiny_model_dir)}, True, config_dict(cfg))
    tok = trainer.processing_class
    trained = _logits(trainer.model, tok)
    base = _logits(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tok)
    assert not torch.allclose(trained, base, atol=1e-3)  # training changed the model
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tmp_path)
    torch.testing.assert_close(_logits(reloaded, tok), trained, atol=1e-5, rtol=1e-4)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    torch.testing.assert_close(_logits(merged, tok), trained, atol=1e-4, rtol=1e-3)


def test_finished_run_is_skipped_and_a_changed_one_refused(sft_lora, base_model, train_data, sft_flags):
    flags = sft_flags(base_model, train_data, sft_lora)
    before = (sft_lora / "log.jsonl").read_text()
    assert run_sft(load_config(SFTRunConfig, flags=flags))["steps"] == SFT_LORA_STEPS
    assert (sft_lora / "log.jsonl").read_text() == before  # nothing retrained
    with pytest.raises(RedistillError, match="finished training with other settings"):
        run_sft(load_config(SFTRunConfig, flags={**flags, "learning_rate": 1e-3}))


def test_resume_continues_from_the_last_checkpoint(tiny_model_dir, train_data, tmp_path, fast):
    out = tmp_path / "sft"
    flags = {"model_name_or_path": str(tiny_model_dir), "data_dir": str(train_data), "output_dir": str(out),
             "full": True, "save_steps": 3, "learning_rate": 1e-3, **fast}
    run_sft(load_config(SFTRunConfig, flags={**flags, "max_steps": 3}))
    # As if killed right after the step-3 checkpoint of a longer run: a checkpoint, no manifest.
    (out / "redistill_train.json").unlink()
    with open(out / "log.jsonl", "a") as f:  # a line logged after that checkpoint, before the kill
        f.write(json.dumps({"step": 5, "loss": 99.0}) + "\n")
    longer = load_config(SFTRunConfig, flags={**flags, "max_steps": 6})
    with pytest.raises(RedistillError, match="checkpoint-3.*pass --resume"):
        run_sft(longer)
    assert run_sft(longer, resume=True)["steps"] == 6
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]  # 1-3 kept, 4-6 trained after resuming
    assert 99.0 not in [r["loss"] for r in rows if "loss" in r]  # the stale line past the checkpoint is gone


def test_bf16_is_the_default_on_a_cpu_that_has_it_as_cpu_autocast_with_padded_lengths(monkeypatch, tiny_model_dir, train_data, tmp_path, fast):
    """Without a GPU, bf16 (the default where the CPU computes it natively) asks transformers for CPU autocast,
    with batch lengths padded in steps."""
    import torch

    from redistill.train import config as train_config

    if torch.cuda.is_available():
        pytest.skip("a GPU decides bf16 there")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    flags = {"model_name_or_path": str(tiny_model_dir), "data_dir": str(train_data), "output_dir": str(tmp_path),
             **fast}
    cfg = load_config(SFTRunConfig, flags=flags)
    assert train_config._bf16_available() and cfg.bf16 and cfg.use_cpu
    assert cfg.pad_to_multiple_of == train_config.CPU_BF16_PAD  # lengths in steps: no heap fragmentation
    assert load_config(SFTRunConfig, flags={**flags, "pad_to_multiple_of": 8}).pad_to_multiple_of == 8
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    fp32 = load_config(SFTRunConfig, flags=flags)
    assert not fp32.bf16 and fp32.pad_to_multiple_of is None
