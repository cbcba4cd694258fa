"""``redistill train align``: preference alignment (ORPO, DPO, SimPO or KTO) continuing the SFT model.

The SFT adapter itself is trained further (not a fresh adapter on the base); a full-weights SFT
output is trained in full. KTO's desirable / undesirable labels come from the augment scores
through the preference pairs (``data.kto_rows``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.train.config import AlignFields, DPORunConfig, KTORunConfig, ORPORunConfig, SimPORunConfig
from redistill.train.data import kto_rows, read_preference_rows
from redistill.train.model import describe_init, load_for_align
from redistill.train.outputs import run_training


def method_name(cfg: AlignFields) -> str:
    for name, cls in (("orpo", ORPORunConfig), ("dpo", DPORunConfig), ("simpo", SimPORunConfig), ("kto", KTORunConfig)):
        if isinstance(cfg, cls):
            return name
    raise RedistillError(f"field 'method': no alignment method for {type(cfg).__name__}")


def align_rows(cfg: AlignFields) -> tuple[list[dict], list[Path]]:
    """Rows in the layout the method's trainer reads."""
    pairs, paths = read_preference_rows(cfg.data_dir)
    if isinstance(cfg, KTORunConfig):
        rows = kto_rows(pairs)
        if {r["label"] for r in rows} != {True, False}:
            raise RedistillError(f"{paths[0]}: KTO needs both desirable and undesirable rules; found only one kind")
        return rows, paths
    return [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs], paths


def build_trainer(cfg: AlignFields, train_ds, eval_ds):
    """The method's trainer around the SFT model; returns ``(trainer, base model name, is_adapter)``."""
    from peft import PeftModel
    from trl import DPOTrainer, KTOTrainer

    from redistill.train.trainers import ReDisCPOTrainer, ReDisORPOTrainer

    cfg.eval_strategy = cfg.eval_strategy if eval_ds is not None else "no"
    model, tokenizer, base = load_for_align(cfg)
    trainer_cls = {ORPORunConfig: ReDisORPOTrainer, SimPORunConfig: ReDisCPOTrainer,
                   DPORunConfig: DPOTrainer, KTORunConfig: KTOTrainer}[type(cfg)]
    try:
        trainer = trainer_cls(
            model=model,
            args=cfg,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
        )
    except ValueError as e:  # TRL's own config checks name the field and the fix
        raise RedistillError(f"TRL rejected the {type(cfg).__name__} configuration: {e}") from None
    return trainer, base, isinstance(model, PeftModel)


def _check(cfg: AlignFields) -> None:
    flags = {"init": "--init", "data_dir": "--data", "output_dir": "--out"}
    for name, flag in flags.items():
        if not getattr(cfg, name):
            raise RedistillError(f"field '{name}': missing; pass {flag}")
    describe_init(cfg.init)
    if cfg.full:
        raise RedistillError(
            "field 'full': align continues the SFT output as it is (adapter or full weights); drop --full"
        )


def run_align(cfg: AlignFields, resume: bool = False) -> dict[str, Any]:
    """Align the SFT model in ``cfg.init`` on the preference data; returns the manifest of ``cfg.output_dir``."""
    _check(cfg)
    method = method_name(cfg)
    rows, paths = align_rows(cfg)
    return run_training(cfg, method, f"Alignment ({method})", rows, paths, build_trainer, resume)
