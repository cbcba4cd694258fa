"""Import teacher data that already exists, so nobody pays for it twice.

Two sources, formats as in the ReDis code release (github.com/NafisSadeq/reasoning-distillation):

1. **Raw augmentation files** of ``generate_data_ir.py`` -> ``RUN_DIR/augment/<suite>.jsonl`` (then
   ``redistill build`` as usual). Per suite and split, three JSON files named ``<kind>_<split>_<H>_<T>.json``:

   - ``all_hypo_*``: one list per task, ``[{"Rule": text, "Score": int}, ...]`` in sample order
     (duplicates included; samples whose generation failed are absent);
   - ``rule_apply_*``: one flat list ``[{"prompt": text, "response": text}, ...]``: for each task, for
     each sample of ``all_hypo``, one entry per seen example, in that order;
   - ``rule_reward_set_*``: per task ``{"chosen": [user, assistant], ...}``; its user message is the
     rule-generation prompt.

   Tasks carry no ids: entry ``i`` is task ``i`` of the split made by ``random.seed(10); shuffle``,
   first 90% ``train``, rest ``valid`` (our ``test`` split). The tasks are therefore loaded from the
   suite file, each entry is checked against its task (seen inputs in the prompt, rule in the
   application prompt), and applications are judged with the published strict comparison. ``Score``
   is kept as written: it is what the published data was filtered with.

2. **Published training sets** (``nsadeq/redis_generate_rule_sft``, ``redis_follow_rule_sft``:
   alpaca ``{"instruction", "input", "output"}``; ``redis_generate_rule_alignment``: sharegpt
   ``{"conversations": [{"from", "value"}], "chosen": {...}, "rejected": {...}}``), from a JSON file or a
   dataset id/folder loaded with ``datasets.load_dataset`` -> ``RUN_DIR/data/``. These carry no task
   ids or scores: ``task_id`` is a hash of the prompt (None for applications), scores are None, and
   the suite is recognised from the prompt texts given with ``--prompts`` (else ``unknown``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from redistill.distill.augment import AugmentParams, check_lines, rule_prompt, task_record
from redistill.distill.build import write_data
from redistill.distill.stats import Tally
from redistill.errors import RedistillError, located
from redistill.jsonl import read_jsonl, read_jsonl_repairing, write_json, write_jsonl
from redistill.prompts import Prompts
from redistill.search.scoring import dedupe
from redistill.search.types import Application, Hypothesis, ScoredRule
from redistill.tasks import SUITES, Task, format_value, get_answer_type, get_suite, load_tasks

_NAME = re.compile(r"(?:all_hypo|rule_apply|rule_reward_set)_(?P<split>.+)_(?P<h>\d+)_(?P<t>\d+(?:\.\d+)?)\.json$")
_SPLITS = {"train": "train", "valid": "test"}
REFERENCE_APPLY_TEMPERATURE = 0.7  # fixed in generate_data_ir.py


def _load_list(path: str | Path, what: str) -> list:
    path = Path(path)
    if not path.exists():
        raise RedistillError(f"{path}: file not found ({what})")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RedistillError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(value, list):
        raise RedistillError(f"{path}: expected a JSON list ({what})")
    return value


def _check_prompt(task: Task, prompt: str, path: Path, where: str) -> None:
    for ex in task.train:
        if f"Input: {format_value(ex.input)}\n" not in prompt:
            raise located(path, None, where, f"does not show seen input {format_value(ex.input)!r} of task "
                          f"{task.id}: the file does not line up with these tasks; pass the --data and "
                          "--split it was made from")


def _task_rules(task: Task, hypos: list, applies: list | None, cursor: int, apply_path: Path | None,
                hypo_path: Path, i: int) -> tuple[list[ScoredRule], int]:
    """Unique rules of one task (duplicate samples counted), with their applications when given."""
    checker = get_answer_type(task.answer_type)
    sample_apps: list[list[Application]] = []
    for j, h in enumerate(hypos):
        if not isinstance(h, dict) or not isinstance(h.get("Rule"), str) or not isinstance(h.get("Score"), int):
            raise located(hypo_path, None, f"[{i}][{j}]", "expected {\"Rule\": text, \"Score\": integer}")
        apps = []
        if applies is not None:
            for ex in task.train:
                where = f"[{cursor}]"
                if cursor >= len(applies):
                    raise located(apply_path, None, where, "the file ends early: fewer applications than "
                                  "rules x seen examples in all_hypo")
                entry = applies[cursor]
                if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str) \
                        or not isinstance(entry.get("response"), str):
                    raise located(apply_path, None, where, "expected {\"prompt\": text, \"response\": text}")
                prompt = entry["prompt"]
                if h["Rule"] not in prompt or f"Input: {format_value(ex.input)}\n" not in prompt:
                    raise located(apply_path, None, where, f"is not rule {j} of task {task.id} applied to "
                                  f"{format_value(ex.input)!r}: the files do not line up")
                verdict = checker.check(entry["response"], ex.output, strict=True)
                apps.append(Application(ex.input, ex.output, entry["response"], verdict.parsed, verdict.correct,
                                        [{"role": "user", "content": prompt}]))
                cursor += 1
        sample_apps.append(apps)
    rules = dedupe([Hypothesis(h["Rule"]) for h in hypos])
    for r in rules:  # each unique rule keeps its first sample's score and applications
        r.score, r.applications = hypos[r.first_index]["Score"], sample_apps[r.first_index]
    return rules, cursor


def import_reference_raw(
    run_dir: str | Path,
    suite: str,
    all_hypo: str | Path,
    rule_apply: str | Path | None = None,
    rule_reward: str | Path | None = None,
    data: str | Path | None = None,
    split: str | None = None,
    teacher: str = "import:gpt-4o",
    prompts: Prompts | None = None,
) -> tuple[int, Path]:
    """Write ``RUN_DIR/augment/<suite>.jsonl`` from the reference raw files; returns (tasks, path)."""
    prompts = prompts or Prompts()
    s = get_suite(suite)
    hypo_path = Path(all_hypo)
    m = _NAME.search(hypo_path.name)
    split = split or (_SPLITS.get(m["split"]) if m else None)
    if split is None:
        raise RedistillError(f"{hypo_path}: cannot tell the split from the file name; pass --split train|test")
    tasks = load_tasks(s.name, data, split)
    hypo_lists = _load_list(hypo_path, "all_hypo: one list of {Rule, Score} per task")
    if len(hypo_lists) > len(tasks):
        raise RedistillError(f"{hypo_path}: {len(hypo_lists)} task entries but split {split!r} of {s.name} has "
                             f"{len(tasks)} tasks; pass the --data and --split the file was made from")
    rewards = _load_list(rule_reward, "rule_reward_set") if rule_reward else None
    if rewards is not None and len(rewards) != len(hypo_lists):
        raise RedistillError(f"{rule_reward}: {len(rewards)} entries, but {hypo_path} has {len(hypo_lists)}")
    applies = _load_list(rule_apply, "rule_apply: {prompt, response} list") if rule_apply else None
    params = AugmentParams.model_construct(  # as recorded by the reference run: not validated as new settings
        hypotheses=int(m["h"]) if m else max((len(h) for h in hypo_lists), default=0),
        rule_temperature=float(m["t"]) if m else 1.0,
        apply_temperature=REFERENCE_APPLY_TEMPERATURE, follower="llm",
        max_tokens=0,  # not set by the reference code: the provider's default
        strict=True,
    )
    out = Path(run_dir) / "augment" / f"{s.name}.jsonl"
    check_lines(out, read_jsonl_repairing(out), teacher, params)  # never overwrite other (paid-for) data

    usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    records, cursor = [], 0
    for i, (task, hypos) in enumerate(zip(tasks, hypo_lists)):
        if not isinstance(hypos, list):
            raise located(hypo_path, None, f"[{i}]", "expected a list of {Rule, Score}")
        if rewards is not None:
            try:
                prompt = [{"role": "user", "content": rewards[i]["chosen"][0]["content"]}]
            except (KeyError, IndexError, TypeError):
                raise located(Path(rule_reward), None, f"[{i}].chosen[0].content", "missing") from None
            _check_prompt(task, prompt[0]["content"], Path(rule_reward), f"[{i}]")
        else:
            prompt = rule_prompt(prompts, task, "llm")
        rules, cursor = _task_rules(task, hypos, applies, cursor, Path(rule_apply) if rule_apply else None,
                                    hypo_path, i)
        records.append(task_record(task, rules, teacher, params, prompt, usage))
    if applies is not None and cursor != len(applies):
        raise RedistillError(f"{rule_apply}: {len(applies)} entries but all_hypo accounts for {cursor}; "
                             "the files do not line up")
    write_jsonl(out, records)
    return len(records), out


# --- published training sets ---------------------------------------------------------------


def _load_rows(source: str) -> list[dict]:
    path = Path(source)
    if path.is_file():
        if path.suffix == ".jsonl":
            return read_jsonl(path)
        return _load_list(path, "a list of records")
    try:
        from datasets import load_dataset

        return list(load_dataset(source, split="train"))
    except Exception as e:  # datasets raises many types for a missing or unreadable dataset
        raise RedistillError(f"{source}: not a file, and datasets could not load it as a dataset "
                             f"({type(e).__name__}: {e})") from None


def infer_suite(prompt: str, prompts: Prompts, field: str) -> str:
    """The suite whose prompt text ``prompt`` starts with; List Function and 1D-ARC share the reference
    texts, so a rule-generation prompt is told apart by its seen examples (8 vs 3)."""
    hits = [s for s in SUITES if getattr(prompts.for_suite(s), field) and
            prompt.startswith(getattr(prompts.for_suite(s), field))]
    if len(hits) > 1 and set(hits) == {"list_func", "1d_arc"} and field == "generate_rule":
        n = prompt.count("Input:")
        hits = ["list_func"] if n == 8 else ["1d_arc"] if n == 3 else hits
    return hits[0] if len(hits) == 1 else "unknown"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _alpaca_messages(row: Any, source: str, i: int) -> list[dict[str, str]]:
    if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("instruction", "output")):
        raise located(source, None, f"[{i}]", "expected alpaca {\"instruction\", \"input\", \"output\"}")
    return [{"role": "user", "content": row["instruction"] + (row.get("input") or "")},
            {"role": "assistant", "content": row["output"]}]


def _sharegpt_pair(row: Any, source: str, i: int) -> tuple[str, str, str]:
    try:
        prompt = "\n".join(t["value"] for t in row["conversations"] if t["from"] in ("human", "user"))
        return prompt, row["chosen"]["value"], row["rejected"]["value"]
    except (KeyError, TypeError):
        raise located(source, None, f"[{i}]", "expected sharegpt {\"conversations\", \"chosen\", \"rejected\"}") from None


def import_training_sets(
    run_dir: str | Path,
    generation: str | None = None,
    application: str | None = None,
    preference: str | None = None,
    prompts: Prompts | None = None,
    exports: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write ``RUN_DIR/data/`` (the shapes ``redistill build`` writes) from published training sets."""
    if not (generation or application or preference):
        raise RedistillError("nothing to import: give --generation, --application and/or --preference")
    prompts = prompts or Prompts()
    gen_rows, app_rows, pref_rows = [], [], []
    for i, row in enumerate(_load_rows(generation) if generation else []):
        msgs = _alpaca_messages(row, generation, i)
        user = msgs[0]["content"]
        gen_rows.append({"messages": msgs, "suite": infer_suite(user, prompts, "generate_rule"),
                         "task_id": _short_hash(user), "score": None, "n_seen": user.count("Input:")})
    for i, row in enumerate(_load_rows(application) if application else []):
        msgs = _alpaca_messages(row, application, i)
        app_rows.append({"messages": msgs, "suite": infer_suite(msgs[0]["content"], prompts, "apply_rule"),
                         "task_id": None})
    for i, row in enumerate(_load_rows(preference) if preference else []):
        user, chosen, rejected = _sharegpt_pair(row, preference, i)
        pref_rows.append({
            "prompt": [{"role": "user", "content": user}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "score_chosen": None, "score_rejected": None, "n_seen": user.count("Input:"),
            "suite": infer_suite(user, prompts, "generate_rule"), "task_id": _short_hash(user),
        })

    tally = Tally()
    groups: dict[tuple[str, str], tuple[list, list]] = {}
    for r in gen_rows:
        groups.setdefault((r["suite"], r["task_id"]), ([], []))[0].append(r)
    for r in pref_rows:
        groups.setdefault((r["suite"], r["task_id"]), ([], []))[1].append(r)
    for (suite, _), (g, p) in groups.items():
        tally.add_task(suite, None, g, [], p)
    for r in app_rows:
        tally.add_applications(r["suite"], [r])
    data_dir = Path(run_dir) / "data"
    stats = write_data(data_dir, gen_rows, app_rows, pref_rows, tally, exports)
    write_json(data_dir / "manifest.json", {
        "imported": {"generation": generation, "application": application, "preference": preference},
        "prompts": prompts.source,
        "counts": {"rule_generation": len(gen_rows), "rule_application": len(app_rows),
                   "preference": len(pref_rows)},
    })
    return stats
