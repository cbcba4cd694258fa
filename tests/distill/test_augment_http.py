"""``redistill augment`` against a real HTTP teacher (``FakeOpenAIServer``), then ``redistill build``.

Scores, margins and pair counts follow from the script in ``teacher_server``; a killed augment
(a real subprocess, SIGINT and SIGKILL) resumes without asking the server anything twice and ends
with the same files as an uninterrupted run.
"""

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
from tests.distill.teacher_server import (
    SCRIPT,
    ScriptedTeacher,
    augment_args,
    reference_run,
    serve,
    without_usage,
)
from tests.openai_server import FakeOpenAIServer

SRC = Path(__file__).resolve().parents[2] / "src"
# one generation request per task, then 4 applications per unique rule
REQUESTS = sum(1 + 4 * len(set(rules)) for rules in SCRIPT.values())


@pytest.fixture(scope="module")
def server():
    """One server for the module: the teacher spec (and so the cache key) names its URL."""
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory):
    return reference_run(server, tmp_path_factory.mktemp("augment-ref"))


def test_records_scores_and_requests(server, reference):
    rows, bodies = reference["rows"], reference["bodies"]
    assert [r["task_id"] for r in rows] == [0, 1, 2, 3, 4]
    assert {r["teacher"] for r in rows} == {f"openai:teacher@{server.url}"}
    scores = {r["task_id"]: [(x["rule"], x["score"], x["count"]) for x in r["rules"]] for r in rows}
    assert scores[0] == [("rule 4 a", 4, 2), ("rule 0 b", 0, 1), ("rule 1 c", 1, 1)]
    assert scores[1] == [("rule 2 a", 2, 2), ("rule 2 b", 2, 2)]
    assert scores[3] == [("rule 0 a", 0, 4)]
    app = rows[2]["rules"][3]["applications"]  # "rule 3 d": right on seen examples 0-2 only
    assert [(a["response"], a["correct"]) for a in app] == [("[0, 2]", True), ("[1, 2]", True), ("[2, 2]", True),
                                                             ("[-1]", False)]
    assert app[0]["prompt"][0]["content"].endswith("rule 3 d\nInput: [2, 0]\n")
    assert rows[0]["params"] == {"hypotheses": 4, "rule_temperature": 0.8, "apply_temperature": 0.3,
                                 "follower": "llm", "max_tokens": 40, "strict": False}
    # the server saw one n=4 request per task and one request per (unique rule, seen example), with the
    # sampling settings given on the command line
    gen = [b for b in bodies if b.get("n") == 4]
    apply = [b for b in bodies if b.get("n") in (None, 1)]
    assert len(gen) == 5 and len(bodies) == REQUESTS
    assert {(b["temperature"], b["max_tokens"]) for b in gen} == {(0.8, 40)}
    assert {(b["temperature"], b["max_tokens"]) for b in apply} == {(0.3, 40)}
    usage = [r["usage"] for r in rows]
    assert sum(u["calls"] for u in usage) == REQUESTS
    assert all(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in usage)


def test_cache_serves_a_new_run_folder_and_no_cache_asks_again(server, reference, tmp_path):
    serve(server, ScriptedTeacher())
    out = tmp_path / "again"
    assert run(augment_args(server.url, reference["data"], out, "--cache-dir", str(reference["cache"]))) == 0
    assert server.requests == []  # every answer was paid for already
    rows = read_jsonl(out / "augment" / "list_func.jsonl")
    assert without_usage(rows) == without_usage(reference["rows"])
    assert all(r["usage"]["prompt_tokens"] == 0 for r in rows)
    ledger = json.loads((out / "augment" / "usage.list_func.json").read_text())
    assert ledger["cache_hits"] > 0 and ledger["prompt_tokens"] == 0  # the run's ledger: all from the cache
    assert run(augment_args(server.url, reference["data"], tmp_path / "fresh", "--no-cache")) == 0
    assert len(server.requests) == REQUESTS


def test_build_both_modes_and_exports(reference, tmp_path):
    import shutil

    from datasets import load_from_disk

    run_dir = tmp_path / "run"
    shutil.copytree(reference["run"], run_dir)
    assert run(["build", str(run_dir), "--export", "llama-factory"]) == 0
    d = run_dir / "data"
    gen, app, pref = (read_jsonl(d / f"{n}.jsonl") for n in ("rule_generation", "rule_application", "preference"))
    # generation: unique rules scoring >= 1 (task 3 has none)
    assert sorted((r["task_id"], r["messages"][1]["content"]) for r in gen) == [
        ("0", "rule 1 c"), ("0", "rule 4 a"), ("1", "rule 2 a"), ("1", "rule 2 b"), ("2", "rule 3 d"),
        ("2", "rule 4 a"), ("4", "rule 1 w"), ("4", "rule 4 x"), ("4", "rule 4 y")]
    # pairs: list_func margin 3, so only 4-vs-0 gaps
    assert sorted((p["task_id"], p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pref) == [
        ("0", "rule 4 a", "rule 0 b"), ("2", "rule 4 a", "rule 0 b"), ("2", "rule 4 a", "rule 0 c"),
        ("4", "rule 4 x", "rule 0 z"), ("4", "rule 4 y", "rule 0 z")]
    # application: correct answers of chosen rules and of task 1's tied top rules: 4 + 2 + 2 + 4 + 4 + 4
    assert len(app) == 20 and all(r["messages"][1]["content"] != "[-1]" for r in app)
    assert {r["task_id"] for r in app} == {"0", "1", "2", "4"}
    dd = load_from_disk(str(d / "hf"))
    assert {k: len(v) for k, v in dd.items()} == {"rule_generation": 9, "rule_application": 20, "preference": 5}
    lf = d / "llama_factory"
    assert len(json.loads((lf / "rule_generation.json").read_text())) == 9
    assert len(json.loads((lf / "preference.json").read_text())) == 5
    assert set(json.loads((lf / "dataset_info.json").read_text())) == {
        "redis_rule_generation", "redis_rule_application", "redis_preference"}
    stats = json.loads((d / "stats.json").read_text())["suites"]["list_func"]
    assert stats["tasks"] == 5 and stats["tasks_without_pairs"] == 2

    # the published construction, with a smaller margin: every unique rule, chosen rules' raw answers
    assert run(["build", str(run_dir), "--paper-compat", "--margin", "list_func=1"]) == 0
    gen, app, pref = (read_jsonl(d / f"{n}.jsonl") for n in ("rule_generation", "rule_application", "preference"))
    assert len(gen) == sum(len(set(r)) for r in SCRIPT.values()) == 14
    assert len(pref) == 2 + 4 + 4  # gaps above 1: task 0 (4>0, 4>1), 2 (4,3 > 0,0), 4 (4,4 > 0,1)
    chosen = sorted({(p["task_id"], p["chosen"][0]["content"]) for p in pref})
    assert chosen == [("0", "rule 4 a"), ("2", "rule 3 d"), ("2", "rule 4 a"), ("4", "rule 4 x"), ("4", "rule 4 y")]
    assert len(app) == 5 * 4 and [r["messages"][1]["content"] for r in app].count("[-1]") == 1  # rule 3 d's miss


def start_augment(argv: list[str], cache: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "REDISTILL_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "redistill", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not ignored


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_augment_resumes_without_asking_twice(server, reference, tmp_path, monkeypatch, sig):
    cache, out = tmp_path / "cache", tmp_path / "run"
    first = serve(server, ScriptedTeacher(hold_after=20))  # task 0 (13 requests) done, task 1 (9) half done
    argv = augment_args(server.url, reference["data"], out)
    proc = start_augment(argv, cache)
    deadline = time.time() + 60
    while not first.held and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # let the client store what it was answered
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    first.drop()
    assert first.held, err.decode()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and b"interrupted" in err
    path = out / "augment" / "list_func.jsonl"
    assert [r["task_id"] for r in read_jsonl(path)] == [0]

    second = serve(server, ScriptedTeacher())
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(cache))
    assert run(argv) == 0
    asked_again = set(first.answered_counts()) & set(second.answered_counts())
    assert not asked_again  # nothing the server answered before was asked again
    merged = first.answered_counts()
    merged.update(second.answered_counts())
    assert merged == reference["teacher"].answered_counts()  # every slot paid for exactly once
    assert len(first.answered) >= 20 - 2
    rows = read_jsonl(path)
    assert without_usage(rows) == without_usage(reference["rows"])
    assert sum(r["usage"]["calls"] for r in rows) == REQUESTS

    assert run(["build", str(out)]) == 0 and run(["build", str(reference["run"])]) == 0
    for name in ("rule_generation", "rule_application", "preference"):
        assert (out / "data" / f"{name}.jsonl").read_text() == (reference["run"] / "data" / f"{name}.jsonl").read_text()
