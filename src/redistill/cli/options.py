"""Typer options shared by the commands: those of the model commands (one help text each), and the options
made from a stage config's fields."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer

from redistill.config import StageConfig
from redistill.llm.cache import ResponseCache
from redistill.llm.factory import ApiConfig


def _api_help(name: str) -> str:
    return ApiConfig.model_fields[name].description or ""


ModelOpt = Annotated[str, typer.Option(
    "--model", "-m", help="Model spec: openai:MODEL, openai:MODEL@http://host:port/v1, hf:NAME_OR_PATH or "
    "vllm:NAME_OR_PATH.")]
AdapterOpt = Annotated[list[Path] | None, typer.Option(
    "--adapter", help="PEFT adapter folder on top of an hf:/vllm: model; repeat to stack (hf).")]
CacheDirOpt = Annotated[Path | None, typer.Option(
    "--cache-dir", help="Response cache folder (default: $REDISTILL_CACHE_DIR, else $XDG_CACHE_HOME/redistill, "
    "else ~/.cache/redistill).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, help=_api_help("concurrency"))]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help=_api_help("timeout"))]
MaxRetriesOpt = Annotated[int, typer.Option("--max-retries", min=0, help=_api_help("max_retries"))]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="hf: sequences per generate call (halves on OOM).")]
PricesOpt = Annotated[Path | None, typer.Option(
    "--prices", help="JSON/YAML file {model: [prompt, completion]} in USD per 1M tokens, over the built-in table.")]


def api_options(spec: str, concurrency: int, timeout: float, max_retries: int) -> dict:
    """The options an ``openai:`` backend takes from the command line (none for local engines)."""
    return ApiConfig(concurrency=concurrency, timeout=timeout, max_retries=max_retries).options(spec)


def cache_choice(cache_dir: Path | None, no_cache: bool) -> str | Path | None:
    """The ``cache`` argument of ``make_backend`` for a (--cache-dir, --no-cache) pair."""
    if no_cache:
        return None
    return cache_dir if cache_dir is not None else "default"


def open_cache(cache_dir: Path | None, no_cache: bool) -> ResponseCache | None:
    choice = cache_choice(cache_dir, no_cache)
    return None if choice is None else ResponseCache(None if choice == "default" else choice)


def _option_type(annotation: Any) -> Any:
    """The CLI type of a config field: ``Literal`` choices as ``str`` (the config validates them)."""
    args = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) in (Union, UnionType) \
        else [annotation]
    inner = args[0] if len(args) == 1 else annotation
    if get_origin(inner) is Literal:
        return str
    if get_origin(inner) is list:
        return list[str] if get_origin(get_args(inner)[0]) is Literal else inner
    return inner


def _limits(info: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in info.metadata:
        for attr in ("ge", "gt"):
            value = getattr(m, attr, None)
            if value is not None:
                out["min"] = value
        if getattr(m, "le", None) is not None:
            out["max"] = m.le
    return out


def config_options(cls: type[StageConfig], skip: tuple[str, ...] = (),
                   overrides: dict[str, Any] | None = None) -> list[inspect.Parameter]:
    """One typer option per field of a stage config (help, limits and default from the field), all
    defaulting to None = "not given", so a ``--config`` file's value stands unless the flag is passed.
    ``overrides`` gives a field another option type (e.g. ``--margin SUITE=N`` for ``margins``)."""
    params = []
    for name, info in cls.model_fields.items():
        if name in skip:
            continue
        if name in (overrides or {}):
            annotation = overrides[name]
        else:
            kind = _option_type(info.annotation)
            flag = cls.flag(name)
            if kind is bool and info.default is not False:  # None or True: --x alone could not turn it off
                flag = f"{flag}/--no-{flag[2:]}"
            default = info.get_default(call_default_factory=True)
            shown = None if default in (None, [], {}) or kind is bool and default is False else str(default)
            annotation = Annotated[kind | None, typer.Option(flag, help=info.description or "", show_default=shown or False,
                                                             **_limits(info))]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    return params


def command_with(like: Callable, params: list[inspect.Parameter], call: Callable[..., Any]) -> Callable:
    """A typer command named and documented like ``like``, taking ``params`` (as options and arguments) and
    running ``call(**values)``: how commands get options made at import time."""

    @functools.wraps(like)
    def command(**kw: Any) -> Any:
        return call(**kw)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    del command.__wrapped__  # typer reads the signature above, not like's
    return command


ConfigFileOpt = Annotated[Path | None, typer.Option(
    "--config", help="YAML file of this stage's settings (its keys are the options' names); flags win.")]


def config_command(cls: type[StageConfig], skip: tuple[str, ...] = (), overrides: dict[str, Any] | None = None,
                   convert: dict[str, Callable[[Any], Any]] | None = None) -> Callable:
    """Decorate ``fn(cfg, **own options)``: the command also takes ``--config FILE.yaml`` and one option per
    config field; ``cfg`` is the config from the file with the given flags on top (``convert`` turns a
    flag's value into the field's, e.g. ``["a=1"]`` into ``{"a": 1}``)."""

    def decorate(fn: Callable) -> Callable:
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "cfg"]
        fields = config_options(cls, skip, overrides)
        config = inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigFileOpt)
        names = [p.name for p in fields]

        def call(**kw: Any) -> Any:
            given = {n: kw.pop(n) for n in names}
            for n, fix in (convert or {}).items():
                if given.get(n) is not None:
                    given[n] = fix(given[n])
            return fn(cls.load(kw.pop("config"), given), **kw)

        return command_with(fn, own + [config] + fields, call)

    return decorate
