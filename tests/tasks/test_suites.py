import json

import pytest

from redistill.errors import RedistillError
from redistill.jsonl import read_jsonl
from redistill.tasks import get_suite, load_tasks

COUNTS = {"1d_arc": 901, "list_func": 250, "acre": 100, "scan": 100}
TEST_FILES = {
    "1d_arc": "1d_arc/1D_arc_test.jsonl",
    "list_func": "list_func/list_function_test.jsonl",
    "acre": "acre/acre_test.jsonl",
    "scan": "scan/scan_test.jsonl",
}


@pytest.mark.parametrize("suite", COUNTS)
def test_real_suites_load_and_test_split_matches_published(benchmarks_dir, suite):
    tasks = load_tasks(suite, benchmarks_dir)
    assert len(tasks) == COUNTS[suite]
    test = load_tasks(suite, benchmarks_dir, split="test")
    train = load_tasks(suite, benchmarks_dir, split="train")
    published = [row["idx"] for row in read_jsonl(benchmarks_dir / TEST_FILES[suite])]
    assert [t.id for t in test] == published
    assert len(test) + len(train) == len(tasks)
    assert not {t.id for t in test} & {t.id for t in train}


def test_real_acre_types_land_in_meta(benchmarks_dir):
    task = load_tasks("acre", benchmarks_dir)[0]
    assert isinstance(task.train[0].input, list)
    assert {e.meta["type"] for e in task.test} <= {"direct", "indirect", "screen_off", "potential"}
    assert task.answer_type == "label"


def test_aliases_and_env(benchmarks_dir, monkeypatch):
    monkeypatch.setenv("REDISTILL_DATA", str(benchmarks_dir))
    assert len(load_tasks("miniscan", split="test")) == 10
    assert len(load_tasks("list_function", split="test")) == 25


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_json_lists_and_strings_both_load(tmp_path):
    f = _write(tmp_path / "s.jsonl", [
        {"idx": 0, "train": [{"input": [0, 2], "output": [2, 0]}], "test": [{"input": "[1, 3]", "output": "[3, 1]"}]},
    ])
    (task,) = load_tasks("mine", f, answer_type="list")
    assert task.train[0].input == "[0, 2]" and task.train[0].output == "[2, 0]"
    assert task.test[0].input == "[1, 3]"


def test_custom_suite_needs_answer_type(tmp_path):
    f = _write(tmp_path / "s.jsonl", [{"idx": 0, "train": [{"input": "a", "output": "b"}], "test": []}])
    with pytest.raises(RedistillError, match="answer type"):
        load_tasks("mine", f)
    (task,) = load_tasks("mine", f, answer_type="tokens")
    assert task.test == [] and task.answer_type == "tokens"  # empty test is fine (inference only)


@pytest.mark.parametrize(
    "rows, expect",
    [
        (['{"idx": 0, "train": [}'], r"s\.jsonl:1: not valid JSON"),
        ([{"idx": 0, "test": []}], r"s\.jsonl:1: field 'train': missing"),
        ([{"idx": 0, "train": [{"input": "a", "output": "b"}], "test": []}, {"idx": 1, "train": [{"input": "a"}], "test": []}],
         r"s\.jsonl:2: field 'train\[0\]\.output': missing"),
        ([{"idx": 0, "train": "x", "test": []}], r"s\.jsonl:1: field 'train': expected a list"),
        ([{"idx": 0, "train": [{"input": "a", "output": "b"}], "test": []}] * 2, "appears twice"),
    ],
)
def test_bad_input_names_file_line_field(tmp_path, rows, expect):
    f = _write(tmp_path / "s.jsonl", rows)
    with pytest.raises(RedistillError, match=expect):
        load_tasks("mine", f, answer_type="list")


def test_missing_file_and_unknown_suite(tmp_path):
    with pytest.raises(RedistillError, match="file not found"):
        load_tasks("acre", tmp_path / "nope.jsonl")
    with pytest.raises(RedistillError, match="acre/acre.jsonl: file not found"):
        load_tasks("acre", tmp_path)
    with pytest.raises(RedistillError, match="unknown suite 'bogus'"):
        get_suite("bogus")


def test_split_by_ids_and_unknown_split(tmp_path):
    rows = [{"idx": i, "train": [{"input": "a", "output": "b"}], "test": []} for i in range(20)]
    f = _write(tmp_path / "s.jsonl", rows)
    assert [t.id for t in load_tasks("mine", f, ids=["3", "7"], answer_type="list")] == [3, 7]
    with pytest.raises(RedistillError, match="not found: 99"):
        load_tasks("mine", f, ids=["99"], answer_type="list")
    with pytest.raises(RedistillError, match="unknown split"):
        load_tasks("mine", f, split="dev", answer_type="list")
    test = load_tasks("mine", f, split="test", answer_type="list")
    assert len(test) == 2  # 20 - int(0.9 * 20)
