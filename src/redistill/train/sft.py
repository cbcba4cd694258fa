"""``redistill train sft``: supervised fine-tuning on rule generation + rule application with TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.train.callbacks import train_logged
from redistill.train.config import SFTRunConfig
from redistill.train.data import data_hash, read_sft_rows, split_eval
from redistill.train.model import load_model, load_tokenizer, lora_config
from redistill.train.outputs import LOG, config_dict, console, finish, prepare_out, summary_table


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
    digest = data_hash(paths)
    train_ds, eval_ds = split_eval(rows, cfg.eval_ratio, cfg.seed)
    cfg.eval_strategy = cfg.eval_strategy if eval_ds is not None else "no"  # before the config is compared
    done, checkpoint = prepare_out(cfg, digest, resume)
    if done is not None:
        console.print(f"[green]sft:[/] {cfg.output_dir} already holds this run; skipping")
        return done
    resolved = config_dict(cfg)
    out = Path(cfg.output_dir)
    trainer = build_trainer(cfg, train_ds, eval_ds)
    train_logged(trainer, out / LOG, "sft", checkpoint)
    meta = {
        "method": "sft",
        "base_model": cfg.model_name_or_path,
        "init": None,
        "data": [str(p) for p in paths],
        "data_hash": digest,
        "only": cfg.only,
        "train_rows": len(train_ds),
        "eval_rows": 0 if eval_ds is None else len(eval_ds),
        "output": str(out),
    }
    manifest = finish(trainer, cfg, meta, not cfg.full, resolved)
    if manifest:
        console.print(summary_table(manifest, "SFT"))
    return manifest
