"""What the local engines (hf, vllm) share: model and adapter checks, weight fingerprints, prompt text.

Adapters are checked before any model is loaded, so a wrong path fails in a second, not after minutes
of loading an 8B model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.llm.gguf import check_gguf, is_gguf

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
# Fields of config.json that must agree for an adapter to fit a base model.
SHAPE_FIELDS = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size")


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or Path(name).expanduser().exists()


def check_model(name: str, spec: str) -> str:
    """A local folder must exist and hold a config.json, a ``.gguf`` file must exist; a hub name is passed on."""
    if is_gguf(name):
        return str(check_gguf(name, f"model spec '{spec}'"))
    if not looks_like_path(name):
        return name
    path = Path(name).expanduser()
    if not path.is_dir():
        raise RedistillError(f"model spec '{spec}': folder {path} not found; give a folder written by "
                             "save_pretrained, or a hub name")
    if not (path / "config.json").exists():
        raise RedistillError(f"model spec '{spec}': {path} has no config.json, so it is not a model folder "
                             "(for an adapter folder use --adapter with its base model)")
    return str(path.resolve())


def fingerprint(folder: str | Path, full: bool = False, chunk: int = 1 << 20) -> str:
    """A hash of a model folder's config and weights (or of one weight file, e.g. a ``.gguf``): whole files
    when ``full`` (adapters, small), else size + first and last MiB of each weight file (8B models, where a
    full hash takes a minute)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for f in [folder] if folder.is_file() else sorted(folder.iterdir()):
        if f.name in ("config.json", "adapter_config.json"):
            h.update(f.name.encode() + f.read_bytes())
        elif f.suffix in WEIGHT_SUFFIXES and f.is_file():
            size = f.stat().st_size
            h.update(f"{f.name}:{size}".encode())
            with open(f, "rb") as fh:
                if full:
                    for block in iter(lambda: fh.read(chunk), b""):  # noqa: B023 - fh is the loop's file
                        h.update(block)
                else:
                    h.update(fh.read(chunk))
                    fh.seek(max(0, size - chunk))
                    h.update(fh.read(chunk))
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Adapter:
    path: str
    rank: int
    base: str | None
    """``base_model_name_or_path`` from its adapter_config.json."""
    digest: str


def _same_model(a: str, b: str) -> bool:
    """True when two model names/paths plausibly name one model (moved folders and hub names allowed)."""
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.is_dir() and pb.is_dir():
        if pa.resolve() == pb.resolve():
            return True
        try:
            ca = json.loads((pa / "config.json").read_text())
            cb = json.loads((pb / "config.json").read_text())
        except (OSError, ValueError):
            return False
        return all(ca.get(k) == cb.get(k) for k in SHAPE_FIELDS)
    return pa.name.lower() == pb.name.lower()  # 'org/Model-8B' vs a local copy named 'Model-8B'


def check_adapters(paths: list[str], base: str) -> list[Adapter]:
    """Each path must be a PEFT adapter folder made for ``base`` (or, stacked, for an earlier adapter)."""
    adapters: list[Adapter] = []
    allowed = [base]
    for raw in paths:
        path = Path(raw).expanduser()
        cfg_file = path / "adapter_config.json"
        if not cfg_file.exists():
            what = "does not exist" if not path.exists() else "has no adapter_config.json"
            raise RedistillError(f"adapter {path}: {what}, so it is not a PEFT adapter; pass the folder "
                                 "that save_pretrained wrote for the adapter")
        if not any((path / w).exists() for w in ADAPTER_WEIGHTS):
            raise RedistillError(f"adapter {path}: no {' or '.join(ADAPTER_WEIGHTS)} next to adapter_config.json")
        try:
            cfg = json.loads(cfg_file.read_text())
        except ValueError as e:
            raise RedistillError(f"{cfg_file}: not valid JSON ({e})") from None
        declared = cfg.get("base_model_name_or_path")
        if declared and not any(_same_model(declared, a) for a in allowed):
            raise RedistillError(
                f"{cfg_file}: field 'base_model_name_or_path': the adapter was trained on '{declared}', "
                f"but the base model is '{base}'; use the matching base (hf:{declared}) or the right adapter")
        adapters.append(Adapter(str(path.resolve()), int(cfg.get("r") or 0), declared,
                                fingerprint(path, full=True)))
        allowed.append(str(path.resolve()))
    return adapters


PLAIN_ROLES = {"system": "### System", "user": "### User", "assistant": "### Assistant"}


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The model's chat template with the assistant turn opened; a plain '### Role' layout when the
    tokenizer has none (base models)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    parts = [f"{PLAIN_ROLES.get(m['role'], '### ' + m['role'].title())}:\n{m['content']}\n\n" for m in messages]
    return "".join(parts) + f"{PLAIN_ROLES['assistant']}:\n"


def cut_at_stop(text: str, stop: tuple[str, ...] | None) -> str:
    """Cut before the first stop string (OpenAI semantics: the stop string is not returned)."""
    if not stop:
        return text
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]
