"""The one YAML file that describes a whole ReDis run, validated with pydantic.

Unknown keys are rejected, errors name the field, and ``--set a.b.c=value`` overrides any key.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from redistill.config import describe, raw_errors
from redistill.distill.augment import AugmentConfig
from redistill.distill.build import BuildConfig
from redistill.errors import RedistillError
from redistill.eval.runner import Method, SearchSettings
from redistill.llm.factory import ApiConfig
from redistill.llm.prior import MISUSE, misused
from redistill.search.types import FollowerName
from redistill.train.scratch import ScratchConfig
from redistill.yamlfiles import parse_sets, read_yaml

STAGES = ("tasks", "augment", "build", "student", "sft", "align", "imitation", "eval", "report")
RUN_MODELS = ("base", "sft", "align", "imitation", "init", "prior")
"""The models of a run an eval row may name: the student's base, the training stages' outputs, and
``prior`` (the run's training rules drawn blind: the yardstick a student must beat, ``llm.prior``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteConfig(_Strict):
    """Where one suite's training and test tasks come from."""

    name: str = Field(description="Suite / generator family: 1d_arc, list_func, acre, scan (or a custom name).")
    source: Literal["generate", "file"] = Field("generate", description="Generated tasks, or a published file.")
    data: str | None = Field(None, description="source=file: JSONL file or data folder (else REDISTILL_DATA).")
    answer_type: str | None = Field(None, description="Custom file suites only: list | label | tokens.")
    n_train: int = Field(100, ge=1, description="source=generate: training tasks.")
    n_test: int = Field(20, ge=1, description="source=generate: held-out test tasks.")
    train_seed: int = Field(1, description="source=generate: seed of the training tasks.")
    test_seed: int = Field(2, description="source=generate: seed of the test tasks (disjoint from train).")
    holdout: list[str] = Field(default_factory=list,
                               description="Concepts / types never trained on; the test split draws them first, so each is tested.")
    novel_train: bool = Field(False, description="scan: train on novel grammars (new semantics and precedences).")
    max_seen: int | None = Field(None, ge=1, description="source=generate, list suites: keep only the first N "
                                 "seen examples of each task (shorter prompts for small students).")
    max_row: int | None = Field(None, ge=8, description="source=generate, list suites: longest input drawn; 1D-ARC "
                                "rows and blocks are drawn shorter (shorter prompts for small students).")
    test_limit: int | None = Field(None, ge=1, description="Evaluate at most this many test tasks.")
    train_limit: int | None = Field(None, ge=1, description="Augment at most this many training tasks.")

    @field_validator("max_row", "max_seen")
    @classmethod
    def _list_suites_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        from redistill.tasks.generators import is_list_family

        name = info.data.get("name")  # absent when the name itself is invalid: that error is reported
        if value is not None and name is not None and not is_list_family(name):
            why = ("have rows to shorten" if info.field_name == "max_row" else
                   "may drop seen examples (ACRE and MiniSCAN answers must stay determined by them)")
            raise ValueError(f"suite {name!r}: only list suites (1d_arc, list_func) {why}")
        return value


class StudentConfig(_Strict):
    base: str = Field("scratch", description="`scratch`, or a model name/path loaded with from_pretrained.")
    scratch: ScratchConfig = Field(default_factory=ScratchConfig)


class TrainConfig(_Strict):
    """Each block is passed to the TRL-based trainers (any TrainingArguments / TRL config key works)."""

    sft: dict[str, Any] = Field(default_factory=dict)
    align: dict[str, Any] = Field(default_factory=lambda: {"method": "orpo"})
    imitation: dict[str, Any] = Field(default_factory=dict,
                                      description="SFT settings of the imitation baseline (input->output only).")
    imitation_enabled: bool = True


class EvalEntry(_Strict):
    """One row of the comparison table: a model (a run stage or a backend spec) and a method."""

    name: str
    model: str = Field(description=f"{' | '.join(RUN_MODELS)}, or a backend spec (openai:gpt-4o, hf:PATH).")
    method: Method = "search"
    follower: FollowerName = "llm"
    oracle: bool | None = Field(None, description="Apply every sampled rule to the unseen examples too (the "
                                "accuracy-vs-H curve); default: on for search. Off saves most of an llm row's cost.")

    @model_validator(mode="after")
    def _prior_proposes_only(self) -> EvalEntry:
        if misused(self.model, self.method, self.follower):
            raise ValueError(f"entries: {self.name!r}: {MISUSE}; use method: search, follower: library")
        return self


class RunEvalConfig(SearchSettings):
    """The run's evaluation table: the rows, and how every row samples and scores (``redistill eval``'s settings)."""

    entries: list[EvalEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct_folders(self) -> RunEvalConfig:
        seen: dict[str, str] = {}
        for e in self.entries:
            slug = eval_slug(e.name)
            if not slug:
                raise ValueError(f"entries: name {e.name!r} has no letters or digits for its folder name")
            if slug in seen:
                raise ValueError(f"entries: {seen[slug]!r} and {e.name!r} share the folder eval/{slug}; rename one "
                                 "(the second row would show the first one's results)")
            seen[slug] = e.name
        return self


class RunConfig(_Strict):
    name: str = "run"
    out: str = Field("runs/run", description="Run folder.")
    seed: int = 0
    prompts: str | None = Field(None, description="Prompts JSON file (reference layout).")
    suites: list[SuiteConfig] = Field(min_length=1)
    teacher: str = Field("library", description="`library` (offline rule library) or a backend spec.")
    unsafe_sandbox: bool = Field(False, description="Run python-follower programs (augment and eval) WITHOUT the "
                                 "bubblewrap sandbox, under the old in-process guard only. Not recommended.")
    api: ApiConfig = Field(default_factory=ApiConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: RunEvalConfig = Field(default_factory=RunEvalConfig)

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        self.augment = self.augment.for_teacher(self.teacher)
        if self.eval.seed is None:  # the run's seed seeds the evaluation's sampling too
            self.eval.seed = self.seed
        from redistill.tasks.generators import FAMILIES

        names = [s.name for s in self.suites]
        if len(set(names)) != len(names):
            raise ValueError(f"suites: a suite is listed twice ({', '.join(names)})")
        if self.teacher == "library":
            for s in self.suites:
                if s.name not in FAMILIES:
                    raise ValueError(f"suites: the library teacher has no rules for suite {s.name!r}")
        elif self.augment.follower == "library":
            raise ValueError("augment.follower: 'library' scores only library rules; use llm (or python) "
                             f"with teacher {self.teacher!r}")
        if self.augment.batch and not self.teacher.startswith("openai:"):
            raise ValueError(f"augment.batch: the Batch API is OpenAI's; teacher {self.teacher!r} is not an openai: "
                             "spec (set batch: false, or teacher: openai:MODEL)")
        if self.student.base == "scratch" and not self.train.sft.get("full", False):
            raise ValueError("train.sft.full: a student built from scratch must be fully fine-tuned (set full: true)")
        return self


def eval_slug(name: str) -> str:
    """An evaluation row's folder name: ``search · SFT+ORPO`` -> ``search-sft+orpo``."""
    return re.sub(r"[^a-z0-9+]+", "-", name.lower()).strip("-")


def hash_of(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _set_path(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            raise RedistillError(f"--set {dotted}: '{k}' is not a section")
    d[keys[-1]] = value


def load_run_config(path: str | Path, sets: list[str] | None = None) -> RunConfig:
    """Read a YAML run config, apply ``--set a.b.c=value`` overrides (YAML-typed values), validate."""
    raw = read_yaml(path)
    for key, value in parse_sets(sets).items():
        _set_path(raw, key, value)
    try:
        with raw_errors():
            return RunConfig.model_validate(raw)
    except ValidationError as e:
        raise RedistillError(describe(e, prefix=f"{path}: ")) from None
