"""Training configs: TRL's own config classes plus the few fields a redistill run folder needs.

Every TRL / ``TrainingArguments`` field works unchanged (``--set key=value`` or a YAML file);
defaults follow the paper (LoRA r 8 / alpha 16 / dropout 0.05 on all linear layers, cosine
schedule, warmup 0.1, effective batch 8, max length 2048; SFT lr 1e-4 for 4 epochs, ORPO λ 0.1
at lr 5e-6 for 5 epochs). Values are layered: YAML file, then flags, then ``--set``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ORPO and CPO live in trl.experimental in TRL 1.16 (issue 6 asks for them); we pin and test that version.
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
from trl import DPOConfig, KTOConfig, SFTConfig
from trl.experimental.cpo import CPOConfig
from trl.experimental.orpo import ORPOConfig

from redistill.errors import RedistillError
from redistill.yamlfiles import parse_sets, read_yaml

CPU_BF16_PAD = 128


def _bf16_available() -> bool:
    """bf16 where the hardware computes it natively: a GPU with bf16, or (no GPU) a CPU with AVX512-BF16 or AMX,
    where autocast trains the quickstart's student 1.36x faster than fp32 (README: where the time goes)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    if torch.backends.mps.is_available():
        return False
    cpu = torch.cpu
    return any(getattr(cpu, f, lambda: False)() for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


@dataclass
class RunFields:
    """Fields shared by every redistill training stage (the rest comes from TRL)."""

    # --- model ---
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Base model: a hub name or a local folder (for align: the SFT base)."}
    )
    full: bool = field(default=False, metadata={"help": "Full fine-tuning instead of a LoRA adapter."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: str | list[str] = field(
        default="all-linear", metadata={"help": "Modules that get LoRA: 'all-linear' or a list of names."}
    )
    merge: bool = field(default=False, metadata={"help": "Also write merged full weights to OUT/merged for serving."})
    # --- data ---
    data_dir: str | None = field(default=None, metadata={"help": "RUN_DIR/data, written by `redistill build`."})
    eval_ratio: float = field(default=0.05, metadata={"help": "Share of rows held out for the eval loss (0: none)."})
    # --- training: paper defaults over TrainingArguments' ---
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warmup: steps, or a ratio of all steps if < 1."})
    per_device_train_batch_size: int = field(default=2, metadata={"help": "Batch size per device."})
    per_device_eval_batch_size: int = field(default=2, metadata={"help": "Eval batch size per device."})
    gradient_accumulation_steps: int = field(default=4, metadata={"help": "Steps per optimizer update."})
    max_length: int | None = field(default=2048, metadata={"help": "Longest tokenised sequence (longer: truncated)."})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 mixed precision; default: where the hardware has it (a GPU, or a CPU with AVX512-BF16/AMX)."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to compute the eval loss: no|steps|epoch."})
    save_strategy: str = field(default="steps", metadata={"help": "When to write checkpoints (for --resume)."})
    save_steps: float = field(default=200, metadata={"help": "Steps between checkpoints."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept in OUT."})
    logging_steps: float = field(default=5, metadata={"help": "Steps between log lines (log.jsonl)."})
    activation_checkpointing: bool | None = field(
        default=True, metadata={"help": "Recompute activations in the backward pass to save memory (TRL's default)."}
    )
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Deprecated alias of activation_checkpointing (transformers 5)."}
    )
    include_num_input_tokens_seen: str | bool = field(
        default="non_padding", metadata={"help": "Count training tokens (shown in progress and log)."}
    )

    def _check_run_fields(self) -> None:
        if self.bf16 is None:
            self.bf16 = _bf16_available() and not getattr(self, "fp16", False)
        if self.bf16 and not getattr(self, "use_cpu", False):
            import torch

            if not torch.cuda.is_available() and not torch.backends.mps.is_available():
                self.use_cpu = True  # transformers takes bf16 without a GPU only as CPU autocast, asked for by name
        if not 0 <= self.eval_ratio < 0.5:
            raise RedistillError(f"field 'eval_ratio': {self.eval_ratio} is out of range; use a value in [0, 0.5)")
        if self.eval_ratio == 0:
            self.eval_strategy = "no"
        if self.lora_r <= 0:
            raise RedistillError(f"field 'lora_r': must be positive, got {self.lora_r}")


@dataclass
class SFTRunConfig(RunFields, SFTConfig):
    """Supervised fine-tuning on rule generation + rule application."""

    learning_rate: float = field(default=1e-4, metadata={"help": "Peak learning rate."})
    num_train_epochs: float = field(default=4, metadata={"help": "Epochs over the data."})
    only: str | None = field(
        default=None, metadata={"help": "Train on one part only (ablation): 'generation' or 'application'."}
    )
    completion_only_loss: bool | None = field(
        default=True, metadata={"help": "Loss on the assistant turn (the completion) only."}
    )
    loss_on_inputs: bool = field(
        default=True, metadata={"help": "With completion_only_loss off: also train on the prompts' 'Input:' lines. "
                                "Off, the loss skips them (random lists and objects nothing can predict) and keeps "
                                "the outputs and the rule."}
    )

    def __post_init__(self) -> None:
        self._check_run_fields()
        if not self.loss_on_inputs and self.completion_only_loss:
            raise RedistillError("field 'loss_on_inputs': false only matters with completion_only_loss: false (the "
                                 "prompt is then trained on); with completion_only_loss the inputs are masked already")
        if self.only not in (None, "generation", "application"):
            raise RedistillError(f"field 'only': unknown value {self.only!r}; use 'generation' or 'application'")
        if self.bf16 and self.use_cpu and self.pad_to_multiple_of == "auto" and not self.padding_free:
            # CPU autocast over batches of every length fragments the heap: the quickstart's SFT grew to 4 GB
            # of RSS (fp32: 1.8 GB). Lengths in steps of 128 let freed blocks be reused (peak 1.9 GB, as fast).
            self.pad_to_multiple_of = CPU_BF16_PAD
        super().__post_init__()


@dataclass
class AlignFields(RunFields):
    """Fields of every alignment method: where the SFT output to continue from lives."""

    init: str | None = field(default=None, metadata={"help": "SFT output folder to continue from (adapter or full)."})
    learning_rate: float = field(default=5e-6, metadata={"help": "Peak learning rate."})
    num_train_epochs: float = field(default=5, metadata={"help": "Epochs over the pairs."})

    def __post_init__(self) -> None:
        self._check_run_fields()
        super().__post_init__()


@dataclass
class ORPORunConfig(AlignFields, ORPOConfig):
    """ORPO (the paper's choice): NLL on the chosen response plus λ · odds-ratio loss; no reference model."""

    beta: float = field(default=0.1, metadata={"help": "λ, weight of the odds-ratio term."})


@dataclass
class DPORunConfig(AlignFields, DPOConfig):
    """DPO against a frozen copy of the SFT model."""


@dataclass
class SimPORunConfig(AlignFields, CPOConfig):
    """SimPO: length-normalised reward margin, no reference model (TRL's CPO trainer, loss_type='simpo')."""

    loss_type: str = field(default="simpo", metadata={"help": "CPO loss; 'simpo' for SimPO."})
    cpo_alpha: float = field(default=0.0, metadata={"help": "Weight of the NLL term (0 for pure SimPO)."})
    beta: float = field(default=2.0, metadata={"help": "SimPO reward scale."})
    simpo_gamma: float = field(default=0.5, metadata={"help": "SimPO target reward margin."})


@dataclass
class KTORunConfig(AlignFields, KTOConfig):
    """KTO on unpaired rules, desirable / undesirable taken from the augment scores."""


ALIGN_METHODS: dict[str, type[AlignFields]] = {
    "orpo": ORPORunConfig,
    "dpo": DPORunConfig,
    "simpo": SimPORunConfig,
    "kto": KTORunConfig,
}


def align_config_class(method: str) -> type[AlignFields]:
    try:
        return ALIGN_METHODS[method]
    except KeyError:
        raise RedistillError(
            f"field 'method': unknown alignment method {method!r}; use one of {', '.join(ALIGN_METHODS)}"
        ) from None


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Strings to the default's type: PyYAML reads ``1e-4`` as a string, flags arrive as text."""
    default = f.default
    if not isinstance(value, str) or default is dataclasses.MISSING or default is None:
        return value
    if isinstance(default, bool):
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false, got {value!r}")
    if isinstance(default, float):
        return float(value)
    if isinstance(default, int):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def build_config(cls: type, layers: list[tuple[str, dict[str, Any]]]):
    """Instantiate ``cls`` from named layers of keys (later wins); unknown keys are errors naming their source."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    merged: dict[str, Any] = {}
    for source, values in layers:
        for key, value in values.items():
            if key not in fields:
                hint = difflib.get_close_matches(key, fields, n=3)
                more = f"; did you mean {', '.join(hint)}?" if hint else ""
                raise RedistillError(f"{source}: unknown config key {key!r} for {cls.__name__}{more}")
            try:
                merged[key] = _coerce(fields[key], value)
            except ValueError as e:
                raise RedistillError(f"{source}: field '{key}': {e}") from None
    try:
        return cls(**merged)
    except RedistillError:
        raise
    except (ValueError, TypeError) as e:
        raise RedistillError(f"{cls.__name__}: {e}") from None


def launch_defaults() -> dict[str, Any]:
    """``use_cpu`` when launched on several processes (``accelerate launch``, ``torchrun``) without a GPU:
    without it each process trains alone on all the data instead of joining the gloo process group."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if not torch.cuda.is_available():
            return {"use_cpu": True}
    return {}


def load_config(
    cls: type,
    yaml_path: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    sets: list[str] | None = None,
):
    """YAML file first, then flags (``None`` = not given), then ``--set key=value`` on top."""
    layers: list[tuple[str, dict[str, Any]]] = [("launch", launch_defaults())]
    if yaml_path is not None:
        layers.append((str(yaml_path), read_yaml(yaml_path)))
    layers.append(("flags", {k: v for k, v in (flags or {}).items() if v is not None}))
    layers.append(("--set", parse_sets(sets)))
    return build_config(cls, layers)
