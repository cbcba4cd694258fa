"""One factory from a spec string to a (cached) backend. The engines are registered here by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from redistill.config import StageConfig
from redistill.errors import RedistillError
from redistill.llm.cache import CachedBackend, ResponseCache
from redistill.llm.types import Backend
from redistill.llm.usage import UsageLedger

SPEC_HELP = ("openai:MODEL, openai:MODEL@http://host:port/v1, hf:NAME_OR_PATH, vllm:NAME_OR_PATH or "
             "prior:RUN/data (training rules drawn blind)")


class ApiConfig(StageConfig):
    """How an ``openai:`` backend talks to its server (``--concurrency`` ...; a run config's ``api:`` block,
    for the teacher and every eval row)."""

    concurrency: int = Field(32, ge=1, description="openai: requests in flight at once (a one-request-at-a-time "
                             "server wants 1-4).")
    timeout: float = Field(120.0, gt=0, description="openai: seconds to wait for one answer before it is retried "
                           "(raise it for a slow server).")
    max_retries: int = Field(6, ge=0, description="openai: retries of a request that failed on 429/5xx/timeout "
                             "(the SDK's backoff, Retry-After honoured).")

    def options(self, spec: str) -> dict[str, Any]:
        """The backend options for ``spec`` (none for local engines)."""
        if not spec.startswith("openai:"):
            return {}
        return {"concurrency": self.concurrency, "timeout": self.timeout, "max_retries": self.max_retries}


def _openai(name: str, spec: str, adapters: list[str], **options: Any) -> Backend:
    from redistill.llm.openai_api import OpenAIBackend

    if adapters:
        raise RedistillError(f"model spec '{spec}': adapters apply to hf: and vllm: models; an OpenAI-compatible "
                             "server loads its adapters itself (name the adapter as the model)")
    model, base_url = name, None
    if "@" in name:
        head, tail = name.rsplit("@", 1)
        if tail.startswith(("http://", "https://")):
            model, base_url = head, tail
    if not model:
        raise RedistillError(f"model spec '{spec}': no model name; write {SPEC_HELP}")
    if options.get("batch_dir") is not None:  # the Batch API: same requests, half price, within 24 h
        from redistill.llm.openai_batch import OpenAIBatchBackend

        return _build(OpenAIBatchBackend, model, base_url, spec=spec, **options)
    options.pop("batch_dir", None)
    return _build(OpenAIBackend, model, base_url, spec=spec, **options)


def _hf(name: str, spec: str, adapters: list[str], **options: Any) -> Backend:
    from redistill.llm.hf import HFBackend

    return _build(HFBackend, name, adapters, spec=spec, **options)


def _vllm(name: str, spec: str, adapters: list[str], **options: Any) -> Backend:
    from redistill.llm.vllm_engine import VLLMBackend

    return _build(VLLMBackend, name, adapters, spec=spec, **options)


def _prior(name: str, spec: str, adapters: list[str], **options: Any) -> Backend:
    from redistill.llm.prior import PriorBackend

    if adapters:
        raise RedistillError(f"model spec '{spec}': the rule prior is no model and takes no adapter")
    return _build(PriorBackend, name, spec=spec, **options)


BACKENDS: dict[str, Callable[..., Backend]] = {"openai": _openai, "hf": _hf, "vllm": _vllm, "prior": _prior}


def _engine_class(prefix: str) -> type:
    if prefix == "openai":
        from redistill.llm.openai_api import OpenAIBackend as cls
    elif prefix == "hf":
        from redistill.llm.hf import HFBackend as cls
    elif prefix == "prior":
        from redistill.llm.prior import PriorBackend as cls
    else:
        from redistill.llm.vllm_engine import VLLMBackend as cls
    return cls


def _check_options(cls: type, spec: str, options: dict[str, Any]) -> None:
    accepted: set[str] = set()
    for klass in cls.__mro__:  # an engine taking **options passes them on to the one it extends
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        accepted |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    accepted -= {"self"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        known = sorted(accepted - {"spec", "name", "model", "base_url", "adapters"})
        raise RedistillError(f"model spec '{spec}': unknown option(s) {', '.join(unknown)}; "
                             f"this engine takes {', '.join(known)}")


def check_backend_options(spec: str, **options: Any) -> None:
    """Raise what ``make_backend(spec, **options)`` would raise for the spec and its options, without
    building anything (``redistill run --check``)."""
    prefix, sep, name = spec.partition(":")
    if not sep or prefix not in BACKENDS:
        raise RedistillError(f"model spec '{spec}': unknown engine '{prefix if sep else spec}'; write {SPEC_HELP}")
    if not name.strip():
        raise RedistillError(f"model spec '{spec}': no model name after '{prefix}:'; write {SPEC_HELP}")
    _check_options(_engine_class(prefix), spec, options)


def _build(cls: type, *args: Any, spec: str, **options: Any) -> Backend:
    """Call the engine's constructor, turning an unknown option into a clear error."""
    _check_options(cls, spec, options)
    return cls(*args, spec=spec, **options)


def make_backend(spec: str, adapter: str | Path | list[str | Path] | None = None,
                 cache: ResponseCache | str | Path | None = "default", **options: Any) -> Backend:
    """Build the backend a spec names, wrapped in the response cache.

    Args:
        spec: ``openai:MODEL[@URL]``, ``hf:NAME_OR_PATH``, ``vllm:NAME_OR_PATH`` or ``prior:RUN/data``.
        adapter: PEFT adapter folder(s), stacked in order (hf) or served (vllm).
        cache: ``"default"`` for the user cache folder, a folder or ``.sqlite`` file, a ``ResponseCache``,
            or None for no cache.
        options: engine options (concurrency, timeout, max_retries, prices, batch_size, device, dtype,
            seed, ledger...).
    """
    prefix, sep, name = spec.partition(":")
    if not sep or prefix not in BACKENDS:
        raise RedistillError(f"model spec '{spec}': unknown engine '{prefix if sep else spec}'; write {SPEC_HELP}")
    if not name.strip():
        raise RedistillError(f"model spec '{spec}': no model name after '{prefix}:'; write {SPEC_HELP}")
    adapters = [str(a) for a in ([adapter] if isinstance(adapter, (str, Path)) else adapter or [])]
    ledger = options.pop("ledger", None) or UsageLedger()
    store = None
    # open the cache first: a bad --cache-dir fails before a model loads; the prior draws in microseconds
    if cache is not None and prefix != "prior":
        store = cache if isinstance(cache, ResponseCache) else ResponseCache(None if cache == "default" else cache)
    backend = BACKENDS[prefix](name.strip(), spec, adapters, ledger=ledger, **options)
    return CachedBackend(backend, store, ledger) if store is not None else backend
