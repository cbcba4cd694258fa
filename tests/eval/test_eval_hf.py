"""``redistill eval`` end to end on a real tiny local model (``hf:PATH``), a temp response cache, then
``redistill report``: hand-made fixtures, the real test splits, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redistill.jsonl import read_jsonl
from tests.cli_runner import run
from tests.search.fixtures import ACRE_TASKS, LIST_TASKS, write_tasks

SRC = Path(__file__).resolve().parents[2] / "src"
FAST = ["--hypotheses", "2", "--max-tokens", "6", "--seed", "0"]


@pytest.fixture(autouse=True)
def temp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_io_and_search_both_followers_on_fixtures_then_report(tmp_path, tiny_model_dir, temp_cache, capsys):
    lists = write_tasks(tmp_path / "lists.jsonl", LIST_TASKS)
    acre = write_tasks(tmp_path / "acre.jsonl", ACRE_TASKS)
    model = f"hf:{tiny_model_dir}"
    outs = {name: tmp_path / name for name in ("io", "search", "python")}
    base = ["eval", "--model", model, "--split", "all", *FAST]
    assert run([*base, "--suite", "list_func", "--data", str(lists), "--method", "io", "--out", str(outs["io"])]) == 0
    assert run([*base, "--suite", "list_func", "--data", str(lists), "--method", "search",
                "--out", str(outs["search"])]) == 0
    assert run([*base, "--suite", "acre", "--data", str(acre), "--method", "search",
                "--out", str(outs["search"])]) == 0  # a second suite into the same folder
    assert run([*base, "--suite", "list_func", "--data", str(lists), "--follower", "python",
                "--out", str(outs["python"])]) == 0
    assert (temp_cache / "responses.sqlite").exists()

    io_rows = read_jsonl(outs["io"] / "list_func.jsonl")
    assert sorted(r["task"] for r in io_rows) == [0, 1, 2, 3] and all("rules" not in r or not r["rules"] for r in io_rows)
    search_rows = read_jsonl(outs["search"] / "list_func.jsonl")
    assert len(search_rows) == 4
    for r in search_rows:  # every rule scored on every seen example, by the model (llm follower)
        assert 1 <= len(r["rules"]) <= 2
        assert all(len(x["applications"]) == r["seen"] for x in r["rules"])
    py_rows = read_jsonl(outs["python"] / "list_func.jsonl")
    assert all(x["program"] is None or "transform" in x["program"] for r in py_rows for x in r["rules"])
    summary = json.loads((outs["search"] / "summary.json").read_text())
    assert set(summary) == {"list_func", "acre"}
    assert summary["list_func"]["tasks"] == 4 and summary["list_func"]["examples"] == 5
    assert summary["acre"]["tasks"] == 1 and set(summary["acre"]["by_query_type"]) == {
        "direct", "indirect", "potential", "screen_off"}
    assert summary["list_func"]["calls"] > 0 and summary["list_func"]["prompt_tokens"] > 0
    config = json.loads((outs["search"] / "config.json").read_text())
    assert config["backend"]["engine"] == "hf" and config["hypotheses"] == 2

    # a second run of an evaluation that is complete asks the model nothing and changes nothing
    before = (outs["io"] / "list_func.jsonl").read_text()
    assert run([*base, "--suite", "list_func", "--data", str(lists), "--method", "io", "--out", str(outs["io"])]) == 0
    assert (outs["io"] / "list_func.jsonl").read_text() == before

    md = tmp_path / "report.md"
    assert run(["report", *(str(o) for o in outs.values()), "--out", str(md)]) == 0
    lines = md.read_text().splitlines()
    name = tiny_model_dir.name
    assert [line.split(" | ")[0] for line in lines[2:5]] == [
        f"| io · {name}", f"| search · {name}", f"| search/python · {name}"]
    assert "acre acc" in lines[0] and "list_func acc" in lines[0]


def test_python_follower_refuses_acre_with_a_hint(tmp_path, tiny_model_dir, capsys):
    acre = write_tasks(tmp_path / "acre.jsonl", ACRE_TASKS)
    assert run(["eval", "--model", f"hf:{tiny_model_dir}", "--suite", "acre", "--data", str(acre), "--split", "all",
                "--follower", "python", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--follower llm" in err and "Traceback" not in err


def test_real_list_function_and_acre_test_splits(tmp_path, tiny_model_dir, benchmarks_dir):
    model = f"hf:{tiny_model_dir}"
    common = ["eval", "--model", model, "--data", str(benchmarks_dir), "--limit", "2", *FAST]
    assert run([*common, "--suite", "list_func,acre", "--method", "io", "--out", str(tmp_path / "io")]) == 0
    assert run([*common, "--suite", "list_func,acre", "--out", str(tmp_path / "search")]) == 0
    assert run([*common, "--suite", "list_func", "--follower", "python", "--out", str(tmp_path / "py")]) == 0
    for folder, suites in (("io", {"list_func", "acre"}), ("search", {"list_func", "acre"}), ("py", {"list_func"})):
        summary = json.loads((tmp_path / folder / "summary.json").read_text())
        assert set(summary) == suites
        assert summary["list_func"]["tasks"] == 2 and summary["list_func"]["examples"] == 16  # 8 unseen each
    rows = read_jsonl(tmp_path / "search" / "acre.jsonl")
    assert len(rows) == 2 and all(r["rules"] for r in rows)
    md = tmp_path / "report.md"
    assert run(["report", str(tmp_path / "io"), str(tmp_path / "search"), str(tmp_path / "py"), "--out", str(md)]) == 0
    assert len(md.read_text().splitlines()) == 5


def test_killed_eval_resumes_without_redoing_finished_tasks(tmp_path, tiny_model_dir, temp_cache, benchmarks_dir):
    out = tmp_path / "eval"
    argv = ["eval", "--model", f"hf:{tiny_model_dir}", "--suite", "list_func", "--data", str(benchmarks_dir),
            "--limit", "8", "--chunk-size", "1", *FAST, "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(SRC), "REDISTILL_CACHE_DIR": str(temp_cache),
           "OMP_NUM_THREADS": "1"}  # one thread: steady speed on a busy 2-core machine
    proc = subprocess.Popen([sys.executable, "-m", "redistill", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    path = out / "list_func.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (path.exists() and path.read_text().count("\n") >= 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    finished = path.read_text()
    assert 2 <= finished.count("\n") < 8, err.decode()[-2000:]
    with open(path, "a") as f:
        f.write('{"key": "list_func/half a line')  # a kill mid-write
    with pytest.warns(UserWarning, match="truncated"):
        assert run(argv) == 0
    text = path.read_text()
    # finished lines kept byte for byte (their measured wall_s too: not recomputed)
    assert text.startswith(finished) and text.count("\n") == 8
    rows = read_jsonl(path)
    assert len({r["key"] for r in rows}) == 8
    assert json.loads((out / "summary.json").read_text())["list_func"]["tasks"] == 8
