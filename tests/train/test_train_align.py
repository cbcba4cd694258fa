"""Alignment continues the SFT model; ORPO is response-only and single-EOS; all methods save loadable output."""

from __future__ import annotations

import json

import pytest
import torch

from redistill.errors import RedistillError
from redistill.train.align import build_trainer, run_align
from redistill.train.config import align_config_class, load_config
from redistill.train.data import read_preference_rows, split_eval


def _align_cfg(method, init, data, out, fast, **extra):
    flags = {"init": str(init), "data_dir": str(data), "output_dir": str(out), "max_steps": 2, **fast, **extra}
    return load_config(align_config_class(method), flags=flags)


def _rule_nlls(model, tok, pairs) -> list[float]:
    """Per pair: mean NLL of the chosen rule and its end token, given the prompt (computed directly)."""
    model.eval()
    out = []
    for p in pairs:
        prompt = tok(tok.apply_chat_template(p["prompt"], add_generation_prompt=True, tokenize=False),
                     add_special_tokens=False)["input_ids"]
        rule = tok(p["chosen"][0]["content"] + tok.eos_token, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([prompt + rule])).logits[0, len(prompt) - 1 : -1]
        out.append(torch.nn.functional.cross_entropy(logits, torch.tensor(rule)).item())
    return out


def test_orpo_continues_the_sft_adapter(sft_lora, base_model, train_data, tmp_path, fast):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest = run_align(_align_cfg("orpo", sft_lora, train_data, tmp_path, fast))
    assert manifest["method"] == "orpo" and manifest["adapter"] and manifest["base_model"] == str(base_model)
    first = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    assert first["step"] == 1

    tok = AutoTokenizer.from_pretrained(sft_lora)
    pairs, _ = read_preference_rows(train_data)
    base = _rule_nlls(AutoModelForCausalLM.from_pretrained(base_model), tok, pairs)
    sft = _rule_nlls(PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_model), sft_lora), tok, pairs)
    assert min(base) > max(sft) + 0.1  # SFT moved the rule NLL clearly away from the base model's
    # The first ORPO step's NLL (before any update) is the SFT model's, not the base's or a fresh adapter's.
    assert min(sft) - 0.02 <= first["nll_loss"] <= max(sft) + 0.02

    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_model), tmp_path)
    after = _rule_nlls(reloaded, tok, pairs[:3])
    assert all(abs(a - s) < 0.05 for a, s in zip(after, sft[:3], strict=True))  # small lr: still near SFT


def test_orpo_is_response_only_and_single_eos(sft_lora, train_data, tmp_path, fast):
    from trl.experimental.orpo import ORPOTrainer

    from redistill.train.model import load_for_align

    cfg = _align_cfg("orpo", sft_lora, train_data, tmp_path, fast)
    pairs, _ = read_preference_rows(train_data)
    rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs[:4]]
    ds, _ = split_eval(rows, 0, 0)
    ours, _, _ = build_trainer(cfg, ds, None)
    eos = ours.processing_class.eos_token_id

    for row in ours.train_dataset:
        n_prompt = len(row["prompt_input_ids"])
        for side in ("chosen", "rejected"):
            ids, labels = row[f"{side}_input_ids"], row[f"{side}_labels"]
            assert ids[-1] == eos and ids[n_prompt:].count(eos) == 1  # exactly one EOS, at the end
            assert labels[:n_prompt] == [-100] * n_prompt and labels[n_prompt:] == ids[n_prompt:]

    # TRL 1.16 as shipped: the template's own end token, a newline, then a second EOS.
    stock_model, tok, _ = load_for_align(cfg)
    stock = ORPOTrainer(model=stock_model, args=cfg, train_dataset=ds, processing_class=tok)
    stock_row = stock.train_dataset[0]
    assert stock_row["chosen_input_ids"][len(stock_row["prompt_input_ids"]):].count(eos) == 2

    # Our NLL term is the chosen response's NLL alone; TRL's also counts the prompt tokens.
    batch = ours.data_collator([ours.train_dataset[i] for i in range(2)])
    model = ours.model
    model.eval()
    with torch.no_grad():
        nll = ours.concatenated_forward(model, batch)[4]
        stock_nll = stock.concatenated_forward(model, batch)[4]
        logits = model(batch["chosen_input_ids"], attention_mask=batch["chosen_attention_mask"]).logits
    expected = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), batch["chosen_labels"][:, 1:].reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(nll, expected, atol=1e-4, rtol=1e-4)
    assert abs(stock_nll.item() - nll.item()) > 0.1


@pytest.mark.parametrize(("method", "start_loss"), [("dpo", 0.6931), ("kto", 0.5), ("simpo", None)])
def test_other_methods_start_from_sft_and_save_an_adapter(method, start_loss, sft_lora, base_model, train_data,
                                                          tmp_path, fast):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    manifest = run_align(_align_cfg(method, sft_lora, train_data, tmp_path, fast))
    assert manifest["method"] == method and manifest["adapter"] and manifest["steps"] == 2
    assert not (tmp_path / "ref").exists()  # DPO/KTO's frozen reference copy is not part of the output
    first = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    if start_loss is not None:  # policy == reference (a copy of the SFT adapter) at the first step
        assert first["loss"] == pytest.approx(start_loss, abs=1e-3)
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_model), tmp_path)


def test_align_from_full_weights(base_model, train_data, tmp_path, fast):
    manifest = run_align(_align_cfg("orpo", base_model, train_data, tmp_path, fast))
    assert manifest["adapter"] is False and (tmp_path / "model.safetensors").exists()


def test_align_errors_are_clear(sft_lora, train_data, tmp_path, fast):
    with pytest.raises(RedistillError, match="preference.jsonl: file not found"):
        run_align(_align_cfg("orpo", sft_lora, tmp_path, tmp_path / "o", fast))
    with pytest.raises(RedistillError, match="field 'init': not an SFT output"):
        run_align(_align_cfg("orpo", tmp_path, train_data, tmp_path / "o", fast))
    with pytest.raises(RedistillError, match="drop --full"):
        run_align(_align_cfg("dpo", sft_lora, train_data, tmp_path / "o", fast, full=True))
    only_good = tmp_path / "data"
    only_good.mkdir()
    row = json.loads((train_data / "preference.jsonl").read_text().splitlines()[0])
    row["rejected"] = row["chosen"]  # every rule is both chosen and rejected: no label survives
    (only_good / "preference.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(RedistillError, match="KTO needs both desirable and undesirable"):
        run_align(_align_cfg("kto", sft_lora, only_good, tmp_path / "o", fast))
