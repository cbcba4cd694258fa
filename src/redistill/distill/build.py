"""The build stage: augment files -> training data in ``RUN_DIR/data/``.

Three datasets (the shapes the training stage codes against)::

    rule_generation.jsonl   {"messages": [user, assistant=RULE], "suite", "task_id", "score", "n_seen"}
    rule_application.jsonl  {"messages": [user, assistant=OUTPUT], "suite", "task_id"}
    preference.jsonl        {"prompt": [user], "chosen": [assistant], "rejected": [assistant],
                             "score_chosen", "score_rejected", "n_seen", "suite", "task_id"}

Preference pairs (both modes): for a task, every (better, worse) pair of unique rules with
``score(better) - score(worse) > margin(suite)``, optionally capped per task by seeded sampling.

Default mode (learn only from what worked):
  - generation keeps unique rules scoring at least ``min_score`` (default 1: one seen example right);
  - application keeps only *correct* applications, with the gold output as the answer, of rules that
    are the chosen side of a pair or reach their task's top score (so a task whose rules all tie
    still contributes).

``--paper-compat`` (the published construct_pair.py):
  - generation keeps every unique rule whatever its score;
  - application keeps every application of the chosen rules, correct or not, with the teacher's raw
    response as the answer.

Why the default differs: SFT imitates its targets. A rule that fits no seen example, or an
application that produced the wrong output, teaches the student to write wrong rules and to
misapply right ones; the preference stage is where bad rules belong, as the rejected side.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from redistill.config import StageConfig
from redistill.distill.exports import export_llama_factory, save_hf
from redistill.distill.stats import Tally, compute_stats, write_plots
from redistill.errors import RedistillError, located
from redistill.jsonl import parse_appended, write_json, write_jsonl
from redistill.locks import stage_lock
from redistill.manifest import why_stale, write_manifest
from redistill.prompts import Prompts, apply_rule_messages
from redistill.search.scoring import dedupe, normalise_rule
from redistill.search.types import Hypothesis
from redistill.tasks import format_value, get_suite

VERSION = 1
MANIFEST = "manifest.json"
EXACT_FOLLOWERS = ("library",)
"""Followers whose output is the rule's own: their applications are right even for wrong rules."""
DATA_FILES = ("rule_generation.jsonl", "rule_application.jsonl", "preference.jsonl")


class BuildConfig(StageConfig):
    """The build stage: how augment lines become training data (see the module docstring)."""

    FLAGS: ClassVar[dict[str, str]] = {"margins": "--margin", "exports": "--export"}

    paper_compat: bool = Field(False, description="Reproduce the published construction: every unique rule for "
                               "generation, chosen rules' applications right or wrong with the teacher's raw responses.")
    margins: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="SUITE=N: a pair needs a score gap above N (defaults: 1d_arc 1, acre 2, "
        "list_func 3, scan 4). Repeatable.")
    max_pairs_per_task: int | None = Field(None, ge=1, description="Sample at most N pairs per task (seeded).")
    min_score: int | None = Field(None, ge=0, description="Generation data keeps rules scoring at least N "
                                  "(default 1; 0 with --paper-compat).")
    min_score_ratio: float | None = Field(None, ge=0, le=1, description="Generation data also needs a score of at "
                                          "least this share of the task's seen examples (e.g. 1.0: perfect rules only).")
    max_applications_per_task: int | None = Field(None, ge=1, description="Sample at most N rule-application rows "
                                                  "per task (seeded).")
    all_rule_applications: bool = Field(False, description="Rule-application rows from every rule of a task, not "
                                        "only the chosen ones, answered with the follower's output. Only for tasks "
                                        "scored by an exact follower (library), whose output is what the rule does even "
                                        "where the rule is wrong: the student learns to read the rule, not the task.")
    seed: int = Field(0, description="Seed of the pair and application sampling.")
    exports: list[Literal["llama-factory"]] = Field(default_factory=list, description="Also write: llama-factory.")
    imitation: list[str] = Field(default_factory=list, description="Suites (in this order) whose augmented tasks "
                                 "also give the imitation baseline's data, RUN_DIR/imitation/rule_application.jsonl: "
                                 "the direct prompt (seen examples + an unseen input) -> its output, at most "
                                 "max_applications_per_task a task, from RUN_DIR/tasks/<suite>.train.jsonl.")

    @property
    def score_floor(self) -> int:
        return self.min_score if self.min_score is not None else (0 if self.paper_compat else 1)

    def floor_for(self, n_seen: int | None) -> int:
        """The generation score floor of a task with ``n_seen`` seen examples."""
        if self.min_score_ratio is None or not n_seen:
            return self.score_floor
        return max(self.score_floor, math.ceil(self.min_score_ratio * n_seen))

    def margin(self, suite: str, answer_type: str) -> int:
        if suite in self.margins:
            return self.margins[suite]
        return get_suite(suite, answer_type).margin


def parse_margins(values: list[str]) -> dict[str, int]:
    """``["list_func=2", "acre=1"]`` -> ``{"list_func": 2, "acre": 1}`` (suite aliases accepted)."""
    out = {}
    for v in values:
        name, sep, num = v.partition("=")
        if not sep or not num.strip().lstrip("-").isdigit():
            raise RedistillError(f"--margin {v!r}: expected SUITE=INTEGER, e.g. list_func=2")
        try:
            name = get_suite(name.strip()).name
        except RedistillError:
            name = name.strip()  # a custom suite keeps its own name
        out[name] = int(num)
    return out


@dataclass
class BuildResult:
    stats: dict[str, Any]
    skipped: bool
    """True when the manifest matched: nothing was rebuilt."""
    data_dir: Path


def _read_lines(path: Path) -> list[tuple[int, dict]]:
    """Parse an augment file without modifying it (augment may be appending): a truncated last line
    is dropped with a warning, a bad line elsewhere is an error."""
    rows, cut = parse_appended(path)
    if cut:
        warnings.warn(f"{path}:{rows[-1][0] + 1 if rows else 1}: ignoring a truncated last line (interrupted write)",
                      stacklevel=2)
    return rows


def _validate(rec: dict, path: Path, line: int) -> None:
    for key, kind in (("task_id", (int, str)), ("suite", str), ("prompt", list), ("rules", list)):
        if not isinstance(rec.get(key), kind):
            raise located(path, line, key, "missing or of the wrong type; is this an augment file?")
    for j, rule in enumerate(rec["rules"]):
        if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str) or not isinstance(rule.get("score"), int):
            raise located(path, line, f"rules[{j}]", "expected an object with 'rule' (text) and 'score' (integer)")
        for k, app in enumerate(rule.get("applications") or []):
            if not isinstance(app, dict) or "response" not in app or "input" not in app:
                raise located(path, line, f"rules[{j}].applications[{k}]", "expected 'input', 'gold', 'response', 'correct'")


def load_records(run_dir: str | Path) -> list[dict]:
    """Every task line of ``RUN_DIR/augment/*.jsonl``, validated; a task seen twice is an error."""
    aug = Path(run_dir) / "augment"
    files = sorted(aug.glob("*.jsonl"))
    if not files:
        raise RedistillError(f"{aug}: no augment files (*.jsonl); run `redistill augment --out {run_dir}` "
                             "or `redistill import` first")
    records, seen = [], {}
    for path in files:
        for line, rec in _read_lines(path):
            _validate(rec, path, line)
            key = (rec["suite"], str(rec["task_id"]))
            if key in seen:
                raise located(path, line, "task_id", f"task {key[1]} of {key[0]} already appears at {seen[key]}; "
                              "re-running `redistill augment` with the same settings on this folder drops the "
                              "duplicates (it keeps each task's first line)")
            seen[key] = f"{path.name}:{line}"
            records.append(rec)
    return records


def _task_file(run_dir: Path, suite: str) -> Path:
    return run_dir / "tasks" / f"{suite}.train.jsonl"


def input_hash(run_dir: str | Path, imitation: list[str] = ()) -> str:
    """SHA-256 of the augment files (and the task files the imitation data is made from)."""
    h = hashlib.sha256()
    files = sorted((Path(run_dir) / "augment").glob("*.jsonl")) + [_task_file(Path(run_dir), s) for s in imitation]
    for path in files:
        h.update(path.name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return h.hexdigest()


def imitation_rows(run_dir: Path, records: list[dict], opts: BuildConfig, prompts: Prompts) -> list[dict]:
    """The imitation baseline's data: for each augmented task of the ``opts.imitation`` suites (task file
    order), its direct prompt -> output rows, at most ``max_applications_per_task`` (as rule application)."""
    from redistill.prompts import direct_messages
    from redistill.tasks import load_tasks

    augmented: dict[str, set[str]] = {}
    answer_types: dict[str, str] = {}
    for rec in records:
        augmented.setdefault(rec["suite"], set()).add(str(rec["task_id"]))
        answer_types.setdefault(rec["suite"], rec.get("answer_type", "list"))
    rows, cap = [], opts.max_applications_per_task
    for suite in opts.imitation:
        if suite not in augmented:
            raise RedistillError(f"build.imitation: suite {suite!r} has no augment file in {run_dir / 'augment'}")
        for t in load_tasks(suite, _task_file(run_dir, suite), answer_type=answer_types[suite]):
            if str(t.id) not in augmented[suite]:
                continue
            p = prompts.for_suite(t.suite, t.answer_type)
            for ex in t.test[:cap]:
                msgs = direct_messages(p, t, ex.input) + [_assistant(ex.output)]
                rows.append({"messages": msgs, "suite": t.suite, "task_id": str(t.id)})
    return rows


def _unique_rules(rules: list[dict]) -> list[dict]:
    """Unique by whitespace-normalised text (first kept), best first; ties keep sample order."""
    firsts = [u.first_index for u in dedupe([Hypothesis(r["rule"]) for r in rules])]
    unique = [{**rules[i], "_order": rules[i].get("first_index", i)} for i in firsts]
    return sorted(unique, key=lambda r: (-r["score"], r["_order"]))


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def task_rows(rec: dict, opts: BuildConfig, prompts: Prompts) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """One task's generation, application and preference rows, and its unique rules."""
    suite, answer_type = rec["suite"], rec.get("answer_type", "list")
    task_id, n_seen, prompt = str(rec["task_id"]), rec.get("n_seen"), rec["prompt"]
    rules = _unique_rules(rec["rules"])
    margin = opts.margin(suite, answer_type)
    meta = {"suite": suite, "task_id": task_id}

    generation = [
        {"messages": [*prompt, _assistant(r["rule"])], **meta, "score": r["score"], "n_seen": n_seen}
        for r in rules if r["score"] >= opts.floor_for(n_seen)
    ]
    pairs = [(x, y) for x in rules for y in rules if x["score"] > y["score"] + margin]
    if opts.max_pairs_per_task is not None and len(pairs) > opts.max_pairs_per_task:
        keep = random.Random(f"{opts.seed}/{suite}/{task_id}").sample(range(len(pairs)), opts.max_pairs_per_task)
        pairs = [pairs[i] for i in sorted(keep)]
    preference = [
        {"prompt": prompt, "chosen": [_assistant(x["rule"])], "rejected": [_assistant(y["rule"])],
         "score_chosen": x["score"], "score_rejected": y["score"], "n_seen": n_seen, **meta}
        for x, y in pairs
    ]

    chosen = {normalise_rule(x["rule"]) for x, _ in pairs}
    top = rules[0]["score"] if rules else 0
    if not opts.paper_compat and top >= max(1, opts.score_floor):
        chosen |= {normalise_rule(r["rule"]) for r in rules if r["score"] == top}
    p = prompts.for_suite(suite, answer_type)
    every_rule = opts.all_rule_applications and (rec.get("params") or {}).get("follower") in EXACT_FOLLOWERS
    application = []
    for r in rules:
        if not every_rule and normalise_rule(r["rule"]) not in chosen:
            continue
        for app in r.get("applications") or []:
            if every_rule:
                if not app.get("response"):  # the follower could not apply it
                    continue
                answer = app["response"]
            elif opts.paper_compat:
                answer = app["response"]
            elif app.get("correct"):
                answer = format_value(app.get("gold"))
            else:
                continue
            user = app.get("prompt") or apply_rule_messages(p, r["rule"], app["input"])
            application.append({"messages": [*user, _assistant(answer)], **meta})
    cap = opts.max_applications_per_task
    if cap is not None and len(application) > cap:
        keep = random.Random(f"{opts.seed}/{suite}/{task_id}/apply").sample(range(len(application)), cap)
        application = [application[i] for i in sorted(keep)]
    return generation, application, preference, rules


def write_data(data_dir: Path, generation: list[dict], application: list[dict], preference: list[dict],
               tally: Tally, exports: tuple[str, ...]) -> dict[str, Any]:
    """Write the three JSONL files, the DatasetDict, any exports, stats.json and the plots."""
    write_jsonl(data_dir / "rule_generation.jsonl", generation)
    write_jsonl(data_dir / "rule_application.jsonl", application)
    write_jsonl(data_dir / "preference.jsonl", preference)
    save_hf(data_dir / "hf", {"rule_generation": generation, "rule_application": application,
                              "preference": preference})
    if "llama-factory" in exports:
        export_llama_factory(data_dir / "llama_factory", generation, application, preference)
    stats = compute_stats(tally)
    write_json(data_dir / "stats.json", stats)
    write_plots(tally, data_dir / "plots")
    return stats


def _outputs(data_dir: Path) -> list[Path]:
    return [data_dir / f for f in (*DATA_FILES, "stats.json")]


def run_build(run_dir: str | Path, opts: BuildConfig | None = None, prompts: Prompts | None = None,
              force: bool = False) -> BuildResult:
    """Build ``RUN_DIR/data`` from ``RUN_DIR/augment``; skipped when inputs and options are unchanged."""
    opts, prompts = opts or BuildConfig(), prompts or Prompts()
    run_dir = Path(run_dir)
    data_dir = run_dir / "data"
    if not (run_dir / "augment").is_dir():
        load_records(run_dir)  # says what is missing, before a data folder is made for the lock
    with stage_lock(data_dir, "build", "a build"):
        return _build(run_dir, data_dir, opts, prompts, force)


def _build(run_dir: Path, data_dir: Path, opts: BuildConfig, prompts: Prompts, force: bool) -> BuildResult:
    records = load_records(run_dir)
    imitation = run_dir / "imitation" / "rule_application.jsonl"
    options = opts.model_dump(exclude=None if opts.imitation else {"imitation"})  # as manifests had it before
    identity = {"version": VERSION, "input_hash": input_hash(run_dir, opts.imitation),
                "options": {**options, "prompts": prompts.source}}
    outputs = _outputs(data_dir) + ([imitation] if opts.imitation else [])
    if not force and all(p.exists() for p in outputs) and why_stale(data_dir / MANIFEST, identity, outputs, data_dir) is None:
        stats = json.loads((data_dir / "stats.json").read_text(encoding="utf-8"))
        return BuildResult(stats, True, data_dir)

    generation, application, preference = [], [], []
    tally = Tally()
    inexact = opts.all_rule_applications and sum(
        (r.get("params") or {}).get("follower") not in EXACT_FOLLOWERS for r in records)
    if inexact:
        warnings.warn(f"all_rule_applications: {inexact} of {len(records)} tasks were scored by a model follower, "
                      "whose application of a wrong rule is not known to be right; they keep the chosen rules' "
                      "applications", stacklevel=2)
    for rec in records:
        gen, app, pref, rules = task_rows(rec, opts, prompts)
        generation += gen
        application += app
        preference += pref
        tally.add_task(rec["suite"], [r["score"] for r in rules], gen, app, pref)
    stats = write_data(data_dir, generation, application, preference, tally, tuple(opts.exports))
    if opts.imitation:
        write_jsonl(imitation, imitation_rows(run_dir, records, opts, prompts))
    counts = {"tasks": len(records), "rule_generation": len(generation), "rule_application": len(application),
              "preference": len(preference)}
    write_manifest(data_dir / MANIFEST, identity, outputs, data_dir, counts=counts)  # last: the build finished
    return BuildResult(stats, False, data_dir)
