"""The evaluation stage: a method (io | search) on one or more suites, resumable, one line per task.

Writes ``OUT/<suite>.jsonl`` (appended per finished chunk of tasks, so Ctrl-C loses only the chunk in
flight), ``OUT/summary.json`` (recomputed from all rows) and ``OUT/config.json`` (what made them;
a re-run with different settings into the same folder is refused rather than mixed in).
A task whose model call failed for good is not a row: it goes to ``OUT/<suite>.failures.json``,
counts as ``failed`` in the summary (never as a wrong answer) and is retried by the next run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from rich.console import Console
from rich.progress import Progress

from redistill.config import StageConfig
from redistill.errors import RedistillError
from redistill.eval.metrics import summarize
from redistill.failures import FailureLog, failures_path
from redistill.jsonl import JsonlAppender, read_jsonl_repairing, write_json
from redistill.llm.prior import MISUSE, misused
from redistill.llm.types import Backend, Usage
from redistill.locks import stage_lock
from redistill.manifest import difference
from redistill.progress import progress_bar
from redistill.prompts import load_prompts
from redistill.search.direct import run_direct
from redistill.search.engine import run_search
from redistill.search.followers import check_python_suite, make_follower
from redistill.search.proposers import ModelProposer
from redistill.search.sandbox import require_sandbox
from redistill.search.types import FollowerName
from redistill.tasks import Task, load_tasks

CostFn = Callable[[Usage], float]
Method = Literal["io", "search"]


class SearchSettings(StageConfig):
    """How an evaluation samples and scores: shared by ``redistill eval`` and every row of a run's table
    (a run config's ``eval:`` block)."""

    hypotheses: int = Field(10, ge=1, description="H: rules sampled per task.")
    rule_temperature: float = Field(0.9, ge=0, description="Sampling temperature of rule generation.")
    apply_temperature: float = Field(0.7, ge=0, description="Sampling temperature of rule application (llm follower).")
    io_temperature: float = Field(0.6, ge=0, description="Sampling temperature of direct answers (io; the reference "
                                  "code's 0.6).")
    max_tokens: int | None = Field(None, ge=1, description="Max new tokens per answer (default 512 for rules, 256 "
                                   "otherwise).")
    seed: int | None = Field(None, description="Sampling seed (in a run config: the run's seed unless set).")
    strict: bool = Field(False, description="Score with the published exact string matching.")
    chunk_size: int = Field(64, ge=1, description="Tasks per batch; each finished batch is saved.")


class EvalConfig(SearchSettings):
    """Settings of one evaluation; each field's help is reused by ``redistill eval --help``."""

    FLAGS: ClassVar[dict[str, str]] = {"adapters": "--adapter", "suites": "--suite"}
    RESUMABLE: ClassVar[tuple[str, ...]] = ("suites", "data", "limit", "chunk_size", "unsafe_sandbox")
    """Settings that may change between runs into one folder without mixing incomparable rows."""

    model: str = Field("", description="Backend spec: hf:PATH, openai:MODEL[@URL] or vllm:PATH.")
    adapters: list[str] = Field(default_factory=list, description="PEFT adapter folder (repeatable).")
    suites: list[str] = Field(default_factory=list, description="Suites, repeatable or comma-separated.")
    data: str | None = Field(None, description="Suite JSONL file or data folder in the published layout (or "
                             "REDISTILL_DATA).")
    split: str = Field("test", description="train | test | all (test reproduces the published split).")
    answer_type: str | None = Field(None, description="For a custom suite: list | label | tokens.")
    method: Method = Field("search", description="io (direct few-shot) or search (hypothesis search).")
    follower: FollowerName = Field(
        "llm", description="Rule follower: llm (the paper), python (rules as programs, list suites) or library "
        "(exact interpreters for rules in the rule library's wording).")
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N tasks of each suite.")
    prompts: str | None = Field(None, description="Prompts JSON file in the reference layout.")
    tie_break: Literal["first", "reference"] = Field("first", description="Rule ties: first (sampled first) or "
                                                     "reference (the published code).")
    early_stop: bool = Field(False, description="Stop sampling a task's rules once one scores perfectly.")
    prune: bool = Field(False, description="Score rules in rounds of seen examples and stop scoring each once it can "
                        "no longer be chosen (same choice, fewer applications; pruned rules keep partial scores).")
    oracle: bool | None = Field(None, description="Apply every rule to the unseen examples (best-of-H ceiling, "
                                "accuracy-vs-H); default: on for the python follower, off for llm.")
    unsafe_sandbox: bool = Field(False, description="Run the python follower's programs WITHOUT the bubblewrap "
                                 "sandbox (old in-process guard only; recorded in config.json). Not recommended.")

    @model_validator(mode="after")
    def _consistent(self) -> EvalConfig:
        if not self.model:
            raise ValueError("no model given: pass --model (e.g. --model hf:PATH)")
        if not self.suites:
            raise ValueError("no suite given: pass --suite (e.g. --suite list_func,acre)")
        if misused(self.model, self.method, self.follower):
            raise ValueError(f"--model {self.model}: {MISUSE}; use --method search --follower library")
        if self.prune and self.use_oracle:
            raise ValueError("--prune needs --no-oracle: the oracle's accuracy-vs-H curve needs every rule's full "
                             "score")
        return self

    @property
    def use_oracle(self) -> bool:
        return self.oracle if self.oracle is not None else self.follower in ("python", "library")


class _StageBars:
    """Backend wrapper and stage callback driving one rich progress bar per stage (count, tokens)."""

    def __init__(self, backend: Backend, progress: Progress | None, suite: str, cost_fn: CostFn | None = None):
        self.inner, self.progress, self.suite, self.cost_fn = backend, progress, suite, cost_fn
        self.spec = backend.spec
        self.bar: Any = None
        self.usage = Usage()

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def stage(self, name: str, total: int) -> None:
        self.finish()
        if self.progress is not None:
            self.bar = self.progress.add_task(f"{self.suite}: {name}", total=total, tokens=0, cost="")
            self._stage_usage = Usage()

    def finish(self) -> None:
        if self.progress is not None and self.bar is not None:
            self.progress.update(self.bar, completed=self.progress.tasks[self.bar].total)
        self.bar = None

    def _advance(self, n: int, usage: Usage) -> None:
        self.usage = self.usage + usage
        if self.progress is not None and self.bar is not None:
            self._stage_usage = self._stage_usage + usage
            u = self._stage_usage
            cost = f"${self.cost_fn(u):.4f}" if self.cost_fn else ""
            self.progress.update(self.bar, advance=n, tokens=u.prompt_tokens + u.completion_tokens, cost=cost)

    def generate(self, requests, progress=None):
        return self.inner.generate(requests, progress=self._advance)


def _check_resume(out: Path, cfg: EvalConfig) -> None:
    """Refuse to add rows made with other settings to an evaluation folder (its ``config.json`` is the identity)."""
    path = out / "config.json"
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RedistillError(f"{path}: not valid JSON ({e.msg}); delete it or choose another --out") from None
    new = cfg.to_json()
    key = difference(old, new, frozenset(EvalConfig.RESUMABLE), missing_ok=True)
    if key is not None:
        raise RedistillError(
            f"{path}: field '{key}': this folder holds an evaluation with {key}={old[key]!r}, not {new[key]!r}; "
            "choose another --out (or the same settings to resume)"
        )


def _result_rows(path: Path) -> list[dict]:
    """The result rows of a suite file, each with its task ``key`` (a cut last line is repaired)."""
    rows = read_jsonl_repairing(path)
    if all(isinstance(r.get("key"), str) and isinstance(r.get("correct"), list) for r in rows):
        return rows
    from redistill.jsonl import parse_appended

    line, r = next((n, r) for n, r in parse_appended(path)[0]
                   if not (isinstance(r.get("key"), str) and isinstance(r.get("correct"), list)))
    field = "key" if not isinstance(r.get("key"), str) else "correct"
    raise RedistillError(f"{path}:{line}: field '{field}': missing or of the wrong type; this is not an eval "
                         "result file (move it away, or choose another --out)")


def _run_chunk(cfg: EvalConfig, tasks: list[Task], backend, prompts) -> list[dict]:
    if cfg.method == "io":
        return run_direct(tasks, backend, prompts, cfg.io_temperature, cfg.max_tokens or 256, cfg.seed, cfg.strict,
                          on_stage=backend.stage)
    python = cfg.follower == "python"
    proposer = ModelProposer(backend, prompts, cfg.rule_temperature, cfg.max_tokens or 512, program=python,
                             seed=cfg.seed)
    kw = {"unsafe_sandbox": cfg.unsafe_sandbox} if python else {}
    if cfg.follower == "llm":
        kw = {"temperature": cfg.apply_temperature, "max_tokens": cfg.max_tokens or 256, "seed": cfg.seed}
    follower = make_follower(cfg.follower, backend, prompts, **kw)
    return run_search(tasks, proposer, follower, cfg.hypotheses, cfg.tie_break, cfg.early_stop,
                      cfg.strict, cfg.use_oracle, on_stage=backend.stage, prune=cfg.prune)


def prepare(cfg: EvalConfig, out: str | Path) -> dict[str, list[Task]]:
    """Check settings, load every suite and check the output folder: all before a model is loaded."""
    cfg.check()
    load_prompts(cfg.prompts)
    suites = {s: load_tasks(s, cfg.data, cfg.split, limit=cfg.limit, answer_type=cfg.answer_type) for s in cfg.suites}
    if cfg.method == "search" and cfg.follower == "python":
        for tasks in suites.values():
            for t in tasks[:1]:
                check_python_suite(t.suite, t.answer_type)
        require_sandbox(cfg.unsafe_sandbox)  # programs run in bubblewrap: refuse now, not after paying for rules
    _check_resume(Path(out), cfg)
    return suites


def run_eval(
    cfg: EvalConfig, out: str | Path, backend: Backend, cost_fn: CostFn | None = None,
    console: Console | None = None, suites: dict[str, list[Task]] | None = None,
) -> dict[str, dict]:
    """Evaluate every suite of ``cfg`` into ``out``, skipping tasks already there; returns the summaries.

    ``suites`` is what ``prepare`` returned, when the caller already called it. ``cost_fn`` defaults to the
    price table's for ``cfg.model`` (None for local engines), the one the backend's ledger uses.
    """
    from redistill.llm.usage import cost_fn_for

    cost_fn = cost_fn or cost_fn_for(cfg.model)
    suites = suites if suites is not None else prepare(cfg, out)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with stage_lock(out, "eval", "an evaluation"):  # one writer: a second eval would count every task twice
        return _run_eval(cfg, out, backend, cost_fn, console, suites)


def _run_eval(cfg: EvalConfig, out: Path, backend: Backend, cost_fn: CostFn | None, console: Console | None,
              suites: dict[str, list[Task]]) -> dict[str, dict]:
    prompts = load_prompts(cfg.prompts)
    out.mkdir(parents=True, exist_ok=True)
    old_cfg = json.loads((out / "config.json").read_text()) if (out / "config.json").exists() else {}
    merged = cfg.to_json() | {"suites": sorted(set(old_cfg.get("suites", [])) | set(cfg.suites)),
                              # once any row ran without the sandbox, the folder says so
                              "unsafe_sandbox": cfg.unsafe_sandbox or bool(old_cfg.get("unsafe_sandbox"))}
    write_json(out / "config.json", merged | {"backend": backend.identity()})

    console = console or Console()
    summary_path = out / "summary.json"
    summaries = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    names: list[str] = []
    with progress_bar("{task.fields[tokens]} tok {task.fields[cost]}", console) as progress:
        for suite, tasks in suites.items():
            name = tasks[0].suite if tasks else suite
            names.append(name)
            path = out / f"{name}.jsonl"
            done = {r["key"] for r in _result_rows(path)}
            todo = [t for t in tasks if t.key not in done]
            log = FailureLog(failures_path(out, name))
            for t in tasks:
                if t.key in done:
                    log.clear(t.suite, t.id)
            bars = _StageBars(backend, progress, name, cost_fn)
            with JsonlAppender(path) as appender:
                for i in range(0, len(todo), cfg.chunk_size):
                    chunk = todo[i : i + cfg.chunk_size]
                    start = time.perf_counter()
                    rows = _run_chunk(cfg, chunk, bars, prompts)
                    share = (time.perf_counter() - start) / len(chunk)
                    for row in rows:
                        row["wall_s"] = round(share, 4)
                        u = row["usage"]
                        u["cost_usd"] = cost_fn(Usage(u["prompt_tokens"], u["completion_tokens"])) if cost_fn else None
                        if "error" in row:  # an outage is no answer: record it apart, retry it next run
                            log.record(row["suite"], row["task"], row["error"]["stage"], row["error"]["reason"])
                            continue
                        appender.write(row)
                        log.clear(row["suite"], row["task"])
                    log.save()
            bars.finish()
            keys = {t.key for t in tasks}
            unique: dict[str, dict] = {}
            for r in _result_rows(path):
                if r["key"] in keys:
                    unique.setdefault(r["key"], r)  # a task counts once, however many lines it has
            rows = list(unique.values())
            failed = sum((t.suite, str(t.id)) in log.entries for t in tasks if t.key not in unique)
            summaries[name] = summarize(rows) | {"method": cfg.method, "model": cfg.model, "failed": failed}
            if failed:
                summaries[name]["failures_file"] = str(log.path)
            if merged["unsafe_sandbox"] and cfg.follower == "python":
                summaries[name]["unsafe_sandbox"] = True
            write_json(summary_path, summaries)
    return {name: summaries[name] for name in names}
