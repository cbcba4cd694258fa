"""Import of the reference release's raw files and of published training sets."""

from __future__ import annotations

import json

import pytest

from redistill.cli import main
from redistill.distill.build import run_build
from redistill.distill.importer import import_reference_raw, import_training_sets
from redistill.errors import RedistillError
from redistill.jsonl import read_jsonl
from redistill.prompts import load_prompts
from redistill.tasks import load_tasks

GEN = "Find the rule.\n"
APPLY = "Apply the rule.\n"


def reference_prompts(tmp_path):
    texts = {s: {"generate_rule": GEN + s.upper() + "\n", "apply_rule": APPLY + s.upper() + "\n",
                 "direct_fewshot1": "x", "direct_fewshot2": "y"} for s in ("list_func", "acre", "scan")}
    texts["1d_arc"] = texts["list_func"]  # shared by the reference release, as here
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(texts))
    return path


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "lf.jsonl"
    with open(path, "w") as f:
        for i in range(20):
            train = [{"input": f"[{i}, {k}]", "output": f"[{k}, {i}]"} for k in range(3)]
            f.write(json.dumps({"idx": i, "train": train, "test": []}) + "\n")
    return path


def gen_prompt(task):
    return GEN + "LIST_FUNC\n" + "".join(f"\nInput: {e.input}\nOutput: {e.output}\n" for e in task.train) + "\n"


def write_reference(tmp_path, tasks, n_tasks=3):
    """Raw files as generate_data_ir.py writes them: per sample (duplicates too), per seen example."""
    all_hypo, applies, rewards = [], [], []
    for task in tasks[:n_tasks]:
        hypos = [{"Rule": "swap the two", "Score": 3}, {"Rule": "swap  the two", "Score": 3},
                 {"Rule": "keep first", "Score": 1}, {"Rule": "nothing", "Score": 0}]
        all_hypo.append(hypos)
        for h in hypos:
            for k, ex in enumerate(task.train):
                ok = h["Score"] > k
                applies.append({"prompt": APPLY + "LIST_FUNC\n\n" + h["Rule"] + "\n" + f"Input: {ex.input}\n",
                                "response": f"Output: {ex.output}" if ok else "[]"})
        rewards.append({"chosen": [{"content": gen_prompt(task), "role": "user"},
                                   {"content": "swap the two", "role": "assistant"}]})
    paths = {}
    for kind, value in (("all_hypo", all_hypo), ("rule_apply", applies), ("rule_reward_set", rewards)):
        paths[kind] = tmp_path / f"{kind}_train_50_1.0.json"
        paths[kind].write_text(json.dumps(value, indent=4))
    return paths


def test_raw_import_lines_up_tasks_and_builds(tmp_path, suite_file):
    tasks = load_tasks("list_func", suite_file, "train")
    paths = write_reference(tmp_path, tasks)
    run = tmp_path / "run"
    n, out = import_reference_raw(run, "list_func", paths["all_hypo"], paths["rule_apply"], paths["rule_reward_set"],
                                  suite_file)
    rows = read_jsonl(out)
    assert n == 3 and out == run / "augment" / "list_func.jsonl"
    assert [r["task_id"] for r in rows] == [t.id for t in tasks[:3]]  # the published shuffled order
    r = rows[0]
    assert r["params"] == {"hypotheses": 50, "rule_temperature": 1.0, "apply_temperature": 0.7, "follower": "llm",
                           "max_tokens": 0, "strict": True}
    assert r["prompt"] == [{"role": "user", "content": gen_prompt(tasks[0])}]
    assert [(x["rule"], x["score"], x["count"], x["first_index"]) for x in r["rules"]] == [
        ("swap the two", 3, 2, 0), ("keep first", 1, 1, 2), ("nothing", 0, 1, 3)]
    # strict (published) judging: "Output: [..]" has no leading '[' so it is wrong under strict rules
    apps = r["rules"][1]["applications"]
    assert [a["response"] for a in apps] == [f"Output: {tasks[0].train[0].output}", "[]", "[]"]
    assert apps[0]["gold"] == tasks[0].train[0].output and apps[0]["prompt"][0]["content"].startswith(APPLY)

    result = run_build(run)  # list_func margin 3: 3 - 0 is not > 3, so no pairs; top-score rules still teach
    assert result.stats["total"]["preference"] == 0 and result.stats["total"]["rule_generation"] == 6
    result = run_build(run, __import__("redistill.distill.build", fromlist=["BuildConfig"]).BuildConfig(
        paper_compat=True, margins={"list_func": 1}))
    assert result.stats["total"]["preference"] == 3 * 2 and result.stats["total"]["rule_application"] == 3 * 3


def test_raw_import_refuses_files_that_do_not_line_up(tmp_path, suite_file):
    tasks = load_tasks("list_func", suite_file, "train")
    paths = write_reference(tmp_path, tasks)
    applies = json.loads(paths["rule_apply"].read_text())
    applies[5], applies[6] = applies[6], applies[5]
    paths["rule_apply"].write_text(json.dumps(applies))
    with pytest.raises(RedistillError, match=r"rule_apply_train_50_1\.0\.json: field '\[5\]'.*do not line up"):
        import_reference_raw(tmp_path / "run", "list_func", paths["all_hypo"], paths["rule_apply"], None, suite_file)
    with pytest.raises(RedistillError, match=r"does not show seen input"):  # tasks of another split
        import_reference_raw(tmp_path / "run", "list_func", paths["all_hypo"], None, paths["rule_reward_set"],
                             suite_file, split="all")


def test_raw_import_never_overwrites_other_teacher_data(tmp_path, suite_file):
    tasks = load_tasks("list_func", suite_file, "train")
    paths = write_reference(tmp_path, tasks)
    run = tmp_path / "run"
    import_reference_raw(run, "list_func", paths["all_hypo"], data=suite_file, teacher="openai:gpt-4o")
    with pytest.raises(RedistillError, match="teacher"):
        import_reference_raw(run, "list_func", paths["all_hypo"], data=suite_file, teacher="import:other")


def published_rows():
    acre_prompt = GEN + "ACRE\n" + "".join(f"\nInput: ['a{k}']\nOutput: on\n" for k in range(6)) + "\n"
    lf_prompt = GEN + "LIST_FUNC\n" + "".join(f"\nInput: [{k}]\nOutput: [{k}]\n" for k in range(8)) + "\n"
    arc_prompt = GEN + "LIST_FUNC\n" + "".join(f"\nInput: [{k}]\nOutput: [{k}]\n" for k in range(3)) + "\n"
    cut = acre_prompt.find("Input:")
    gen = [{"instruction": p[: p.find("Input:")], "input": p[p.find("Input:"):], "output": f"rule {i}"}
           for i, p in enumerate([acre_prompt, acre_prompt, lf_prompt, arc_prompt])]
    app = [{"instruction": APPLY + "SCAN\n\nrule\n", "input": "Input: dax\n", "output": "RED"}]
    pref = [{"conversations": [{"from": "human", "value": acre_prompt}], "chosen": {"from": "gpt", "value": "good"},
             "rejected": {"from": "gpt", "value": "bad"}}]
    assert cut > 0
    return gen, app, pref


def test_published_sets_from_json_files(tmp_path):
    gen, app, pref = published_rows()
    for name, rows in (("gen", gen), ("app", app), ("pref", pref)):
        (tmp_path / f"{name}.json").write_text(json.dumps(rows))
    run = tmp_path / "run"
    stats = import_training_sets(run, str(tmp_path / "gen.json"), str(tmp_path / "app.json"),
                                 str(tmp_path / "pref.json"), load_prompts(reference_prompts(tmp_path)),
                                 ("llama-factory",))
    g = read_jsonl(run / "data" / "rule_generation.jsonl")
    assert [r["suite"] for r in g] == ["acre", "acre", "list_func", "1d_arc"]
    assert g[0]["messages"][0]["content"] == gen[0]["instruction"] + gen[0]["input"]
    assert g[0]["task_id"] == g[1]["task_id"] != g[2]["task_id"] and g[0]["n_seen"] == 6
    p = read_jsonl(run / "data" / "preference.jsonl")
    assert p == [{"prompt": [{"role": "user", "content": pref[0]["conversations"][0]["value"]}],
                  "chosen": [{"role": "assistant", "content": "good"}],
                  "rejected": [{"role": "assistant", "content": "bad"}], "score_chosen": None,
                  "score_rejected": None, "n_seen": 6, "suite": "acre", "task_id": g[0]["task_id"]}]
    a = read_jsonl(run / "data" / "rule_application.jsonl")
    assert a[0]["suite"] == "scan" and a[0]["messages"][1]["content"] == "RED"
    assert stats["suites"]["acre"]["tasks"] == 1 and stats["suites"]["acre"]["preference"] == 1
    # the round trip through the LLaMA-Factory export gives the published rows back
    assert json.loads((run / "data" / "llama_factory" / "rule_generation.json").read_text()) == gen
    assert json.loads((run / "data" / "llama_factory" / "preference.json").read_text()) == pref


def test_published_set_from_a_dataset_folder_via_cli(tmp_path, capsys):
    from datasets import Dataset

    gen, _, pref = published_rows()
    folder = tmp_path / "redis_generate_rule_alignment"
    Dataset.from_list(pref).to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    run = tmp_path / "run"
    main(["import", "published", str(run), "--preference", str(folder), "--prompts", str(reference_prompts(tmp_path))])
    assert read_jsonl(run / "data" / "preference.jsonl")[0]["chosen"][0]["content"] == "good"
    assert "acre" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["import", "published", str(run), "--preference", str(tmp_path / "missing")])
    assert e.value.code == 2 and "could not load" in capsys.readouterr().err
