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

A stage is skipped when ``RUN/stages/<stage>.json`` holds the hash of its settings and of the stages
before it; stages that pay for model calls (augment, eval) also resume task by task.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from redistill.cli.console import make_console
from redistill.errors import RedistillError
from redistill.fingerprint import changed, fingerprint
from redistill.jsonl import read_jsonl, write_json, write_jsonl
from redistill.locks import stage_lock
from redistill.pipeline.config import STAGES, RunConfig, eval_slug, hash_of
from redistill.prompts import direct_messages, load_prompts
from redistill.tasks import Task, load_tasks

console = make_console()


class Pipeline:
    def __init__(self, cfg: RunConfig, out: str | Path | None = None):
        self.cfg = cfg
        self.run = Path(out or cfg.out)
        self.prompts = load_prompts(cfg.prompts)
        self.hashes: dict[str, str] = {}

    # ---------------------------------------------------------------- paths
    def task_file(self, suite: str, split: str) -> Path:
        return self.run / "tasks" / f"{suite}.{split}.jsonl"

    def tasks(self, split: str) -> dict[str, list[Task]]:
        out = {}
        for s in self.cfg.suites:
            tasks = load_tasks(s.name, self.task_file(s.name, split), answer_type=s.answer_type or _answer_type(s.name))
            limit = s.test_limit if split == "test" else s.train_limit
            out[s.name] = tasks[:limit] if limit else tasks
        return out

    @property
    def base_model(self) -> str:
        return str(self.run / "models" / "init") if self.cfg.student.base == "scratch" else self.cfg.student.base

    def model_dir(self, stage: str) -> Path:
        return self.run / "models" / stage

    def eval_dir(self, entry_name: str) -> Path:
        """An evaluation's folder, named after its table row (``search · SFT`` -> ``search-sft``)."""
        return self.run / "eval" / eval_slug(entry_name)

    # ---------------------------------------------------------------- stage bookkeeping
    def stage_settings(self, stage: str) -> Any:
        c = self.cfg
        return {
            # a field left at None stays out, so run folders made before it existed keep their tasks
            "tasks": [s.model_dump(exclude={"max_row"} if s.max_row is None else None) for s in c.suites],
            # batch or online: the same records, so switching does not redo the stage
            "augment": {"teacher": c.teacher, **c.augment.model_dump(exclude={"batch"}), "prompts": c.prompts},
            "build": c.build.model_dump(),
            "student": [c.student.model_dump(), c.seed],  # the run's seed: model init and data order
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
        m = self._marker(stage)
        if not m.exists():
            return False
        try:
            marker = json.loads(m.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return False
        if not isinstance(marker, dict) or marker.get("hash") != self.stage_hash(stage):
            return False
        outputs = marker.get("outputs")
        if not isinstance(outputs, dict):
            return False  # a marker without its outputs' fingerprint: redo the stage to be sure
        why = changed(outputs, self.stage_outputs(stage), self.run)
        if why is not None:
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
                write_json(self._marker(stage), {"hash": h, "wall_s": round(wall, 1), "finished": time.time(),
                                                 "outputs": fingerprint(self.stage_outputs(stage), self.run)})
        write_json(self.run / "stages" / "last_run.json", timings)
        console.print(_timings_table(timings))
        return timings

    # ---------------------------------------------------------------- stages
    def stage_tasks(self) -> None:
        from redistill.tasks.generators import generate, list_concepts

        for s in self.cfg.suites:
            if s.source == "generate":
                train = generate(s.name, s.n_train, s.train_seed, exclude=s.holdout or None, novel=s.novel_train,
                                 max_row=s.max_row)
                # held-out concepts come first in the test split's round-robin, so every one of them is tested
                order = s.holdout + [c for c in list_concepts(s.name) if c not in s.holdout] if s.holdout else None
                test = generate(s.name, s.n_test, s.test_seed, concepts=order, max_row=s.max_row)
                if s.max_seen:
                    for t in train + test:
                        t.train = t.train[: s.max_seen]
            else:
                at = s.answer_type
                train = load_tasks(s.name, s.data, "train", answer_type=at)
                test = load_tasks(s.name, s.data, "test", answer_type=at)
            write_jsonl(self.task_file(s.name, "train"), [t.to_json() for t in train])
            write_jsonl(self.task_file(s.name, "test"), [t.to_json() for t in test])
            console.print(f"{s.name}: {len(train)} training tasks, {len(test)} test tasks "
                          f"({'generated' if s.source == 'generate' else 'from ' + str(s.data)})")

    def stage_augment(self) -> str:
        from redistill.distill.augment import AugmentParams, make_teacher, run_augment
        from redistill.llm.usage import cost_fn_for

        a = self.cfg.augment
        params = AugmentParams(a.hypotheses, a.rule_temperature, a.apply_temperature, a.follower, a.max_tokens, a.strict)
        options = self.cfg.api.options(self.cfg.teacher)
        cost_fn = cost_fn_for(self.cfg.teacher)
        if a.batch:
            from redistill.distill.batch import batch_cost, batch_options

            options.update(batch_options(self.cfg.teacher, self.run))
            cost_fn = batch_cost(cost_fn)
        proposer, follower, backend = make_teacher(self.cfg.teacher, params, self.prompts, self.cfg.unsafe_sandbox,
                                                   **options)
        status = "done"
        failed: list[str] = []
        for suite, tasks in self.tasks("train").items():
            chunk = max(1, len(tasks)) if a.batch else a.chunk_size  # batch: one batch per stage
            r = run_augment(tasks, proposer, follower, self.run / "augment" / f"{suite}.jsonl", self.cfg.teacher,
                            params, chunk, a.budget_usd, cost_fn, progress=True, prompts=self.prompts)
            console.print(f"{suite}: {r.done} tasks augmented, {r.skipped} already on disk, ${r.cost_usd:.2f}")
            if r.stopped_for_budget:
                status = "stopped at the budget"
            if r.failures is not None and len(r.failures):
                failed.append(f"{suite}: {len(r.failures)} task(s) ({r.failures.sample()}; see {r.failures.path})")
        if backend is not None:
            from redistill.llm.usage import write_ledger

            write_ledger(backend, self.run / "augment")
        if failed:  # unfinished tasks are not data: stop before build, re-running retries only them
            raise RedistillError(f"augment: a model call failed after its retries for {'; '.join(failed)}; "
                                 "re-run to retry only those tasks")
        return status

    def stage_build(self) -> None:
        from redistill.distill.build import BuildOptions, run_build

        b = self.cfg.build
        opts = BuildOptions(paper_compat=b.paper_compat, margins=b.margins, max_pairs_per_task=b.max_pairs_per_task,
                            min_score=b.min_score, min_score_ratio=b.min_score_ratio,
                            max_applications_per_task=b.max_applications_per_task, seed=b.seed)
        run_build(self.run, opts, self.prompts, force=True)
        write_jsonl(self.run / "imitation" / "rule_application.jsonl", self._imitation_rows())

    def _imitation_rows(self) -> list[dict]:
        """The imitation baseline's data: direct prompt (seen examples + an unseen input) -> its output,
        at most ``build.max_applications_per_task`` rows per task (the same cap as rule application)."""
        rows, cap = [], self.cfg.build.max_applications_per_task
        for tasks in self.tasks("train").values():
            for t in tasks:
                p = self.prompts.for_suite(t.suite, t.answer_type)
                for ex in t.test[:cap]:
                    msgs = direct_messages(p, t, ex.input) + [{"role": "assistant", "content": ex.output}]
                    rows.append({"messages": msgs, "suite": t.suite, "task_id": str(t.id)})
        return rows

    def stage_student(self) -> None:
        if self.cfg.student.base != "scratch":
            console.print(f"student: {self.cfg.student.base} (loaded by the training stages)")
            return
        from redistill.train.scratch import build_student

        texts = []
        for name in ("rule_generation.jsonl", "rule_application.jsonl"):
            texts += [m["content"] for r in read_jsonl(self.run / "data" / name) for m in r["messages"]]
        texts += [m["content"] for r in read_jsonl(self.run / "imitation" / "rule_application.jsonl")
                  for m in r["messages"]]
        sc = self.cfg.student.scratch
        out = build_student(texts, self.model_dir("init"), sc.hidden_size, sc.num_layers, sc.num_heads,
                            sc.vocab_size, sc.max_positions, seed=self.cfg.seed)
        n = json.loads((out / "config.json").read_text())
        console.print(f"student built from scratch: hidden {n['hidden_size']}, {n['num_hidden_layers']} layers, "
                      f"vocab {n['vocab_size']} -> {out}")

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
        from redistill.pipeline.evaluate import run_entries

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


def _answer_type(name: str) -> str | None:
    from redistill.tasks.suites import ALIASES, SUITES

    key = ALIASES.get(name, name)
    return SUITES[key].answer_type if key in SUITES else None


def _timings_table(timings: dict[str, dict]) -> Table:
    table = Table(title="Stages")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("wall s", justify="right")
    for stage, t in timings.items():
        table.add_row(stage, t["status"], f"{t['wall_s']:.1f}")
    table.add_row("total", "", f"{sum(t['wall_s'] for t in timings.values()):.1f}")
    return table
