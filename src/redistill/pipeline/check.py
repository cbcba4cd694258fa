"""``redistill run --check``: resolve and validate a whole run config without loading any model."""

from __future__ import annotations

import os
from pathlib import Path

from redistill.errors import RedistillError
from redistill.pipeline.config import RunConfig


def check_spec(spec: str, where: str) -> None:
    """A backend spec that can work here: known engine, a key for a hosted API, a local path or hub name."""
    prefix, sep, name = spec.partition(":")
    if not sep or prefix not in ("openai", "hf", "vllm"):
        raise RedistillError(f"{where}: {spec!r} is not a backend spec (openai:MODEL[@URL], hf:PATH, vllm:PATH)")
    if prefix == "openai" and "@" not in name and not os.environ.get("OPENAI_API_KEY"):
        raise RedistillError(f"{where}: {spec!r} needs OPENAI_API_KEY in the environment")


def check_run(cfg: RunConfig) -> list[str]:
    """Every problem found raises; returns one line per thing checked, for the user to read."""
    from redistill.tasks import load_tasks
    from redistill.tasks.generators import FAMILIES, list_concepts
    from redistill.train.config import SFTRunConfig, align_config_class, build_config

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
        check_spec(cfg.teacher, "teacher")
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
        if e.model not in ("base", "sft", "align", "imitation", "init"):
            check_spec(e.model, f"eval.entries.{e.name}")
        if e.model == "imitation" and not cfg.train.imitation_enabled:
            raise RedistillError(f"eval.entries.{e.name}: the imitation model is disabled (train.imitation_enabled)")
        lines.append(f"eval {e.name}: {e.method} with {e.model}" + (f", follower {e.follower}" if e.method == "search" else ""))
    return lines
