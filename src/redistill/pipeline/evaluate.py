"""The pipeline's eval stage: one ``redistill eval`` per table row, on the run's own test tasks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from redistill.errors import RedistillError
from redistill.eval.runner import EvalConfig as RunnerConfig
from redistill.eval.runner import run_eval
from redistill.pipeline.config import RUN_MODELS, ApiConfig

if TYPE_CHECKING:
    from redistill.pipeline.config import EvalEntry, RunConfig
    from redistill.pipeline.layout import RunLayout

def resolve_model(p: RunLayout, model: str) -> tuple[str, list[str]]:
    """A table row's model as (backend spec, adapters): a run stage's output or a spec as given."""
    if model == "base":
        return f"hf:{p.base_model}", []
    if model == "prior":
        return f"prior:{p.run / 'data'}", []
    if model in RUN_MODELS:  # init, sft, align, imitation
        folder = p.model_dir(model) if model != "init" else Path(p.base_model)
        if not folder.exists():
            raise RedistillError(f"eval: model '{model}' has no output yet at {folder}; run its stage first")
        if (folder / "adapter_config.json").exists():
            return f"hf:{p.base_model}", [str(folder)]
        return f"hf:{folder}", []
    if ":" not in model:
        raise RedistillError(f"eval.entries: model {model!r}: use {'|'.join(RUN_MODELS)} or a backend spec")
    return model, []


def backend_options(spec: str, seed: int, api: ApiConfig | None = None) -> dict:
    """The options the eval stage builds a row's backend with (an API server takes no engine seed)."""
    return (api or ApiConfig()).options(spec) if spec.startswith("openai:") else {"seed": seed}


def entry_config(p: RunLayout, entry: EvalEntry) -> RunnerConfig:
    spec, adapters = resolve_model(p, entry.model)
    return runner_config(p.cfg, entry, spec, adapters)


def runner_config(cfg: RunConfig, entry: EvalEntry, spec: str, adapters: list[str]) -> RunnerConfig:
    """The ``redistill eval`` settings of one table row: the run's ``eval`` block and the row's own."""
    return RunnerConfig(
        **cfg.eval.model_dump(exclude={"entries"}), model=spec, adapters=adapters,
        suites=[s.name for s in cfg.suites], split="test", method=entry.method, follower=entry.follower,
        prompts=cfg.prompts, oracle=entry.method == "search" if entry.oracle is None else entry.oracle,
        unsafe_sandbox=cfg.unsafe_sandbox,
    )


def run_entries(p: RunLayout) -> None:
    from redistill.llm.factory import make_backend

    tasks = p.tasks("test")
    backends: dict[tuple, object] = {}
    failed: list[str] = []
    for entry in p.cfg.eval.entries:
        cfg = entry_config(p, entry)
        key = (cfg.model, tuple(cfg.adapters))
        if key not in backends:  # one loaded model serves every row that uses it
            backends[key] = make_backend(cfg.model, adapter=cfg.adapters or None,
                                         **backend_options(cfg.model, cfg.seed, p.cfg.api))
        out = p.eval_dir(entry.name)
        summaries = run_eval(cfg, out, backends[key], suites=tasks)
        failed += [f"{entry.name} · {suite}: {s['failed']} task(s) (see {s['failures_file']})"
                   for suite, s in summaries.items() if s.get("failed")]
    if failed:  # a failed call is no wrong answer: stop before the report, re-running retries only them
        raise RedistillError(f"eval: a model call failed after its retries for {'; '.join(failed)}; "
                             "re-run to retry only those tasks")
