"""Usage errors as a user meets them, from a real shell: the usage and one problem, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from redistill.cli.console import make_console

SRC = Path(__file__).resolve().parents[2] / "src"
LIST_TASK = '{"idx": 0, "train": [{"input": "[1]", "output": "[1]"}], "test": [{"input": "[2]", "output": "[2]"}]}\n'


def redistill(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("COLUMNS", None)
    return subprocess.run([sys.executable, "-m", "redistill", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


CASES = [
    ([], "Usage:"),
    (["--bogus"], "No such option: --bogus"),
    (["nosuch"], "No such command 'nosuch'"),
    (["augment"], "Missing option '--teacher'"),
    (["augment", "--teacher", "library", "--suite", "list_func", "--out", "r", "--hypotheses", "abc"],
     "Invalid value for '--hypotheses'"),
    (["augment", "--teacher", "library", "--suite", "list_func", "--out", "r", "--hypotheses", "0"],
     "Invalid value for '--hypotheses'"),
    (["augment", "--teacher", "library", "--suite", "list_func", "--out", "r", "--limit", "-1"],
     "Invalid value for '--limit'"),
    (["augment", "--teacher", "library", "--suite", "list_func", "--out", "r", "--max-tokens", "-5"],
     "Invalid value for '--max-tokens'"),
    (["eval", "--model", "hf:x", "--suite", "list_func", "--out", "e", "--rule-temperature", "-1"],
     "Invalid value for '--rule-temperature'"),
    (["eval", "--model", "hf:x", "--suite", "list_func", "--out", "e", "--hypotheses", "-3"],
     "Invalid value for '--hypotheses'"),
    (["eval", "--model", "hf:x", "--suite", "list_func", "--out", "e", "--concurrency", "0"],
     "Invalid value for '--concurrency'"),
    (["tasks", "show", "list_func", "--limit", "-2"], "Invalid value for '--limit'"),
    (["llm", "ask", "hi", "--model", "openai:m@http://127.0.0.1:9/v1", "-n", "0"], "Invalid value for '-n'"),
]


@pytest.mark.parametrize("argv,problem", CASES, ids=[" ".join(c[0]) or "bare" for c in CASES])
def test_usage_error_prints_usage_exit_2(argv, problem, tmp_path):
    p = redistill(*argv, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    text = p.stdout + p.stderr
    assert problem in text and "Usage:" in text
    assert "Traceback" not in text


def test_suite_list_and_answer_type_in_augment_and_eval(tmp_path, capsys):
    from tests.cli_runner import run
    from tests.openai_server import FakeOpenAIServer

    (tmp_path / "mine.jsonl").write_text(LIST_TASK, encoding="utf-8")
    common = ["--data", str(tmp_path / "mine.jsonl"), "--split", "all", "--hypotheses", "2", "--no-cache"]
    with FakeOpenAIServer(responder=lambda body: ["[1]"] * int(body.get("n") or 1)) as server:
        model = f"openai:m@{server.url}"
        assert run(["augment", "--teacher", model, "--suite", "mine,mine", "--out", str(tmp_path / "r"),
                    *common]) == 2  # no answer type for a custom suite: said, not guessed
        assert "answer" in capsys.readouterr().err
        assert run(["augment", "--teacher", model, "--suite", "mine", "--answer-type", "list",
                    "--out", str(tmp_path / "r"), *common]) == 0
        assert (tmp_path / "r" / "augment" / "mine.jsonl").exists()
        assert run(["eval", "--model", model, "--suite", "mine", "--answer-type", "list", "--method", "io",
                    "--out", str(tmp_path / "e"), *common]) == 0
        assert (tmp_path / "e" / "mine.jsonl").exists()


def test_pipe_output_does_not_wrap(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "mine.jsonl").write_text(LIST_TASK, encoding="utf-8")
    p = redistill("augment", "--teacher", "library", "--suite", "list_func", "--data", "mine.jsonl", "--split",
                  "all", "--hypotheses", "2", "--out", str(deep / "run"), cwd=deep)
    assert p.returncode == 0, p.stderr
    assert str(deep / "run" / "augment" / "list_func.jsonl") in p.stdout  # on one line, whole


def test_console_off_a_terminal_soft_wraps():
    c = make_console()
    assert c.soft_wrap and c.width >= 200


def test_augment_takes_a_suite_list_like_eval(tmp_path, capsys):
    from redistill.jsonl import write_jsonl
    from redistill.tasks.generators import generate
    from tests.cli_runner import run

    data = tmp_path / "data"
    write_jsonl(data / "list_func" / "list_function.jsonl", [t.to_json() for t in generate("list_func", 3, 1)])
    write_jsonl(data / "1d_arc" / "1D_arc.jsonl", [t.to_json() for t in generate("1d_arc", 2, 1)])
    assert run(["augment", "--teacher", "library", "--suite", "list_func,1d_arc", "--data", str(data), "--split",
                "all", "--hypotheses", "3", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "list_func: 3 tasks done" in out and "1d_arc: 2 tasks done" in out
    assert (tmp_path / "r" / "augment" / "list_func.jsonl").exists()
    assert (tmp_path / "r" / "augment" / "1d_arc.jsonl").exists()
