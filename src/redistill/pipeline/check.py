"""``redistill run --check``: resolve and validate a whole run config without loading any model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError
from redistill.pipeline.config import RUN_MODELS, RunConfig


def check_spec(spec: str, where: str, **options: Any) -> None:
    """A backend spec that can work here: known engine, a key for a hosted API, a local path or hub name,
    and the options the stage will build it with."""
    from redistill.llm.factory import BACKENDS, check_backend_options

    prefix, sep, name = spec.partition(":")
    if not sep or prefix not in BACKENDS:
        raise RedistillError(f"{where}: {spec!r} is not a backend spec (openai:MODEL[@URL], hf:PATH, vllm:PATH)")
    if prefix == "openai" and "@" not in name and not os.environ.get("OPENAI_API_KEY"):
        raise RedistillError(f"{where}: {spec!r} needs OPENAI_API_KEY in the environment")
    try:
        check_backend_options(spec, **options)
    except RedistillError as e:
        raise RedistillError(f"{where}: {e}") from None


def _answer_types(cfg: RunConfig) -> dict[str, str]:
    from redistill.tasks.suites import get_suite

    out = {}
    for s in cfg.suites:
        try:
            out[s.name] = get_suite(s.name, s.answer_type).answer_type
        except RedistillError as e:
            raise RedistillError(f"suites.{s.name}: {e}") from None
    return out


def check_stages(cfg: RunConfig) -> None:
    """The validation the stages themselves run, on the settings they will get."""
    from redistill.pipeline.evaluate import backend_options, runner_config
    from redistill.search.followers import check_python_suite

    a = cfg.augment  # the stage configs themselves (augment, build) were validated with the run config
    types = _answer_types(cfg)
    if a.follower == "python":
        for name, kind in types.items():
            try:
                check_python_suite(name, kind)
            except RedistillError as e:
                raise RedistillError(f"augment.follower: {e}") from None
    for e in cfg.eval.entries:
        where = f"eval.entries.{e.name}"
        spec = e.model if ":" in e.model else "hf:RUN_MODEL"
        try:
            runner_config(cfg, e, spec, [])
            if e.method == "search" and e.follower == "python":
                for name, kind in types.items():
                    check_python_suite(name, kind)
        except RedistillError as err:
            raise RedistillError(f"{where}: {err}") from None
        if ":" in e.model:
            check_spec(e.model, where, **backend_options(e.model, cfg.eval.seed, cfg.api))


def check_run(cfg: RunConfig) -> list[str]:
    """Every problem found raises; returns one line per thing checked, for the user to read."""
    from redistill.tasks import load_tasks
    from redistill.tasks.generators import FAMILIES, list_concepts
    from redistill.train.config import SFTRunConfig, align_config_class, build_config

    check_stages(cfg)
    lines = []
    for s in cfg.suites:
        if s.source == "generate":
            if s.name not in FAMILIES:
                raise RedistillError(f"suites: no generator for {s.name!r}; families: {', '.join(FAMILIES)}")
            unknown = set(s.holdout) - set(list_concepts(s.name))
            if unknown:
                raise RedistillError(f"suites.{s.name}.holdout: unknown concepts {', '.join(sorted(unknown))}")
            lines.append(f"suite {s.name}: generate {s.n_train} train / {s.n_test} test, holdout {len(s.holdout)}")
        else:
            n_train = len(load_tasks(s.name, s.data, "train", answer_type=s.answer_type))
            n_test = len(load_tasks(s.name, s.data, "test", answer_type=s.answer_type))
            lines.append(f"suite {s.name}: {n_train} train / {n_test} test tasks from the published file")
    if cfg.teacher != "library":
        check_spec(cfg.teacher, "teacher", **cfg.api.options(cfg.teacher))
    lines.append(f"teacher {cfg.teacher}: {cfg.augment.hypotheses} hypotheses per task, follower {cfg.augment.follower}")
    base = cfg.student.base
    if base != "scratch" and Path(base).exists() is False and "/" not in base:
        raise RedistillError(f"student.base: {base!r} is neither a local folder nor a hub name (org/model)")
    common = {"model_name_or_path": base, "data_dir": "RUN/data", "output_dir": "RUN/models/x"}
    build_config(SFTRunConfig, [("train.sft", {**common, **cfg.train.sft})])
    align = dict(cfg.train.align)
    method = align.pop("method", "orpo")
    build_config(align_config_class(method), [("train.align", {**common, "init": "RUN/models/sft", **align})])
    if cfg.train.imitation_enabled:
        build_config(SFTRunConfig, [("train.imitation", {**common, **cfg.train.sft, **cfg.train.imitation})])
    lines.append(f"student {base}: SFT and {method} settings valid")
    for e in cfg.eval.entries:
        if ":" not in e.model and e.model not in RUN_MODELS:
            raise RedistillError(f"eval.entries.{e.name}: model {e.model!r}: use {'|'.join(RUN_MODELS)} or a "
                                 "backend spec")
        if e.model == "imitation" and not cfg.train.imitation_enabled:
            raise RedistillError(f"eval.entries.{e.name}: the imitation model is disabled (train.imitation_enabled)")
        lines.append(f"eval {e.name}: {e.method} with {e.model}" + (f", follower {e.follower}" if e.method == "search" else ""))
    return lines
