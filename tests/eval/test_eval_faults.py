"""``redistill eval`` with a server that fails some tasks: failures are reported apart, never scored as
wrong, and the re-run asks only for them; a wrong model name stops at the first call in the server's words."""

from __future__ import annotations

import json
import os

import pytest

from redistill.jsonl import read_jsonl
from redistill.locks import stage_lock
from tests.cli_runner import run
from tests.distill.teacher_server import ScriptedTeacher, write_tasks
from tests.distill.test_augment_faults import about
from tests.openai_server import FakeOpenAIServer, Fault


def eval_args(url: str, data, out, method: str, *extra: str) -> list[str]:
    return ["eval", "--model", f"openai:teacher@{url}", "--suite", "list_func", "--data", str(data), "--split", "all",
            "--method", method, "--hypotheses", "2", "--concurrency", "2", "--max-retries", "0", "--timeout", "10",
            "--out", str(out), *extra]


@pytest.mark.parametrize("method", ["io", "search"])
def test_failed_tasks_are_retried_not_scored(tmp_path, capsys, method):
    data = write_tasks(tmp_path / "tasks.jsonl")
    out = tmp_path / "eval"
    with FakeOpenAIServer(responder=lambda body: ScriptedTeacher.respond(body) if method == "search"
                          else ["[9, 1]"]) as server:
        argv = eval_args(server.url, data, out, method, "--cache-dir", str(tmp_path / "cache"))
        server.faults.append(Fault(500, '{"error": {"message": "backend down"}}', when=about(1), sticky=True))
        assert run(argv) == 1
        captured = capsys.readouterr()
        assert "1 task(s) not finished" in captured.err and "backend down" in captured.err
        summary = json.loads((out / "summary.json").read_text())["list_func"]
        assert summary["tasks"] == 4 and summary["failed"] == 1
        assert sorted(r["task"] for r in read_jsonl(out / "list_func.jsonl")) == [0, 2, 3, 4]
        [failure] = json.loads((out / "list_func.failures.json").read_text())
        assert failure["task_id"] == 1 and "HTTP 500" in failure["reason"]

        server.faults.clear()
        server.requests.clear()
        assert run(argv) == 0
        assert server.requests and all(about(1)(b) for b in server.requests)  # only task 1 was asked again
        summary = json.loads((out / "summary.json").read_text())["list_func"]
        assert summary["tasks"] == 5 and summary["failed"] == 0
        assert sorted(r["task"] for r in read_jsonl(out / "list_func.jsonl")) == [0, 1, 2, 3, 4]
        assert not (out / "list_func.failures.json").exists()
        if method == "io":
            assert summary["accuracy"] == pytest.approx(1 / 5)  # task 1's answer "[9, 1]" is right; none errored


def test_wrong_model_name_stops_at_the_first_call_in_the_servers_words(tmp_path, capsys):
    data = write_tasks(tmp_path / "tasks.jsonl")
    with FakeOpenAIServer() as server:
        server.faults.append(Fault(400, '{"detail": "model nope is not served; try SmolLM2-135M-Instruct"}',
                                   sticky=True))
        assert run(eval_args(server.url, data, tmp_path / "e", "io", "--no-cache")) == 2
        assert len(server.requests) == 1  # the probe, and nothing after it
    err = capsys.readouterr().err
    assert "model nope is not served; try SmolLM2-135M-Instruct" in err and "HTTP 400" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_second_eval_into_one_folder_names_the_holder(tmp_path, capsys):
    data = write_tasks(tmp_path / "tasks.jsonl")
    out = tmp_path / "e"
    with FakeOpenAIServer() as server, stage_lock(out, "eval", "an evaluation"):
        assert run(eval_args(server.url, data, out, "io", "--no-cache")) == 2
        assert server.requests == []
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and "already running an evaluation" in err


def test_server_killed_mid_eval_then_restarted(tmp_path, capsys):
    import threading

    from tests.openai_server import Drop

    data = write_tasks(tmp_path / "tasks.jsonl")
    out = tmp_path / "e"
    gate, seen = threading.Event(), []

    def dies_after_the_first(body: dict) -> list[str]:
        seen.append(body)
        if len(seen) > 1:
            gate.wait(30)
            raise Drop
        return ["[9, 0]"]

    server = FakeOpenAIServer(responder=dies_after_the_first).start()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    argv = eval_args(server.url, data, out, "io", "--no-cache", "--max-retries", "1", "--concurrency", "1")
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(run(argv)))
    worker.start()
    for _ in range(600):
        if len(seen) > 1:
            break
        threading.Event().wait(0.05)
    server.stop()  # killed while it holds the second request
    gate.set()
    worker.join(60)
    assert codes == [1]
    err = capsys.readouterr().err
    assert "4 task(s) not finished" in err and "connection failed" in err
    summary = json.loads((out / "summary.json").read_text())["list_func"]
    assert (summary["tasks"], summary["failed"]) == (1, 4)  # never scored as wrong answers

    with FakeOpenAIServer(port=port) as again:  # the server is back where the spec points
        assert run(argv) == 0
        assert len(again.requests) == 4  # only what failed
    summary = json.loads((out / "summary.json").read_text())["list_func"]
    assert (summary["tasks"], summary["failed"]) == (5, 0)
