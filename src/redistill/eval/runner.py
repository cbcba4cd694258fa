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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from redistill.errors import RedistillError
from redistill.eval.metrics import summarize
from redistill.failures import FailureLog, failures_path
from redistill.jsonl import JsonlAppender, read_jsonl_repairing, write_json
from redistill.llm.types import Backend, Usage
from redistill.locks import stage_lock
from redistill.progress import progress_bar
from redistill.prompts import load_prompts
from redistill.search.direct import run_direct
from redistill.search.engine import run_search
from redistill.search.followers import check_python_suite, make_follower
from redistill.search.proposers import ModelProposer
from redistill.search.sandbox import require_sandbox
from redistill.tasks import Task, load_tasks

CostFn = Callable[[Usage], float]


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class EvalConfig:
    """Settings of one evaluation; each field's help is reused by ``redistill eval --help``."""

    model: str = _f("", "Backend spec: hf:PATH, openai:MODEL[@URL] or vllm:PATH.")
    adapters: list[str] = field(default_factory=list, metadata={"help": "PEFT adapter folder (repeatable)."})
    suites: list[str] = field(default_factory=list, metadata={"help": "Suites, repeatable or comma-separated."})
    data: str | None = _f(None, "Suite JSONL file or data folder in the published layout (or REDISTILL_DATA).")
    split: str = _f("test", "train | test | all (test reproduces the published split).")
    answer_type: str | None = _f(None, "For a custom suite: list | label | tokens.")
    method: str = _f("search", "io (direct few-shot) or search (hypothesis search).")
    hypotheses: int = _f(10, "H: rules sampled per task.")
    rule_temperature: float = _f(0.9, "Sampling temperature of rule generation.")
    apply_temperature: float = _f(0.7, "Sampling temperature of rule application (llm follower).")
    io_temperature: float = _f(0.6, "Sampling temperature of direct answers (io; the reference code's 0.6).")
    follower: str = _f("llm", "Rule follower: llm (the paper), python (rules as programs, list suites) or "
                              "library (exact interpreters for rules in the rule library's wording).")
    max_tokens: int | None = _f(None, "Max new tokens per answer (default 512 for rules, 256 otherwise).")
    limit: int | None = _f(None, "Evaluate only the first N tasks of each suite.")
    prompts: str | None = _f(None, "Prompts JSON file in the reference layout.")
    strict: bool = _f(False, "Score with the published exact string matching.")
    seed: int | None = _f(None, "Sampling seed.")
    tie_break: str = _f("first", "Rule ties: first (sampled first) or reference (the published code).")
    early_stop: bool = _f(False, "Stop sampling a task's rules once one scores perfectly.")
    prune: bool = _f(False, "Score rules in rounds of seen examples and stop scoring each once it can no "
                            "longer be chosen (same choice, fewer applications; pruned rules keep partial scores).")
    oracle: bool | None = _f(None, "Apply every rule to the unseen examples (best-of-H ceiling, accuracy-vs-H); "
                                   "default: on for the python follower, off for llm.")
    chunk_size: int = _f(64, "Tasks per batch; each finished batch is saved.")
    unsafe_sandbox: bool = _f(False, "Run the python follower's programs WITHOUT the bubblewrap sandbox (old "
                                     "in-process guard only; recorded in config.json). Not recommended.")

    # settings that may change between runs into one folder without mixing incomparable rows
    RESUMABLE = ("suites", "data", "limit", "chunk_size", "unsafe_sandbox")

    def check(self) -> None:
        if self.method not in ("io", "search"):
            raise RedistillError(f"--method: unknown method {self.method!r}; choose io or search")
        if self.follower not in ("llm", "python", "library"):
            raise RedistillError(f"--follower: unknown follower {self.follower!r}; choose llm, python or library")
        if self.tie_break not in ("first", "reference"):
            raise RedistillError(f"--tie-break: unknown value {self.tie_break!r}; choose first or reference")
        if self.hypotheses < 1:
            raise RedistillError(f"--hypotheses must be at least 1 (got {self.hypotheses})")
        if self.chunk_size < 1:
            raise RedistillError(f"--chunk-size must be at least 1 (got {self.chunk_size})")
        if self.prune and self.use_oracle:
            raise RedistillError("--prune needs --no-oracle: the oracle's accuracy-vs-H curve needs every rule's "
                                 "full score")
        for name in ("rule_temperature", "apply_temperature", "io_temperature"):
            if getattr(self, name) < 0:
                raise RedistillError(f"--{name.replace('_', '-')} must be 0 or more (got {getattr(self, name)})")
        for name in ("max_tokens", "limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise RedistillError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        if not self.suites:
            raise RedistillError("no suite given: pass --suite (e.g. --suite list_func,acre)")

    @property
    def use_oracle(self) -> bool:
        return self.oracle if self.oracle is not None else self.follower in ("python", "library")

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


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
    path = out / "config.json"
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RedistillError(f"{path}: not valid JSON ({e.msg}); delete it or choose another --out") from None
    for key, value in cfg.to_json().items():
        if key not in EvalConfig.RESUMABLE and key in old and old[key] != value:
            raise RedistillError(
                f"{path}: field '{key}': this folder holds an evaluation with {key}={old[key]!r}, not {value!r}; "
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

    ``suites`` is what ``prepare`` returned, when the caller already called it.
    """
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
