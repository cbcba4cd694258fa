"""Load what training starts from: a base model + tokenizer, a LoRA config, or an SFT output to continue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.llm.gguf import is_gguf, load_gguf_model, load_gguf_tokenizer

MANIFEST = "redistill_train.json"


def load_tokenizer(name_or_path: str):
    """The model's tokenizer; it needs a chat template (our data is chat turns) and gets a pad token if missing."""
    from transformers import AutoTokenizer

    try:
        tok = load_gguf_tokenizer(name_or_path) if is_gguf(name_or_path) else AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as e:
        raise RedistillError(f"cannot load a tokenizer from {name_or_path!r}: {e}") from None
    if not tok.chat_template:
        raise RedistillError(
            f"{name_or_path}: the tokenizer has no chat template; use an instruct model or set "
            "`chat_template_path` (--set chat_template_path=FILE.jinja)"
        )
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(name_or_path: str, extra: dict[str, Any] | None = None):
    """``AutoModelForCausalLM.from_pretrained`` in the checkpoint's own dtype; a ``.gguf`` file dequantized."""
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": "auto", **(extra or {})}
    if is_gguf(name_or_path):
        return load_gguf_model(name_or_path, kwargs.pop("dtype"), kwargs)
    try:
        return AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as e:
        raise RedistillError(f"cannot load a model from {name_or_path!r}: {e}") from None


def lora_config(cfg) -> Any:
    """LoRA on the configured modules (paper: all linear layers, r 8, alpha 16, dropout 0.05)."""
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.lora_target_modules,
    )


def read_manifest(out_dir: str | Path) -> dict | None:
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def describe_init(init_dir: str | Path) -> tuple[str, str | None]:
    """``("adapter", base)`` or ``("full", None)`` for an SFT output folder."""
    init = Path(init_dir)
    if (init / "adapter_config.json").exists():
        manifest = read_manifest(init) or {}
        base = manifest.get("base_model")
        if base is None:
            base = json.loads((init / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return "adapter", base
    if (init / "config.json").exists():
        return "full", None
    raise RedistillError(
        f"{init}: field 'init': not an SFT output (no adapter_config.json or config.json); "
        "point --init at the folder `redistill train sft --out` wrote"
    )


def load_for_align(cfg) -> tuple[Any, Any, str]:
    """The SFT result as a trainable model (the SFT adapter itself, or the full SFT weights), its tokenizer, base name.

    Continuing the SFT adapter (rather than a fresh adapter on the base) is what the paper does.
    """
    if not cfg.init:
        raise RedistillError("field 'init': missing; pass --init SFT_DIR (the output of `redistill train sft`)")
    kind, recorded_base = describe_init(cfg.init)
    tokenizer = load_tokenizer(cfg.init)
    if kind == "full":
        return load_model(cfg.init), tokenizer, str(cfg.init)
    from peft import PeftModel

    base = cfg.model_name_or_path or recorded_base
    if not base:
        raise RedistillError(f"{cfg.init}: the adapter does not record its base model; pass --model BASE")
    model = PeftModel.from_pretrained(load_model(base), cfg.init, is_trainable=True)
    return model, tokenizer, base


def stop_token_ids(model, tokenizer) -> set[int]:
    """Token ids that end a turn: the tokenizer's EOS plus the generation config's (e.g. Llama-3 ``<|eot_id|>``)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, (list, tuple)):
        ids.update(int(i) for i in eos)
    return ids
