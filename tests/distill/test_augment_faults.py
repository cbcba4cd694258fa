"""A teacher that is down for some tasks: failed calls never become data, and the re-run pays only for them.

The scripted teacher (``teacher_server``) answers every request, except that the server answers HTTP 500
to every request about tasks 1 and 3 and to the rule applications of task 2 (its rules were proposed).
"""

from __future__ import annotations

import json
import re

import pytest

from redistill.jsonl import read_jsonl
from tests.cli_runner import run
from tests.distill.teacher_server import ScriptedTeacher, augment_args, reference_run, serve, without_usage
from tests.openai_server import FakeOpenAIServer, Fault

_INPUT = re.compile(r"Input: \[(\d+), \d+\]")


def about(*tasks: int, apply_only: bool = False):
    """A request predicate: the request is about one of ``tasks`` (only its rule applications)."""
    def when(body: dict) -> bool:
        content = body["messages"][-1]["content"]
        m = _INPUT.search(content)
        is_apply = "Reply with the rule only." not in content
        return bool(m) and int(m.group(1)) in tasks and (is_apply or not apply_only)
    return when


def outage() -> list[Fault]:
    return [Fault(500, '{"error": {"message": "teacher overloaded"}}', when=about(1, 3), sticky=True),
            Fault(503, '{"error": {"message": "teacher overloaded"}}', when=about(2, apply_only=True), sticky=True)]


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory):
    return reference_run(server, tmp_path_factory.mktemp("faults-ref"))


def test_outage_is_not_data_and_the_rerun_pays_only_for_what_failed(server, reference, tmp_path, capsys):
    out, cache = tmp_path / "run", tmp_path / "cache"
    argv = augment_args(server.url, reference["data"], out, "--cache-dir", str(cache), "--max-retries", "1")
    first = serve(server, ScriptedTeacher())
    server.faults.extend(outage())
    try:
        assert run(argv) == 1  # unfinished tasks: a non-zero exit
    finally:
        server.faults.clear()
    captured = capsys.readouterr()
    assert "2 tasks done, 3 failed" in captured.out
    assert "3 task(s) not finished" in captured.err and "teacher overloaded" in captured.err
    aug = out / "augment"
    assert [r["task_id"] for r in read_jsonl(aug / "list_func.jsonl")] == [0, 4]
    failures = json.loads((aug / "list_func.failures.json").read_text())
    assert {(f["task_id"], f["stage"]) for f in failures} == {
        (1, "generate rules"), (3, "generate rules"), (2, "apply rules to seen")}
    assert all("HTTP 50" in f["reason"] and "teacher overloaded" in f["reason"] for f in failures)
    ledger = json.loads((aug / "usage.list_func.json").read_text())
    assert ledger["errors"] > 0 and ledger["retries"] >= ledger["errors"]  # the SDK retried each once

    # build sees only finished tasks: no error text anywhere in the data
    assert run(["build", str(out)]) == 0
    data = "".join((out / "data" / f"{n}.jsonl").read_text() for n in
                   ("rule_generation", "rule_application", "preference"))
    assert "error" not in data and "overloaded" not in data
    assert {json.loads(line)["task_id"] for line in (out / "data" / "rule_generation.jsonl").open()} == {"0", "4"}

    # the outage ends: the same command finishes every task, asking only what was not answered before
    second = serve(server, ScriptedTeacher())
    assert run(argv) == 0
    assert "3 tasks done, 2 already on disk, 0 left" in capsys.readouterr().out
    assert not set(first.answered_counts()) & set(second.answered_counts())  # nothing paid twice
    merged = first.answered_counts()
    merged.update(second.answered_counts())
    assert merged == reference["teacher"].answered_counts()
    task2 = [b for b in server.requests if about(2)(b)]
    assert task2 and all(b.get("n") in (None, 1) for b in task2)  # task 2's rules came from the cache
    rows = read_jsonl(aug / "list_func.jsonl")
    assert sorted(without_usage(rows), key=lambda r: r["task_id"]) == without_usage(reference["rows"])
    assert not (aug / "list_func.failures.json").exists()
    assert run(["build", str(out)]) == 0  # inputs changed: rebuilt with all five tasks
    assert {json.loads(line)["task_id"] for line in (out / "data" / "rule_generation.jsonl").open()} == {
        "0", "1", "2", "4"}  # task 3's only rule scores 0


def test_printed_calls_equal_the_ledger_and_the_server(server, reference, tmp_path, capsys):
    out = tmp_path / "run"
    serve(server, ScriptedTeacher())
    assert run(augment_args(server.url, reference["data"], out, "--no-cache")) == 0
    ledger = json.loads((out / "augment" / "usage.list_func.json").read_text())
    assert ledger["calls"] == len(server.requests)
    assert f"; {ledger['calls']} calls, " in capsys.readouterr().out
    # a fully cached re-run into a new folder sends nothing and says so
    cache = tmp_path / "cache"
    assert run(augment_args(server.url, reference["data"], tmp_path / "a", "--cache-dir", str(cache))) == 0
    server.requests.clear()
    capsys.readouterr()
    assert run(augment_args(server.url, reference["data"], tmp_path / "b", "--cache-dir", str(cache))) == 0
    assert server.requests == []
    printed = capsys.readouterr().out
    assert "; 0 calls (" in printed and "cache hits" in printed
    assert json.loads((tmp_path / "b" / "augment" / "usage.list_func.json").read_text())["calls"] == 0


def test_second_augment_on_one_folder_is_refused_and_a_killed_holder_never_blocks(server, reference, tmp_path,
                                                                                   capsys):
    import signal
    import time

    from tests.distill.test_augment_http import start_augment

    out, cache = tmp_path / "run", tmp_path / "cache"
    argv = augment_args(server.url, reference["data"], out)
    first = serve(server, ScriptedTeacher(hold_after=3))  # the first process stalls inside task 0
    proc = start_augment(argv, cache)
    try:
        deadline = time.time() + 60
        while not first.held and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert first.held, proc.stderr.read().decode() if proc.poll() is not None else "never held"
        assert run([*argv, "--cache-dir", str(cache)]) == 2
        err = capsys.readouterr().err
        assert f"PID {proc.pid}" in err and "already running augment of list_func.jsonl" in err
        assert "Traceback" not in err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        first.drop()
    serve(server, ScriptedTeacher())
    assert run([*argv, "--cache-dir", str(cache)]) == 0  # the dead holder's lock file is no obstacle
    rows = read_jsonl(out / "augment" / "list_func.jsonl")
    assert sorted(r["task_id"] for r in rows) == [0, 1, 2, 3, 4]  # each task once


def test_a_file_two_writers_doubled_is_repaired_by_augment(server, reference, tmp_path, capsys):
    from redistill.jsonl import write_jsonl

    out = tmp_path / "run"
    path = out / "augment" / "list_func.jsonl"
    write_jsonl(path, reference["rows"] + reference["rows"])  # what two unlocked augments left behind
    assert run(["build", str(out)]) == 2
    assert "drops the duplicates" in capsys.readouterr().err
    serve(server, ScriptedTeacher())
    with pytest.warns(UserWarning, match="dropped 5 duplicate task line"):
        assert run(augment_args(server.url, reference["data"], out, "--no-cache")) == 0
    assert server.requests == []  # every task was already done
    assert read_jsonl(path) == reference["rows"]
    assert run(["build", str(out)]) == 0
