"""``redistill train init|sft|align``: flags for the common knobs; any other TRL / HF field via ``--set key=value``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.options import command_with, config_command
from redistill.train.scratch import ScratchConfig

app = typer.Typer(help="Train the student: SFT, then preference alignment (TRL + PEFT).", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML file of config keys (flags and --set win).")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="RUN_DIR/data, written by `redistill build`.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder (adapter or weights, log, plot).")]
EpochsOpt = Annotated[float | None, typer.Option("--epochs", help="Epochs (num_train_epochs).")]
MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps (overrides epochs).")]
LrOpt = Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Per-device batch size.")]
AccumOpt = Annotated[int | None, typer.Option("--grad-accum", help="Gradient accumulation steps.")]
MaxLenOpt = Annotated[int | None, typer.Option("--max-length", help="Longest tokenised sequence.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (model init, data order, eval split).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Any other config key: --set key=value (repeatable).")]
MergeOpt = Annotated[bool, typer.Option("--merge", help="Also write merged full weights to OUT/merged.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in OUT.")]


_COMMON: dict[str, tuple[str | None, object]] = {
    # option parameter: (the TRL / run field it sets, or None for the command's own use; the option)
    "data": ("data_dir", DataOpt), "out": ("output_dir", OutOpt), "config": (None, ConfigOpt),
    "epochs": ("num_train_epochs", EpochsOpt), "max_steps": ("max_steps", MaxStepsOpt),
    "lr": ("learning_rate", LrOpt), "batch_size": ("per_device_train_batch_size", BatchOpt),
    "grad_accum": ("gradient_accumulation_steps", AccumOpt), "max_length": ("max_length", MaxLenOpt),
    "seed": ("seed", SeedOpt), "set_": (None, SetOpt), "merge": ("merge", MergeOpt), "resume": (None, ResumeOpt),
}


def _training_command(fn):
    """Give a training command the options every training takes (``_COMMON``); ``fn`` gets them as
    ``flags`` (field -> value, None where not given), ``config``, ``sets`` and ``resume``."""
    import inspect

    own = list(inspect.signature(fn, eval_str=True).parameters.values())[:-4]  # flags, config, sets, resume
    common = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=option,
                                default=False if name in ("merge", "resume") else None)
              for name, (_, option) in _COMMON.items()]

    def call(**kw):
        given = {name: kw.pop(name) for name in _COMMON}
        flags = {field: given[name] for name, (field, _) in _COMMON.items() if field}
        flags.update(data_dir=str(given["data"]) if given["data"] else None,
                     output_dir=str(given["out"]) if given["out"] else None, merge=given["merge"] or None)
        return fn(**kw, flags=flags, config=given["config"], sets=given["set_"], resume=given["resume"])

    return command_with(fn, own + common, call)


@app.command("init")
@config_command(ScratchConfig)
def init(
    cfg: ScratchConfig,
    data: Annotated[list[Path], typer.Option("--data", help="Data folder(s) whose prompts and answers the tokenizer "
                                             "is trained on (RUN_DIR/data; repeatable, e.g. also RUN_DIR/imitation).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the tokenizer and the random-init model.")],
    seed: SeedOpt = None,
) -> None:
    """Build a student from scratch: a BPE tokenizer trained on the data, a random-init Llama (full SFT next)."""
    from rich.console import Console

    from redistill.train.scratch import init_student

    Console(stderr=True).print(init_student(cfg, data, out, seed or 0))


@app.command("sft")
@_training_command
def sft(
    model: Annotated[str | None, typer.Option("--model", help="Base model: hub name or local folder.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Full fine-tuning instead of LoRA.")] = False,
    only: Annotated[str | None, typer.Option("--only", help="generation | application (ablation).")] = None,
    *, flags: dict, config: Path | None, sets: list[str] | None, resume: bool,
) -> None:
    """Supervised fine-tuning on rule generation + rule application (LoRA by default)."""
    from redistill.train.config import SFTRunConfig, load_config
    from redistill.train.sft import run_sft

    flags.update({"model_name_or_path": model, "full": full or None, "only": only})
    cfg = load_config(SFTRunConfig, config, flags, sets)
    with _lock(cfg.output_dir, "train sft"):
        run_sft(cfg, resume=resume)


@app.command("align")
@_training_command
def align(
    init: Annotated[Path | None, typer.Option("--init", help="The SFT output folder to continue from.")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Base model of an SFT adapter (default: the one it records).")
    ] = None,
    method: Annotated[str, typer.Option("--method", help="orpo | dpo | simpo | kto.")] = "orpo",
    *, flags: dict, config: Path | None, sets: list[str] | None, resume: bool,
) -> None:
    """Preference alignment continuing the SFT model (ORPO by default, as in the paper)."""
    from redistill.train.align import run_align
    from redistill.train.config import align_config_class, load_config

    flags.update({"model_name_or_path": model, "init": str(init) if init else None})
    cfg = load_config(align_config_class(method), config, flags, sets)
    with _lock(cfg.output_dir, f"train align ({method})"):
        run_align(cfg, resume=resume)


def _lock(output_dir: str | None, what: str):
    """One training run per output folder (the stage itself reports a missing --out). Under
    ``accelerate launch`` the processes of one run share the folder: only the main one holds the lock."""
    import os
    from contextlib import nullcontext

    from redistill.locks import stage_lock

    main_process = os.environ.get("RANK", "0") == "0"
    return stage_lock(output_dir, "train", what) if output_dir and main_process else nullcontext()
