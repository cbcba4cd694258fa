"""`redistill run`: config validation, a shortened offline quickstart end to end, skip and resume,
and the paper config's path with its model names swapped for tiny local ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from redistill.errors import RedistillError
from redistill.jsonl import read_jsonl
from redistill.pipeline.check import check_run
from redistill.pipeline.config import STAGES, eval_slug, load_run_config
from redistill.pipeline.report import task_kinds
from redistill.pipeline.run import Pipeline
from tests.distill.teacher_server import ScriptedTeacher, write_tasks
from tests.openai_server import FakeOpenAIServer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

TINY_TRAIN = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "eval_ratio": 0.0,
              "save_strategy": "no", "max_length": 1024}
SHORT = {
    "name": "short",
    "suites": [
        {"name": "list_func", "n_train": 12, "n_test": 3, "holdout": ["keep_odd"]},
        {"name": "1d_arc", "n_train": 6, "n_test": 2},
        {"name": "acre", "n_train": 6, "n_test": 2},
        {"name": "scan", "n_train": 3, "n_test": 1, "novel_train": True},
    ],
    "augment": {"hypotheses": 4},
    "build": {"max_pairs_per_task": 2, "max_applications_per_task": 2},
    "student": {"scratch": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "vocab_size": 400}},
    "train": {
        "sft": {"full": True, "max_steps": 4, **TINY_TRAIN},
        "align": {"method": "orpo", "max_steps": 2, **TINY_TRAIN},
        "imitation": {"max_steps": 3},
    },
    "eval": {"hypotheses": 2, "max_tokens": 16, "entries": [
        {"name": "IO · imitation", "model": "imitation", "method": "io"},
        {"name": "search · SFT", "model": "sft", "method": "search", "follower": "llm"},
        {"name": "search · SFT (exact)", "model": "sft", "method": "search", "follower": "library"},
        {"name": "search · SFT+ORPO", "model": "align", "method": "search", "follower": "llm"},
        {"name": "search · rule prior", "model": "prior", "method": "search", "follower": "library"},
    ]},
}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(tmp_path / "cache"))


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def test_config_errors_name_the_field(tmp_path):
    bad = {**SHORT, "augment": {"hypotheses": 4, "bogus": 1}}
    with pytest.raises(RedistillError, match=r"field 'augment.bogus': Extra inputs"):
        load_run_config(write_config(tmp_path / "a.yaml", bad))
    not_full = {**SHORT, "train": {"sft": {"max_steps": 1}}}
    with pytest.raises(RedistillError, match="train.sft.full"):
        load_run_config(write_config(tmp_path / "b.yaml", not_full))
    batch_library = {**SHORT, "augment": {"hypotheses": 4, "batch": True}}  # SHORT's teacher is the library
    with pytest.raises(RedistillError, match="augment.batch: the Batch API is OpenAI's"):
        load_run_config(write_config(tmp_path / "f.yaml", batch_library))
    short_acre = {**SHORT, "suites": [{"name": "acre", "n_train": 2, "n_test": 1, "max_row": 12}]}
    with pytest.raises(RedistillError, match=r"g.yaml: field 'suites.0.max_row': suite 'acre': only list suites"):
        load_run_config(write_config(tmp_path / "g.yaml", short_acre))
    (tmp_path / "c.yaml").write_text("name: x\nsuites: [\n")
    with pytest.raises(RedistillError, match=r"c.yaml:\d+: not valid YAML"):
        load_run_config(tmp_path / "c.yaml")
    cfg = load_run_config(write_config(tmp_path / "d.yaml", SHORT), ["eval.hypotheses=7", "train.sft.max_steps=9"])
    assert cfg.eval.hypotheses == 7 and cfg.train.sft["max_steps"] == 9
    with pytest.raises(RedistillError, match="unknown concepts"):
        check_run(load_run_config(write_config(tmp_path / "e.yaml", {
            **SHORT, "suites": [{"name": "list_func", "holdout": ["no_such_concept"]}]})))


def test_shipped_configs_validate(tiny_model_dir, benchmarks_dir, monkeypatch):
    monkeypatch.setenv("REDISTILL_DATA", str(benchmarks_dir))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert check_run(load_run_config(CONFIGS / "quickstart.yaml"))
    for name in ("paper.yaml", "qwen0.5b.yaml"):
        lines = check_run(load_run_config(CONFIGS / name, [f"student.base={tiny_model_dir}"]))
        assert any("810 train / 91 test" in line for line in lines)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(RedistillError, match="OPENAI_API_KEY"):
        check_run(load_run_config(CONFIGS / "paper.yaml"))


def test_the_run_seed_reaches_the_training_stages_identity(tmp_path):
    def hashes(seed: int) -> dict[str, str]:
        p = Pipeline(load_run_config(write_config(tmp_path / f"s{seed}.yaml", {**SHORT, "seed": seed})))
        for stage in STAGES:
            p.hashes[stage] = p.stage_hash(stage)
        return p.hashes

    a, b = hashes(0), hashes(1)
    assert [s for s in STAGES if a[s] == b[s]] == ["tasks", "augment", "build"]  # a new seed retrains, same data


def test_untying_the_scratch_student_rebuilds_it_and_the_default_keeps_older_run_folders(tmp_path):
    def pipeline(tie: bool) -> Pipeline:
        cfg = {**SHORT, "student": {"scratch": {**SHORT["student"]["scratch"], "tie_embeddings": tie}}}
        p = Pipeline(load_run_config(write_config(tmp_path / f"t{tie}.yaml", cfg)))
        for stage in STAGES:
            p.hashes[stage] = p.stage_hash(stage)
        return p

    tied, untied = pipeline(True), pipeline(False)
    # the default's identity is the one run folders had before the option existed
    assert "tie_embeddings" not in tied.stage_settings("student")[0]["scratch"]
    assert untied.stage_settings("student")[0]["scratch"]["tie_embeddings"] is False
    assert [s for s in STAGES if tied.hashes[s] == untied.hashes[s]] == ["tasks", "augment", "build"]


def test_shipped_configs_resolve_by_name_from_any_folder(tmp_path, monkeypatch):
    from redistill.cli.run import CONFIGS as SHIPPED
    from redistill.cli.run import resolve_config, shipped_configs

    monkeypatch.chdir(tmp_path)  # no checkout here: the configs come from the installed package
    assert resolve_config(None) == SHIPPED / "quickstart.yaml"
    assert resolve_config("quickstart-long") == SHIPPED / "quickstart-long.yaml"
    assert resolve_config("configs/paper.yaml") == SHIPPED / "paper.yaml"
    assert {"quickstart", "quickstart-long", "paper"} <= set(shipped_configs())
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    assert resolve_config("mine.yaml") == Path("mine.yaml")
    with pytest.raises(RedistillError, match="not a shipped config"):
        resolve_config("nope")


def test_shortened_quickstart_end_to_end(tmp_path):
    run = tmp_path / "run"
    cfg = load_run_config(write_config(tmp_path / "short.yaml", {**SHORT, "out": str(run)}))
    timings = Pipeline(cfg).execute()
    assert [s for s, t in timings.items() if t["status"] == "done"] == list(STAGES)

    n_train = {s["name"]: s["n_train"] for s in SHORT["suites"]}
    n_test = {s["name"]: s["n_test"] for s in SHORT["suites"]}
    for suite in n_train:
        assert len(read_jsonl(run / "tasks" / f"{suite}.train.jsonl")) == n_train[suite]
        assert len(read_jsonl(run / "tasks" / f"{suite}.test.jsonl")) == n_test[suite]
        aug = read_jsonl(run / "augment" / f"{suite}.jsonl")
        assert len(aug) == n_train[suite] and {r["teacher"] for r in aug} == {"library"}
    # held-out concepts never reach training
    assert not [t for t in read_jsonl(run / "tasks" / "list_func.train.jsonl") if t["concept"] == "keep_odd"]
    for name in ("rule_generation", "rule_application", "preference"):
        assert read_jsonl(run / "data" / f"{name}.jsonl")
    assert read_jsonl(run / "imitation" / "rule_application.jsonl")
    for model in ("init", "sft", "align", "imitation"):
        assert (run / "models" / model / "config.json").exists()
    assert (run / "models" / "sft" / "log.jsonl").exists()

    for entry in SHORT["eval"]["entries"]:
        folder = run / "eval" / eval_slug(entry["name"])
        summary = json.loads((folder / "summary.json").read_text())
        assert {s: v["tasks"] for s, v in summary.items()} == n_test
        assert all(0.0 <= v["accuracy"] <= 1.0 for v in summary.values())
    exact = read_jsonl(run / "eval" / eval_slug("search · SFT (exact)") / "list_func.jsonl")
    assert all(r["rules"] for r in exact)  # the student's rules, scored by the exact interpreters
    # the prior's rules are the run's own training rules of the task's suite, drawn without reading the task
    taught: dict[str, set[str]] = {}
    for row in read_jsonl(run / "data" / "rule_generation.jsonl"):
        taught.setdefault(row["suite"], set()).add(row["messages"][-1]["content"])
    for suite in n_test:
        prior = read_jsonl(run / "eval" / eval_slug("search · rule prior") / f"{suite}.jsonl")
        assert prior and all(h["rule"] in taught[suite] for r in prior for h in r["rules"])
    report = (run / "report.md").read_text()
    for entry in SHORT["eval"]["entries"]:
        assert f"| {entry['name']} |" in report
    assert "data:image/png;base64," in (run / "report.html").read_text()
    # results split by test-task kind: keep_odd (held out of training) is a column of its own
    kinds = task_kinds(run)
    assert {k for k in kinds["scan"].values()} == {"held-out"}  # novel training grammars, published test grammar
    assert set(kinds["acre"].values()) == {"seen"}
    held = [t for t in read_jsonl(run / "tasks" / "list_func.test.jsonl") if t["concept"] == "keep_odd"]
    assert [kinds["list_func"][str(t["idx"])] for t in held] == ["held-out"] * len(held)
    assert "Accuracy by test-task kind" in report and "scan held-out (1)" in report

    # a second run skips every stage; a changed eval setting re-runs eval and report only
    again = Pipeline(load_run_config(write_config(tmp_path / "short.yaml", {**SHORT, "out": str(run)})))
    assert {t["status"] for t in again.execute().values()} == {"skipped"}
    changed = {**SHORT, "out": str(run), "eval": {**SHORT["eval"], "hypotheses": 1}}
    timings = Pipeline(load_run_config(write_config(tmp_path / "short.yaml", changed))).execute(start="tasks")
    assert [s for s, t in timings.items() if t["status"] == "done"] == ["eval", "report"]


def test_a_prompts_file_edited_in_place_rebuilds_the_data(tmp_path):
    from redistill.prompts.templates import FIELDS

    prompts = tmp_path / "prompts.json"
    texts = {f: f"{f} v1." for f in FIELDS}
    prompts.write_text(json.dumps({"list_func": texts}))
    cfg = {**SHORT, "suites": SHORT["suites"][:1], "out": str(tmp_path / "run"), "prompts": str(prompts)}
    config = write_config(tmp_path / "p.yaml", cfg)
    Pipeline(load_run_config(config)).execute(until="build")
    assert {t["status"] for t in Pipeline(load_run_config(config)).execute(until="build").values()} == {"skipped"}
    prompts.write_text(json.dumps({"list_func": {**texts, "apply_rule": "apply_rule v2."}}))
    timings = Pipeline(load_run_config(config)).execute(until="build")
    assert [s for s, t in timings.items() if t["status"] == "done"] == ["augment", "build"]  # augment: a check
    rows = read_jsonl(tmp_path / "run" / "data" / "rule_application.jsonl")  # rendered by build (library follower)
    assert rows and all(r["messages"][0]["content"].startswith("apply_rule v2.") for r in rows)
    # the rule prompt is recorded by augment: an edit there must reach the student's generation rows too
    prompts.write_text(json.dumps({"list_func": {**texts, "generate_rule": "generate_rule v3."}}))
    with pytest.warns(UserWarning, match="another rule prompt"):
        Pipeline(load_run_config(config)).execute(until="build")
    rows = read_jsonl(tmp_path / "run" / "data" / "rule_generation.jsonl")
    assert rows and all(r["messages"][0]["content"].startswith("generate_rule v3.") for r in rows)


def test_the_data_follows_the_task_set_when_the_suites_change(tmp_path):
    """Fewer tasks, tasks regenerated with other examples and a suite taken out all leave augment lines
    that answer no task of the run: build must not train on them, and they come back with their tasks."""
    def build_with(suites):
        cfg = {**SHORT, "suites": suites, "out": str(tmp_path / "run")}
        with pytest.warns(UserWarning, match="stale"):
            Pipeline(load_run_config(write_config(tmp_path / "c.yaml", cfg))).execute(until="build")
        return {(r["suite"], r["task_id"]) for r in read_jsonl(tmp_path / "run" / "data" / "rule_generation.jsonl")}

    first = [{"name": "list_func", "n_train": 12, "n_test": 1}, {"name": "1d_arc", "n_train": 6, "n_test": 1}]
    cfg = {**SHORT, "suites": first, "out": str(tmp_path / "run")}
    Pipeline(load_run_config(write_config(tmp_path / "c.yaml", cfg))).execute(until="build")
    full = {(r["suite"], r["task_id"]) for r in read_jsonl(tmp_path / "run" / "data" / "rule_generation.jsonl")}
    assert {s for s, _ in full} == {"list_func", "1d_arc"}
    fewer = build_with([{**first[0], "n_train": 6}, first[1]])  # the first 6 of the same draw
    assert {i for s, i in fewer if s == "list_func"} == {t["idx"] for t in read_jsonl(tmp_path / "run" / "tasks" / "list_func.train.jsonl")}
    assert len({i for s, i in fewer if s == "list_func"}) < len({i for s, i in full if s == "list_func"})
    imitation = read_jsonl(tmp_path / "run" / "imitation" / "rule_application.jsonl")
    assert {r["task_id"] for r in imitation if r["suite"] == "list_func"} <= {i for s, i in fewer if s == "list_func"}

    shorter = build_with([first[0], {**first[1], "max_row": 10}])  # same ids, other examples
    aug = read_jsonl(tmp_path / "run" / "augment" / "1d_arc.jsonl")
    rows = {t["idx"]: t for t in read_jsonl(tmp_path / "run" / "tasks" / "1d_arc.train.jsonl")}
    assert all(len(json.loads(ex["input"])) <= 10 for t in rows.values() for ex in t["train"])
    for rec in aug:  # each line's rules were scored on the task's current seen examples
        assert [a["input"] for a in rec["rules"][0]["applications"]] == [ex["input"] for ex in rows[rec["task_id"]]["train"]]
    assert {s for s, _ in shorter} == {"list_func", "1d_arc"}

    only = build_with([first[0]])
    assert {s for s, _ in only} == {"list_func"} and not (tmp_path / "run" / "augment" / "1d_arc.jsonl").exists()
    # back to the first settings: the first lines come back from augment/stale/
    cfg = {**SHORT, "suites": first, "out": str(tmp_path / "run")}
    Pipeline(load_run_config(write_config(tmp_path / "c.yaml", cfg))).execute(until="build")
    assert {(r["suite"], r["task_id"]) for r in read_jsonl(tmp_path / "run" / "data" / "rule_generation.jsonl")} == full


def test_paper_path_with_tiny_local_models(tmp_path, tiny_model_dir):
    """The paper config's path (a model teacher over the OpenAI API with the llm follower, a published-
    layout file split as published, a LoRA student continuing into ORPO) with GPT-4o swapped for a
    scripted teacher on 127.0.0.1 and Llama-3-8B for the tiny local model."""
    data = write_tasks(tmp_path / "scripted.jsonl")  # 5 list tasks: the published split gives 4 train, 1 test
    run = tmp_path / "paper"
    with FakeOpenAIServer() as server:
        server.responder = ScriptedTeacher()
        sets = [f"out={run}", f"teacher=openai:teacher@{server.url}", f"student.base={tiny_model_dir}",
                f"suites=[{{name: list_func, source: file, data: {data}}}]",
                "augment.hypotheses=4", "augment.max_tokens=12", "augment.budget_usd=null",
                "train.sft.max_steps=2", "train.sft.eval_ratio=0", "train.sft.max_length=512",
                "train.align.max_steps=1", "train.align.max_length=1024",
                "eval.hypotheses=2", "eval.max_tokens=12",
                'eval.entries=[{name: "IO · base", model: base, method: io}, '
                '{name: "HS · SFT+ORPO", model: align, method: search}]']
        Pipeline(load_run_config(CONFIGS / "paper.yaml", sets)).execute()
    aug = read_jsonl(run / "augment" / "list_func.jsonl")
    assert len(aug) == 4 and all(app["prompt"] for r in aug for rule in r["rules"] for app in rule["applications"])
    for rec in aug:  # the scripted scores: "rule k ..." fits min(k, 4) seen examples
        assert all(r["score"] == min(int(r["rule"].split()[1]), 4) for r in rec["rules"])
    assert read_jsonl(run / "data" / "preference.jsonl")  # 4 vs 0 clears the list_func margin of 3
    assert (run / "models" / "sft" / "adapter_config.json").exists()  # LoRA, as in the paper
    assert (run / "models" / "align" / "adapter_config.json").exists()
    assert (run / "augment" / "usage.json").exists()
    summary = json.loads((run / "eval" / eval_slug("HS · SFT+ORPO") / "summary.json").read_text())
    assert {s: v["tasks"] for s, v in summary.items()} == {"list_func": 1}
    assert "| HS · SFT+ORPO |" in (run / "report.md").read_text()
