"""Stage configs: one declaration backs the options, ``--config FILE.yaml`` (flags on top) and the run config."""

from __future__ import annotations

import json

import pytest
import yaml

from redistill.distill.augment import AugmentConfig
from redistill.distill.build import BuildConfig
from redistill.errors import RedistillError
from redistill.eval.runner import EvalConfig
from redistill.jsonl import read_jsonl, write_jsonl
from redistill.manifest import difference, why_stale, write_manifest
from tests.cli_runner import run
from tests.distill.distill_doubles import make_task, scored_record


def test_yaml_then_flags_and_errors_name_field_and_flag(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"hypotheses": 3, "follower": "python"}))
    cfg = AugmentConfig.load(path, {"hypotheses": 7, "strict": None})  # None: the flag was not given
    assert (cfg.hypotheses, cfg.follower, cfg.strict, cfg.chunk_size) == (7, "python", False, 16)
    path.write_text("hypotheses: 3\nbogus: 1\n")
    with pytest.raises(RedistillError, match=r"a\.yaml: field 'bogus'"):
        AugmentConfig.load(path)
    with pytest.raises(RedistillError, match=r"field 'max_pairs_per_task' \(--max-pairs-per-task\)"):
        BuildConfig(max_pairs_per_task=0)
    with pytest.raises(RedistillError, match="no suite given: pass --suite"):
        EvalConfig(model="hf:m")


def test_the_defaults_are_the_commands_and_the_run_configs(tmp_path):
    from redistill.pipeline.config import load_run_config

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"suites": [{"name": "list_func"}], "teacher": "openai:gpt-4o", "seed": 3,
                                    "train": {"sft": {"full": True}}}))
    cfg = load_run_config(path)
    assert cfg.augment.model_dump() == AugmentConfig().model_dump()  # the paper's: 50 rules, llm follower
    assert cfg.eval.seed == 3  # unset: the run's seed
    lib = load_run_config(path, ["teacher=library"])
    assert lib.augment.follower == "library"  # as `redistill augment --teacher library` does


def test_augment_build_and_eval_take_a_config_file(tmp_path, benchmarks_dir):
    (tmp_path / "aug.yaml").write_text("hypotheses: 3\nchunk_size: 1\n")
    out = tmp_path / "run"
    common = ["--teacher", "library", "--suite", "list_func", "--data", str(benchmarks_dir), "--limit", "2",
              "--out", str(out), "--config", str(tmp_path / "aug.yaml")]
    assert run(["augment", *common, "--hypotheses", "4"]) == 0
    assert {r["params"]["hypotheses"] for r in read_jsonl(out / "augment" / "list_func.jsonl")} == {4}
    (tmp_path / "build.yaml").write_text("margins: {list_func: 0}\nmax_pairs_per_task: 1\n")
    assert run(["build", str(out), "--config", str(tmp_path / "build.yaml"), "--seed", "5"]) == 0
    options = json.loads((out / "data" / "manifest.json").read_text())["options"]
    assert options["margins"] == {"list_func": 0} and options["max_pairs_per_task"] == 1 and options["seed"] == 5
    (tmp_path / "bad.yaml").write_text("margin: 1\n")
    assert run(["build", str(out), "--config", str(tmp_path / "bad.yaml")]) == 2


def test_build_writes_the_imitation_data_of_the_augmented_tasks(tmp_path):
    from redistill.distill.build import run_build
    from redistill.prompts import Prompts, direct_messages

    run_dir = tmp_path / "run"
    tasks = [make_task(i) for i in range(3)]
    write_jsonl(run_dir / "tasks" / "list_func.train.jsonl", [t.to_json() for t in tasks])
    write_jsonl(run_dir / "augment" / "list_func.jsonl", [scored_record(i, "list_func", ["rule 1 a"]) for i in (0, 2)])
    run_build(run_dir, BuildConfig(imitation=["list_func"]))
    rows = read_jsonl(run_dir / "imitation" / "rule_application.jsonl")
    p = Prompts().for_suite("list_func", "list")
    assert [r["task_id"] for r in rows] == ["0", "2"]  # the augmented tasks only, in task-file order
    assert rows[0]["messages"] == direct_messages(p, tasks[0], tasks[0].test[0].input) + [
        {"role": "assistant", "content": tasks[0].test[0].output}]
    assert run_build(run_dir, BuildConfig(imitation=["list_func"])).skipped
    path = run_dir / "imitation" / "rule_application.jsonl"
    path.write_text(path.read_text()[:-40])
    assert not run_build(run_dir, BuildConfig(imitation=["list_func"])).skipped  # its output is damaged
    assert read_jsonl(path) == rows
    path.unlink()
    assert not run_build(run_dir, BuildConfig(imitation=["list_func"])).skipped  # its output is missing


def test_one_manifest_check(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("a")
    m = tmp_path / "manifest.json"
    assert why_stale(m, {"hash": "x"}, [out], tmp_path) == "no manifest"
    write_manifest(m, {"hash": "x"}, [out], tmp_path, counts={"rows": 1})
    assert why_stale(m, {"hash": "x"}, [out], tmp_path) is None
    assert why_stale(m, {"hash": "y"}, [out], tmp_path) == "made with another hash"
    out.write_text("b")
    assert why_stale(m, {"hash": "x"}, [out], tmp_path) == "out.txt changed"
    assert difference({"a": 1, "c": {"k": 1, "v": 2}}, {"a": 1, "b": 2, "c": {"k": 1, "v": 3}},
                      frozenset({"v"}), missing_ok=True) is None
    assert difference({"a": 1}, {"a": 1, "b": 2}) == "b"


def test_train_init_builds_a_student_from_the_data(tmp_path):
    data = tmp_path / "data"
    rows = [{"messages": [{"role": "user", "content": f"Input: [{i}, {i + 1}]"},
                          {"role": "assistant", "content": f"[{i + 1}, {i}]"}]} for i in range(40)]
    write_jsonl(data / "rule_generation.jsonl", rows)
    out = tmp_path / "init"
    assert run(["train", "init", "--data", str(data), "--out", str(out), "--hidden-size", "32", "--num-layers", "1",
                "--vocab-size", "300"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_size"] == 32 and config["num_hidden_layers"] == 1 and config["vocab_size"] <= 300
    assert config["tie_word_embeddings"] is True  # the default
    assert run(["train", "init", "--data", str(data), "--out", str(out), "--hidden-size", "32", "--num-layers", "1",
                "--vocab-size", "300", "--no-tie-embeddings"]) == 0
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is False
    assert run(["train", "init", "--data", str(data), "--out", str(out), "--hidden-size", "30"]) == 2  # 4 heads


def test_build_redoes_rows_when_the_prompts_file_is_edited_in_place(tmp_path):
    from redistill.distill.build import run_build
    from redistill.prompts import load_prompts
    from redistill.prompts.templates import FIELDS

    run_dir = tmp_path / "run"
    write_jsonl(run_dir / "tasks" / "list_func.train.jsonl", [make_task(0).to_json()])
    write_jsonl(run_dir / "augment" / "list_func.jsonl", [scored_record(0, "list_func", ["rule 1 a"])])
    path, opts = tmp_path / "prompts.json", BuildConfig(imitation=["list_func"])
    texts = {f: f"{f} v1." for f in FIELDS}
    path.write_text(json.dumps({"list_func": texts}))
    run_build(run_dir, opts, load_prompts(path))
    assert run_build(run_dir, opts, load_prompts(path)).skipped
    path.write_text(json.dumps({"list_func": {**texts, "direct_fewshot1": "direct_fewshot1 v2."}}))
    assert not run_build(run_dir, opts, load_prompts(path)).skipped
    rows = read_jsonl(run_dir / "imitation" / "rule_application.jsonl")  # rendered by build, not by augment
    assert rows and all(r["messages"][0]["content"].startswith("direct_fewshot1 v2.") for r in rows)
