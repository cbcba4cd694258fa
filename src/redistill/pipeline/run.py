"""``redistill run``: every stage of ReDis from one config, each skipped when its outputs are complete.

Stages and where they write (``RUN`` = the config's ``out``)::

    tasks      RUN/tasks/<suite>.{train,test}.jsonl   generated or published tasks
    augment    RUN/augment/<suite>.jsonl              teacher rules with scores (resumable)
    build      RUN/data/                              SFT + preference data, stats, plots
    student    RUN/models/init/                       a from-scratch tokenizer + Llama (base=scratch only)
    sft        RUN/models/sft/                        SFT on rule generation + application
    align      RUN/models/align/                      ORPO (or DPO/SimPO/KTO) continuing the SFT model
    imitation  RUN/models/imitation/                  the same student trained on input->output only
    eval       RUN/eval/<entry>/                      one evaluation per table row (resumable)
    report     RUN/report.md, RUN/report.html

A stage is skipped when its manifest ``RUN/stages/<stage>.json`` (``redistill.manifest``) holds the hash of
its settings and of the stages before it, and its outputs are unchanged; stages that pay for model calls
(augment, eval) also resume task by task. Each stage is the function its command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table

from redistill.cli.console import make_console
from redistill.errors import RedistillError
from redistill.jsonl import write_json, write_jsonl
from redistill.locks import stage_lock
from redistill.manifest import why_stale, write_manifest
from redistill.pipeline.config import STAGES, RunConfig, hash_of
from redistill.pipeline.evaluate import run_entries
from redistill.pipeline.layout import RunLayout
from redistill.prompts import load_prompts
from redistill.tasks import load_tasks

console = make_console()


class Pipeline(RunLayout):
    def __init__(self, cfg: RunConfig, out: str | Path | None = None):
        super().__init__(cfg, out)
        self.prompts = load_prompts(cfg.prompts)
        self.hashes: dict[str, str] = {}

    # ---------------------------------------------------------------- stage bookkeeping
    def stage_settings(self, stage: str) -> Any:
        c = self.cfg
        return {
            # a field left at None stays out, so run folders made before it existed keep their tasks
            "tasks": [s.model_dump(exclude={"max_row"} if s.max_row is None else None) for s in c.suites],
            # batch or online: the same records, so switching does not redo the stage
            "augment": {"teacher": c.teacher, **c.augment.model_dump(exclude={"batch"}),
                        "prompts": self.prompts.source if c.prompts else None},
            # other formats are always written; a prompts file counts by its texts (an edit in place rebuilds)
            "build": {**c.build.model_dump(exclude={"exports", "imitation"}),
                      **({"prompts": self.prompts.source} if c.prompts else {})},
            # the run's seed: model init and data order; tied embeddings (the default) stay out like max_row
            "student": [c.student.model_dump(exclude={"scratch": {"tie_embeddings"}}
                                             if c.student.scratch.tie_embeddings else None), c.seed],
            "sft": [c.train.sft, c.seed],
            "align": [c.train.align, c.seed],
            "imitation": [c.train.imitation, c.train.imitation_enabled, c.seed],
            "eval": c.eval.model_dump(),
            "report": None,
        }[stage]

    def stage_hash(self, stage: str) -> str:
        i = STAGES.index(stage)
        upstream = [self.hashes.get(s, "") for s in STAGES[:i]]
        return hash_of([stage, self.stage_settings(stage), upstream])

    def _marker(self, stage: str) -> Path:
        return self.run / "stages" / f"{stage}.json"

    def stage_outputs(self, stage: str) -> list[Path]:
        """What a stage writes: a skip needs them present and unchanged since the stage finished."""
        r = self.run
        return {"tasks": [r / "tasks"], "augment": [r / "augment"], "build": [r / "data", r / "imitation"],
                "student": [self.model_dir("init")] if self.cfg.student.base == "scratch" else [],
                "sft": [self.model_dir("sft")], "align": [self.model_dir("align")],
                "imitation": [self.model_dir("imitation")], "eval": [r / "eval"],
                "report": [r / "report.md", r / "report.html"]}[stage]

    def is_done(self, stage: str) -> bool:
        """The stage's manifest (``RUN/stages/<stage>.json``) holds this hash, and its outputs are unchanged."""
        why = why_stale(self._marker(stage), {"hash": self.stage_hash(stage)}, self.stage_outputs(stage), self.run)
        if why is not None and why.endswith(("missing", "changed")):
            console.print(f"{stage}: its output {why}; redoing the stage", style="yellow")
        return why is None

    # ---------------------------------------------------------------- driver
    def execute(self, start: str | None = None, until: str | None = None) -> dict[str, dict]:
        for name in (start, until):
            if name is not None and name not in STAGES:
                raise RedistillError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
        first = STAGES.index(start) if start else 0
        last = STAGES.index(until) if until else len(STAGES) - 1
        _quiet_libraries()
        self.run.mkdir(parents=True, exist_ok=True)
        with stage_lock(self.run, "pipeline", f"redistill run of {self.run}"):  # one pipeline per run folder
            return self._run_stages(first, last)

    def _run_stages(self, first: int, last: int) -> dict[str, dict]:
        write_json(self.run / "config.json", self.cfg.model_dump())
        timings: dict[str, dict] = {}
        for i, stage in enumerate(STAGES):
            h = self.stage_hash(stage)
            self.hashes[stage] = h
            if i < first or i > last:
                continue
            label = f"[{i + 1}/{len(STAGES)}] {stage}"
            if self.is_done(stage):
                console.rule(f"{label}: done already, skipped", style="dim")
                timings[stage] = {"status": "skipped", "wall_s": 0.0}
                continue
            console.rule(label)
            t0 = time.perf_counter()
            status = getattr(self, f"stage_{stage}")() or "done"
            wall = time.perf_counter() - t0
            timings[stage] = {"status": status, "wall_s": round(wall, 1)}
            if status == "done":
                write_manifest(self._marker(stage), {"hash": h}, self.stage_outputs(stage), self.run,
                               wall_s=round(wall, 1), finished=time.time())
        write_json(self.run / "stages" / "last_run.json", timings)
        console.print(_timings_table(timings))
        return timings

    # ---------------------------------------------------------------- stages
    def stage_tasks(self) -> None:
        from redistill.tasks.generators import generate

        for s in self.cfg.suites:
            if s.source == "generate":
                train = generate(s.name, s.n_train, s.train_seed, exclude=s.holdout or None, novel=s.novel_train,
                                 max_seen=s.max_seen, max_row=s.max_row)
                # held-out concepts come first in the test split's round-robin, so every one of them is tested
                test = generate(s.name, s.n_test, s.test_seed, first=s.holdout, max_seen=s.max_seen, max_row=s.max_row)
            else:
                at = s.answer_type
                train = load_tasks(s.name, s.data, "train", answer_type=at)
                test = load_tasks(s.name, s.data, "test", answer_type=at)
            write_jsonl(self.task_file(s.name, "train"), [t.to_json() for t in train])
            write_jsonl(self.task_file(s.name, "test"), [t.to_json() for t in test])
            console.print(f"{s.name}: {len(train)} training tasks, {len(test)} test tasks "
                          f"({'generated' if s.source == 'generate' else 'from ' + str(s.data)})")

    def stage_augment(self) -> str:
        from redistill.distill.stage import augment_suites

        c = self.cfg
        done = augment_suites(c.augment, c.teacher, self.tasks("train"), self.run, self.prompts, c.unsafe_sandbox,
                              on_suite=lambda d: console.print(d.summary()), exact=True, **c.api.options(c.teacher))
        failed = []
        for d in done:
            f = d.result.failures
            if f is not None and len(f):
                failed.append(f"{d.path.stem}: {len(f)} task(s) ({f.sample()}; see {f.path})")
        if failed:  # unfinished tasks are not data: stop before build, re-running retries only them
            raise RedistillError(f"augment: a model call failed after its retries for {'; '.join(failed)}; "
                                 "re-run to retry only those tasks")
        return "stopped at the budget" if done and done[-1].result.stopped_for_budget else "done"

    def stage_build(self) -> None:
        from redistill.distill.build import run_build

        # the imitation baseline's data too (a run always writes it: the scratch student's tokenizer reads it)
        build = self.cfg.build.model_copy(update={"imitation": [s.name for s in self.cfg.suites]})
        run_build(self.run, build, self.prompts)

    def stage_student(self) -> None:
        if self.cfg.student.base != "scratch":
            console.print(f"student: {self.cfg.student.base} (loaded by the training stages)")
            return
        from redistill.train.scratch import init_student

        console.print(init_student(self.cfg.student.scratch, [self.run / "data", self.run / "imitation"],
                                   self.model_dir("init"), self.cfg.seed))

    def _sft(self, data_dir: Path, out: Path, settings: dict, only: str | None = None) -> None:
        from redistill.train.config import SFTRunConfig, build_config
        from redistill.train.sft import run_sft

        values = {"model_name_or_path": self.base_model, "data_dir": str(data_dir), "output_dir": str(out),
                  "seed": self.cfg.seed, **settings}
        if only:
            values["only"] = only
        run_sft(build_config(SFTRunConfig, [("config", values)]))

    def stage_sft(self) -> None:
        self._sft(self.run / "data", self.model_dir("sft"), self.cfg.train.sft)

    def stage_align(self) -> None:
        from redistill.train.align import run_align
        from redistill.train.config import align_config_class, build_config

        settings = dict(self.cfg.train.align)
        method = settings.pop("method", "orpo")
        values = {"model_name_or_path": self.base_model, "init": str(self.model_dir("sft")),
                  "data_dir": str(self.run / "data"), "output_dir": str(self.model_dir("align")),
                  "seed": self.cfg.seed, **settings}
        run_align(build_config(align_config_class(method), [("config", values)]))

    def stage_imitation(self) -> str | None:
        if not self.cfg.train.imitation_enabled:
            return "disabled"
        settings = {**self.cfg.train.sft, **self.cfg.train.imitation}
        self._sft(self.run / "imitation", self.model_dir("imitation"), settings, only="application")
        return None

    def stage_eval(self) -> None:
        run_entries(self)

    def stage_report(self) -> None:
        from redistill.pipeline.report import write_report

        paths = write_report(self.run)
        console.print(f"report: {paths[0]} and {paths[1]}")


def _quiet_libraries() -> None:
    """One progress display for the run: silence the libraries' own per-step bars."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _timings_table(timings: dict[str, dict]) -> Table:
    table = Table(title="Stages")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("wall s", justify="right")
    for stage, t in timings.items():
        table.add_row(stage, t["status"], f"{t['wall_s']:.1f}")
    table.add_row("total", "", f"{sum(t['wall_s'] for t in timings.values()):.1f}")
    return table
