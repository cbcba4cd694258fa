"""``redistill augment --batch`` end to end against the loopback Batch API stub.

The same records as the online path, in two batches (rules, then applications), at half the price;
a real subprocess killed (SIGKILL) while its batch runs resumes by polling and nothing is sent twice.
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
from tests.distill.teacher_server import ScriptedTeacher, write_tasks
from tests.openai_batch_server import BatchPlan, FakeBatchServer

SRC = Path(__file__).resolve().parents[2] / "src"
PRICES = ["--price-in", "2.5", "--price-out", "10"]


def args(url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["augment", "--teacher", f"openai:teacher@{url}", "--suite", "list_func", "--data", str(data),
            "--split", "all", "--hypotheses", "4", "--rule-temperature", "0.8", "--apply-temperature", "0.3",
            "--max-tokens", "40", "--out", str(out), *PRICES, *extra]


def data_of(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("usage", "teacher")} for r in rows]


@pytest.fixture(scope="module")
def online(tmp_path_factory):
    """The online path's records on the same scripted teacher (the chat endpoint of the same stub)."""
    tmp = tmp_path_factory.mktemp("online")
    data = write_tasks(tmp / "tasks.jsonl")
    with FakeBatchServer(responder=ScriptedTeacher()) as server:
        assert run(args(server.url, data, tmp / "run", "--cache-dir", str(tmp / "cache"), "--chunk-size", "2")) == 0
        assert server.batches == {}
    return data, read_jsonl(tmp / "run" / "augment" / "list_func.jsonl")


def test_batch_records_equal_online_at_half_price(online, tmp_path):
    data, rows_online = online
    with FakeBatchServer(polls=2, responder=ScriptedTeacher()) as server:
        server.plans.append(BatchPlan(fail=lambda b: "[1, 2]" in b["messages"][0]["content"]))  # some lines fail once
        code = run(args(server.url, data, tmp_path / "run", "--batch", "--poll-s", "0.01",
                        "--cache-dir", str(tmp_path / "cache")))
        assert code == 0
        rows = read_jsonl(tmp_path / "run" / "augment" / "list_func.jsonl")
        assert data_of(rows) == data_of(rows_online)
        assert server.chat_requests == []  # everything went through /v1/batches
        # rules in one batch (task 1's request failed there), task 1's rules again, then the applications
        assert len(server.batches) == 3
        sent = [json.dumps(b, sort_keys=True) for b in server.bodies_run]
        assert len(sent) == len(set(sent))  # no request answered (billed) twice
        # the same tokens (a chunk's rule tokens are shared out over its tasks, so compare totals), half the dollars
        def total(rs, key):
            return sum(r["usage"][key] for r in rs)

        assert total(rows, "prompt_tokens") == total(rows_online, "prompt_tokens") > 0
        assert total(rows, "completion_tokens") == total(rows_online, "completion_tokens")
        assert total(rows, "cost_usd") == pytest.approx(total(rows_online, "cost_usd") / 2, rel=1e-4)
        assert (tmp_path / "run" / "augment" / "batches").is_dir()


def test_dry_run_shows_both_prices(online, tmp_path, capsys):
    data, _ = online
    assert run(args("http://127.0.0.1:9/v1", data, tmp_path / "run", "--dry-run")) == 0
    out = capsys.readouterr().out
    from redistill.distill.augment import AugmentParams, estimate_augment
    from redistill.prompts import load_prompts
    from redistill.tasks import load_tasks

    est = estimate_augment(load_tasks("list_func", data, "all"), AugmentParams(hypotheses=4, rule_temperature=0.8, apply_temperature=0.3, follower="llm", max_tokens=40), load_prompts(None),
                           lambda u: (u.prompt_tokens * 2.5 + u.completion_tokens * 10) / 1e6)
    online, batch = f"{est.cost_usd:.2f}", f"{est.cost_usd / 2:.2f}"
    assert online != batch and online in out and batch in out  # both prices, side by side


def test_kill_while_batch_runs_then_resume_by_polling(online, tmp_path):
    data, rows_online = online
    with FakeBatchServer(responder=ScriptedTeacher()) as server:
        server.hold = True  # the batch stays in_progress until released
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        proc = subprocess.Popen([sys.executable, "-m", "redistill", *args(server.url, data, tmp_path / "run",
                                 "--batch", "--poll-s", "0.05", "--no-cache")],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        states = tmp_path / "run" / "augment" / "batches"
        deadline = time.time() + 120
        while time.time() < deadline and not any("batch_id" in p.read_text() for p in states.glob("*.json")):
            time.sleep(0.1)
        time.sleep(0.3)  # polling
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert len(server.batches) == 1, "the killed run should have sent its first batch"
        server.hold = False
        assert run(args(server.url, data, tmp_path / "run", "--batch", "--poll-s", "0.01", "--no-cache")) == 0
        rows = read_jsonl(tmp_path / "run" / "augment" / "list_func.jsonl")
        assert data_of(rows) == data_of(rows_online)
        assert len(server.batches) == 2  # the resumed run polled batch 1, then sent the applications
        sent = [json.dumps(b, sort_keys=True) for b in server.bodies_run]
        assert len(sent) == len(set(sent))


def test_batch_needs_an_openai_teacher(online, tmp_path, capsys):
    data, _ = online
    code = run(["augment", "--teacher", "hf:/nowhere", "--suite", "list_func", "--data", str(data), "--split", "all",
                "--out", str(tmp_path / "run"), "--batch"])
    assert code != 0
    captured = capsys.readouterr()
    assert "Batch API is OpenAI's" in captured.out + captured.err
