"""The output folder of a training run: what is checked before, and what is written after.

``OUT/`` holds the adapter (or full weights) and tokenizer, ``log.jsonl``, ``loss.png``,
``checkpoint-N/`` while training, optionally ``merged/``, and ``redistill_train.json`` written
last: its presence means the run finished, so the same run is skipped next time.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from redistill.errors import RedistillError
from redistill.jsonl import read_jsonl, write_json
from redistill.manifest import difference
from redistill.train.model import MANIFEST, load_model, read_manifest
from redistill.train.plot import plot_losses

LOG = "log.jsonl"
PLOT = "loss.png"
# Config keys that differ between launches of the same run (process rank, display): not compared.
VOLATILE = frozenset({"local_rank", "logging_dir", "disable_tqdm", "report_to"})

console = Console(stderr=True)


def config_dict(cfg) -> dict[str, Any]:
    """The resolved config as plain JSON values."""
    return json.loads(json.dumps(cfg.to_dict(), default=str))


def identity(cfg, data_hash: str) -> dict[str, Any]:
    """What makes a training run the same run: its resolved config and its data (``redistill.manifest``)."""
    return {"data_hash": data_hash, "config": config_dict(cfg)}


def same_run(manifest: dict, cfg, data_hash: str) -> bool:
    return difference(manifest, identity(cfg, data_hash), VOLATILE) is None


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if out.is_dir() else None


def prepare_out(cfg, data_hash: str, resume: bool) -> tuple[dict | None, str | None]:
    """``(manifest, None)`` if this exact run already finished; else ``(None, checkpoint to resume or None)``."""
    out = Path(cfg.output_dir)
    manifest = read_manifest(out)
    if manifest is not None:
        if same_run(manifest, cfg, data_hash):
            return manifest, None
        raise RedistillError(
            f"{out / MANIFEST}: this folder holds a finished training with other settings or data; "
            "delete the folder to train again (a run re-trains it then), or write elsewhere (train's --out, a run's out:)"
        )
    checkpoint = last_checkpoint(out)
    if checkpoint and not resume:
        raise RedistillError(
            f"{out}: holds checkpoints of an unfinished run ({Path(checkpoint).name}); "
            "pass --resume to continue it, or delete them to start over"
        )
    return None, checkpoint if resume else None


def run_training(cfg, method: str, title: str, rows: list[dict], paths: list[Path], build_trainer: Callable,
                 resume: bool, **meta: Any) -> dict[str, Any]:
    """What every training stage does around its trainer: skip a finished run, resume a checkpoint, train
    with our log and progress bar, save and describe ``cfg.output_dir``; returns the manifest.

    ``build_trainer(cfg, train_ds, eval_ds)`` returns ``(trainer, base model name, is_adapter)``;
    ``meta`` adds fields to the manifest (e.g. ``only``).
    """
    from redistill.train.callbacks import train_logged
    from redistill.train.data import data_hash, split_eval

    digest = data_hash(paths)
    train_ds, eval_ds = split_eval(rows, cfg.eval_ratio, cfg.seed)
    cfg.eval_strategy = cfg.eval_strategy if eval_ds is not None else "no"  # before the config is compared
    done, checkpoint = prepare_out(cfg, digest, resume)
    if done is not None:
        console.print(f"[green]{method}:[/] {cfg.output_dir} already holds this run; skipping")
        return done
    resolved = config_dict(cfg)
    out = Path(cfg.output_dir)
    trainer, base, is_adapter = build_trainer(cfg, train_ds, eval_ds)
    train_logged(trainer, out / LOG, method, checkpoint)
    described = {
        "method": method,
        "base_model": base,
        "init": str(cfg.init) if getattr(cfg, "init", None) else None,
        "data": [str(p) for p in paths],
        "data_hash": digest,
        **meta,
        "train_rows": len(train_ds),
        "eval_rows": 0 if eval_ds is None else len(eval_ds),
        "output": str(out),
    }
    manifest = finish(trainer, cfg, described, is_adapter, resolved)
    if manifest:
        console.print(summary_table(manifest, title))
    return manifest


def _merge(out: Path, base: str) -> Path:
    """Base + adapter merged into plain weights at ``OUT/merged`` (for serving, e.g. vLLM)."""
    from peft import PeftModel
    from transformers import AutoTokenizer

    merged_dir = out / "merged"
    # the base through our loader, so a .gguf base (dequantized) merges like a model folder
    model = PeftModel.from_pretrained(load_model(base), str(out)).merge_and_unload()
    model.save_pretrained(merged_dir)
    AutoTokenizer.from_pretrained(str(out)).save_pretrained(merged_dir)
    return merged_dir


def finish(trainer, cfg, meta: dict[str, Any], is_adapter: bool, resolved: dict[str, Any]) -> dict[str, Any]:
    """Save weights + tokenizer, merge if asked, plot the losses, write the manifest; returns it.

    ``resolved`` is the config as it was before the trainer touched it (trainers adjust a few fields).
    """
    out = Path(cfg.output_dir)
    trainer.save_model(str(out))  # adapter or full weights, and the tokenizer (processing_class)
    if not trainer.is_world_process_zero():
        return {}
    # DPO/KTO keep a frozen copy of the SFT adapter named "ref" as reference; it is not part of the result.
    shutil.rmtree(out / "ref", ignore_errors=True)
    merged = None
    if cfg.merge:
        if is_adapter:
            merged = str(_merge(out, meta["base_model"]))
        else:
            console.print("[yellow]--merge:[/] full fine-tuning already wrote plain weights; nothing to merge")
    rows = read_jsonl(out / LOG) if (out / LOG).exists() else []
    plot_losses(rows, out / PLOT, f"{meta['method']}: {Path(meta['base_model']).name}")
    final = dict(trainer.state.log_history[-1]) if trainer.state.log_history else {}
    eval_losses = [r["eval_loss"] for r in trainer.state.log_history if "eval_loss" in r]
    train_losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    manifest = {
        **meta,
        "adapter": is_adapter,
        "merged": merged,
        "steps": trainer.state.global_step,
        "tokens": trainer.state.num_input_tokens_seen or None,  # ORPO/CPO batches do not count tokens
        "first_loss": train_losses[0] if train_losses else None,
        "last_loss": train_losses[-1] if train_losses else None,
        "last_eval_loss": eval_losses[-1] if eval_losses else None,
        "train_summary": final,
        "versions": _versions(),
        "config": resolved,
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers
    import trl

    return {"trl": trl.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "torch": torch.__version__}


def summary_table(manifest: dict[str, Any], title: str) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("value", justify="right")
    for key in ("method", "base_model", "train_rows", "eval_rows", "steps", "tokens", "first_loss", "last_loss",
                "last_eval_loss", "output", "merged"):
        value = manifest.get(key)
        if isinstance(value, float):
            value = f"{value:.4f}"
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    return table
