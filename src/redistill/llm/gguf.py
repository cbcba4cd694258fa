"""GGUF files (llama.cpp, Ollama) as ordinary models: ``hf:PATH.gguf``, ``--model PATH.gguf``, ``student.base``.

transformers reads the file (the ``gguf`` package parses it); we ask it to dequantize every weight and
drop the quantizer it leaves attached, so the result is a plain dense model: LoRA trains on it, adapters
save and load, ``merge_and_unload`` and ``save_pretrained`` work. Dequantizing is slow (seconds for
135M parameters, minutes for 8B), so the first use saves the plain model (safetensors, in the dtype the
file dequantizes to, plus the tokenizer) under ``<cache>/gguf/NAME-FINGERPRINT/`` and later uses load
that folder. The loaded model's ``name_or_path`` is the file, so adapters record the file as their base.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError


def is_gguf(name: str | Path) -> bool:
    return str(name).lower().endswith(".gguf")


def check_gguf(name: str | Path, what: str) -> Path:
    """The resolved path of an existing GGUF file, with the ``gguf`` package importable; ``what`` names the field."""
    path = Path(name).expanduser()
    if not path.is_file():
        raise RedistillError(f"{what}: GGUF file {path} not found")
    try:
        import gguf  # noqa: F401 - transformers reads GGUF files with it
    except ImportError:
        raise RedistillError(f"{what}: reading {path.name} needs the gguf package; pip install gguf") from None
    return path.resolve()


def gguf_folder(name: str | Path) -> Path:
    """The plain model folder converted from a GGUF file, made on first use and reused while the file is unchanged."""
    from redistill.llm.cache import default_cache_dir
    from redistill.llm.local import fingerprint

    path = check_gguf(name, "model")
    root = default_cache_dir() / "gguf"
    folder = root / f"{path.stem}-{fingerprint(path)}"
    if (folder / "config.json").exists():
        return folder
    tokenizer, model = _read_tokenizer(path), _read_model(path)
    tmp = root / f".{folder.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, folder)  # atomic: a folder with config.json is complete
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if (folder / "config.json").exists():  # another process converted it meanwhile
            return folder
        raise RedistillError(f"{path}: cannot save the converted model under {root} ({e}); free disk space "
                             "or set REDISTILL_CACHE_DIR") from None
    return folder


def load_gguf_tokenizer(name: str | Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gguf_folder(name)))


def load_gguf_model(name: str | Path, dtype: Any = "auto", extra: dict[str, Any] | None = None) -> Any:
    """The file's model as a plain dense model in ``dtype`` ("auto": the dtype the file dequantizes to)."""
    from transformers import AutoModelForCausalLM

    path = check_gguf(name, "model")
    model = AutoModelForCausalLM.from_pretrained(str(gguf_folder(path)), **{**(extra or {}), "dtype": dtype})
    model.config._name_or_path = model.name_or_path = str(path)  # adapters record the file as their base
    return model


def _read_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except (OSError, ValueError, KeyError) as e:
        raise RedistillError(f"{path}: cannot read a tokenizer from this GGUF file ({_first_line(e)})") from None


def _read_model(path: Path) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        from transformers import GgufConfig  # transformers that can keep GGUF blocks packed: ask for dense
        dense = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers always dequantize
        dense = {}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, **dense)
    except (OSError, ValueError, KeyError, NotImplementedError) as e:
        raise RedistillError(f"{path}: transformers cannot load this GGUF file ({_first_line(e)}); "
                             "see the architectures transformers supports for GGUF") from None
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # every weight is dense already; only the quantizer's bookkeeping remains
        quantizer.remove_quantization_config(model)
    return model


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]
