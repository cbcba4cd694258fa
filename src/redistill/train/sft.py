"""``redistill train sft``: supervised fine-tuning on rule generation + rule application with TRL's SFTTrainer."""

from __future__ import annotations

import re
from typing import Any

from redistill.errors import RedistillError
from redistill.train.config import SFTRunConfig
from redistill.train.data import read_sft_rows
from redistill.train.model import load_model, load_tokenizer, lora_config
from redistill.train.outputs import run_training


def _check(cfg: SFTRunConfig) -> None:
    for name in ("model_name_or_path", "data_dir", "output_dir"):
        if not getattr(cfg, name):
            flag = {"model_name_or_path": "--model", "data_dir": "--data", "output_dir": "--out"}[name]
            raise RedistillError(f"field '{name}': missing; pass {flag}")


INPUT_LINE = re.compile(r"^Input: .*$", re.MULTILINE)


def mask_input_lines(ds, tokenizer):
    """Rows tokenized with their chat template, ``labels`` -100 on the tokens of every ``Input:`` line (the
    examples' inputs and the input a rule is applied to: random values no model can predict), so the loss
    falls on the outputs, the instructions and the answer. TRL trains pre-tokenized rows as they are."""

    def one(row):
        text = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        spans = [m.span() for m in INPUT_LINE.finditer(text)]
        labels = [-100 if any(a <= lo < b for a, b in spans) else tok
                  for tok, (lo, _) in zip(enc["input_ids"], enc["offset_mapping"])]
        return {"input_ids": enc["input_ids"], "labels": labels}

    return None if ds is None else ds.map(one, remove_columns=ds.column_names)


def build_trainer(cfg: SFTRunConfig, train_ds, eval_ds):
    """An SFTTrainer for ``cfg``: LoRA unless ``cfg.full``, loss on the completion (assistant turn) only
    (unless ``completion_only_loss`` is off; then ``loss_on_inputs`` off masks the prompts' inputs)."""
    from trl import SFTTrainer

    cfg.eval_strategy = cfg.eval_strategy if eval_ds is not None else "no"
    tokenizer = load_tokenizer(cfg.model_name_or_path)
    if not cfg.loss_on_inputs:
        train_ds, eval_ds = mask_input_lines(train_ds, tokenizer), mask_input_lines(eval_ds, tokenizer)
    model = load_model(cfg.model_name_or_path)
    try:
        return SFTTrainer(
            model=model,
            args=cfg,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            peft_config=None if cfg.full else lora_config(cfg),
        )
    except ValueError as e:  # TRL's own config checks name the field and the fix
        raise RedistillError(f"TRL rejected the SFT configuration: {e}") from None


def run_sft(cfg: SFTRunConfig, resume: bool = False) -> dict[str, Any]:
    """Train, save and describe an SFT model in ``cfg.output_dir``; returns the manifest.

    A finished run with the same config and data is skipped; ``resume`` continues from the last checkpoint.
    """
    _check(cfg)
    rows, paths = read_sft_rows(cfg.data_dir, cfg.only)

    def trainer(cfg, train_ds, eval_ds):
        return build_trainer(cfg, train_ds, eval_ds), cfg.model_name_or_path, not cfg.full

    return run_training(cfg, "sft", "SFT", rows, paths, trainer, resume, only=cfg.only)
