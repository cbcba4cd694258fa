"""Damaged files as a user meets them: cut last lines are repaired (also mid UTF-8 character), everything
else is one ``file:line`` message; a stage skip checks its outputs are still there and whole."""

from __future__ import annotations

import json

import pytest

from redistill.distill.build import run_build
from redistill.errors import RedistillError
from redistill.fingerprint import changed, fingerprint
from redistill.jsonl import read_jsonl, read_jsonl_repairing, write_jsonl
from redistill.tasks import load_tasks
from tests.cli_runner import run
from tests.distill.distill_doubles import scored_record

TASK = {"idx": 0, "train": [{"input": "[1]", "output": "[1]"}], "test": [{"input": "[2]", "output": "[2]"}]}


def test_utf8_cut_last_line_is_repaired_like_an_ascii_one(tmp_path):
    path = tmp_path / "a.jsonl"
    whole = json.dumps({"rule": "répète"}, ensure_ascii=False) + "\n"
    cut = json.dumps({"rule": "déjà vu"}, ensure_ascii=False).encode()[:12]  # inside the 2-byte "é"
    assert cut.endswith(b"\xc3")
    path.write_bytes(whole.encode() + cut)
    with pytest.warns(UserWarning, match=r"a.jsonl:2: dropping a truncated last line"):
        assert read_jsonl_repairing(path) == [{"rule": "répète"}]
    assert path.read_text(encoding="utf-8") == whole


def test_utf8_cut_augment_line_through_build(tmp_path):
    run_dir = tmp_path / "run"
    write_jsonl(run_dir / "augment" / "list_func.jsonl", [scored_record(0, "list_func", ["rule 4 é"])])
    path = run_dir / "augment" / "list_func.jsonl"
    line = json.dumps(scored_record(1, "list_func", ["rule 2 é"]), ensure_ascii=False).encode()
    cut = line[: line.index("é".encode()) + 1]  # ends inside the "é"
    path.write_bytes(path.read_bytes() + cut)
    with pytest.warns(UserWarning, match="truncated last line"):
        assert run_build(run_dir).stats["suites"]["list_func"]["tasks"] == 1


@pytest.mark.parametrize("content,problem", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", r"bad.jsonl:1: not UTF-8 text.*binary file"),
    (json.dumps(TASK).encode() + b'\n[1, 2]\n', r"bad.jsonl:2: expected a JSON object, got list"),
    (b'"just a string"\n', r"bad.jsonl:1: expected a JSON object, got str"),
    (json.dumps({**TASK, "idx": [1, 2]}).encode() + b"\n", r"bad.jsonl:1: field 'idx': a task id is an integer or a "
                                                          r"string, got list \[1, 2\]"),
    (json.dumps({**TASK, "idx": True}).encode() + b"\n", r"bad.jsonl:1: field 'idx'"),
    (b"", r"bad.jsonl: no tasks in this file"),
    (b"\n\n", r"bad.jsonl: no tasks in this file"),
])
def test_bad_suite_files_are_one_line_errors(tmp_path, content, problem):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(RedistillError, match=problem):
        load_tasks("list_func", path, "all")


def test_empty_split_is_an_error(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(TASK) + "\n")
    with pytest.raises(RedistillError, match="split 'train' of its 1 task"):
        load_tasks("list_func", path, "train")


@pytest.mark.parametrize("content,problem", [
    (b"\x00\x01\x02binary\xff\n", "not UTF-8 text"),
    (b'[1]\n{"key": "a"}\n', "expected a JSON object"),
    (b'{"no": "key"}\n', "field 'key'"),
])
def test_damaged_eval_file_is_a_message(tmp_path, capsys, content, problem):
    data = tmp_path / "t.jsonl"
    data.write_text(json.dumps(TASK) + "\n")
    out = tmp_path / "e"
    out.mkdir()
    (out / "list_func.jsonl").write_bytes(content)
    from tests.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        code = run(["eval", "--model", f"openai:m@{server.url}", "--suite", "list_func", "--data", str(data),
                    "--split", "all", "--method", "io", "--no-cache", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and problem in err and "list_func.jsonl" in err and "Traceback" not in err


def test_damaged_augment_file_is_a_message(tmp_path, capsys):
    data = tmp_path / "t.jsonl"
    data.write_text(json.dumps(TASK) + "\n")
    aug = tmp_path / "run" / "augment"
    aug.mkdir(parents=True)
    (aug / "list_func.jsonl").write_bytes(b'\xff\xfe{"x": 1}\n{"task_id": 0}\n')
    code = run(["augment", "--teacher", "library", "--suite", "list_func", "--data", str(data), "--split", "all",
                "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "list_func.jsonl:1: not UTF-8 text" in err and "Traceback" not in err


def test_build_redoes_when_its_outputs_are_deleted_or_truncated(tmp_path):
    run_dir = tmp_path / "run"
    write_jsonl(run_dir / "augment" / "list_func.jsonl",
                [scored_record(0, "list_func", ["rule 4 all", "rule 0 none"])])
    assert not run_build(run_dir).skipped
    assert run_build(run_dir).skipped
    gen = run_dir / "data" / "rule_generation.jsonl"
    whole = gen.read_text()
    gen.write_text(whole[: len(whole) // 2])  # truncated
    assert not run_build(run_dir).skipped and gen.read_text() == whole
    (run_dir / "data" / "preference.jsonl").unlink()
    assert not run_build(run_dir).skipped
    assert read_jsonl(run_dir / "data" / "preference.jsonl")


def test_fingerprint_notices_missing_and_changed_files(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("one")
    (tmp_path / "out" / ".lock").write_text("pid")  # hidden files are not outputs
    rec = fingerprint([tmp_path / "out"], tmp_path)
    assert list(rec) == ["out/a.txt"]
    assert changed(rec, [tmp_path / "out"], tmp_path) is None
    (tmp_path / "out" / "a.txt").write_text("two")
    assert changed(rec, [tmp_path / "out"], tmp_path) == "out/a.txt changed"
    (tmp_path / "out" / "a.txt").unlink()
    assert changed(rec, [tmp_path / "out"], tmp_path) == "out/a.txt is missing"
