"""``redistill train sft``: supervised fine-tuning on rule generation + rule application with TRL's SFTTrainer."""

from __future__ import annotations

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


def build_trainer(cfg: SFTRunConfig, train_ds, eval_ds):
    """An SFTTrainer for ``cfg``: LoRA unless ``cfg.full``, loss on the completion (assistant turn) only."""
    from trl import SFTTrainer

    cfg.eval_strategy = cfg.eval_strategy if eval_ds is not None else "no"
    tokenizer = load_tokenizer(cfg.model_name_or_path)
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
