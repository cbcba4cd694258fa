"""``redistill augment --follower python``: programs run in bubblewrap; ``--unsafe-sandbox`` says so in the data."""

from __future__ import annotations

import pytest

from redistill.jsonl import read_jsonl
from redistill.search.sandbox import UnsafeSandboxWarning
from tests.cli_runner import run
from tests.distill.teacher_server import N_SEEN, SCRIPT, write_tasks
from tests.openai_server import FakeOpenAIServer

PROGRAM = "```python\ndef transform(x):\n    return x[::-1]\n```"  # right on every scripted task


def test_unsafe_sandbox_is_recorded_in_every_line(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    data = write_tasks(tmp_path / "tasks.jsonl")
    with FakeOpenAIServer(responder=lambda body: [PROGRAM] * int(body.get("n") or 1)) as server:
        args = ["augment", "--teacher", f"openai:teacher@{server.url}", "--suite", "list_func", "--data", str(data),
                "--split", "all", "--hypotheses", "2", "--follower", "python", "--no-cache"]
        assert run([*args, "--out", str(tmp_path / "safe")]) == 0
        with pytest.warns(UnsafeSandboxWarning):
            assert run([*args, "--out", str(tmp_path / "unsafe"), "--unsafe-sandbox"]) == 0
    safe = read_jsonl(tmp_path / "safe" / "augment" / "list_func.jsonl")
    unsafe = read_jsonl(tmp_path / "unsafe" / "augment" / "list_func.jsonl")
    assert len(safe) == len(unsafe) == len(SCRIPT)
    assert [r["rules"][0]["score"] for r in safe] == [N_SEEN] * len(SCRIPT)
    assert not any("unsafe_sandbox" in r for r in safe)
    assert all(r["unsafe_sandbox"] is True for r in unsafe)
    assert [r["rules"] for r in unsafe] == [r["rules"] for r in safe]
