"""The Batch API backend against a loopback stub: answers, cache, price, kill + resume, expiry, failed lines."""

from __future__ import annotations

import json

import pytest

from redistill.errors import RedistillError
from redistill.llm import openai_batch
from redistill.llm.cache import ResponseCache
from redistill.llm.factory import make_backend
from redistill.llm.types import Request, SamplingParams
from redistill.llm.usage import PriceTable
from tests.openai_batch_server import BatchPlan, FakeBatchServer


@pytest.fixture
def server():
    with FakeBatchServer() as s:
        yield s


def reqs(k: int = 5, n: int = 1) -> list[Request]:
    return [Request([{"role": "user", "content": f"prompt number {i}"}], SamplingParams(n=n, temperature=0.7, seed=3))
            for i in range(k)]


def batch_backend(server, tmp_path, cache=None, **kw):
    return make_backend(f"openai:gpt-4o@{server.url}", cache=cache, batch_dir=tmp_path / "batches", poll_s=0.01,
                        log=lambda msg: None, **kw)


def test_batch_answers_equal_online_and_fill_the_same_cache(server, tmp_path):
    store = ResponseCache(tmp_path / "cache")
    out = batch_backend(server, tmp_path, cache=store).generate(reqs(4, n=3))
    assert [c.texts for c in out] == [[f"echo[{j}]: prompt number {i}" for j in range(3)] for i in range(4)]
    assert len(server.batches) == 1 and sorted(server.lines_run) == ["r0", "r1", "r2", "r3"]
    assert server.bodies_run[0] == {"model": "gpt-4o", "messages": [{"role": "user", "content": "prompt number 0"}],
                                    "n": 3, "temperature": 0.7, "top_p": 1.0, "max_tokens": 256, "seed": 3}
    online = make_backend(f"openai:gpt-4o@{server.url}", cache=store)
    again = online.generate(reqs(4, n=3))
    assert [c.texts for c in again] == [c.texts for c in out]
    assert server.chat_requests == [] and all(c.cached == 3 for c in again)  # same keys: every slot a hit
    state = json.loads(next((tmp_path / "batches").glob("*.json")).read_text())
    assert state["attempts"][0]["batch_id"] == "batch_1" and state["attempts"][0]["status"] == "completed"


def test_ledger_prices_at_the_batch_discount(server, tmp_path):
    backend = batch_backend(server, tmp_path)
    out = backend.generate(reqs(3))
    usage = out[0].usage + out[1].usage + out[2].usage
    list_price = PriceTable().cost("gpt-4o", usage)
    assert backend.ledger.cost_usd == pytest.approx(list_price * openai_batch.BATCH_DISCOUNT) and list_price > 0
    assert backend.ledger.calls == 3


def test_killed_while_waiting_resumes_by_polling(server, tmp_path):
    server.hold = True

    def die(msg):
        if "in_progress" in msg:
            raise KeyboardInterrupt  # the process is killed while the batch runs

    with pytest.raises(KeyboardInterrupt):
        make_backend(f"openai:gpt-4o@{server.url}", cache=None, batch_dir=tmp_path / "batches", poll_s=0.01,
                     log=die).generate(reqs(5))
    server.hold = False
    out = batch_backend(server, tmp_path).generate(reqs(5))
    assert [c.texts[0] for c in out] == [f"echo[0]: prompt number {i}" for i in range(5)]
    assert len(server.batches) == 1 and len(server.lines_run) == 5  # polled, not resubmitted


def test_killed_between_create_and_saving_the_id_finds_the_batch(server, tmp_path, monkeypatch):
    real = openai_batch._Job.create

    def create_then_die(self, state, k, attempt):
        self.api.batches.create(input_file_id=attempt["input_file_id"], endpoint=openai_batch.ENDPOINT,
                                completion_window="24h", metadata={"redistill_job": self.job, "attempt": str(k)})
        raise KeyboardInterrupt  # before the id reaches the state file

    monkeypatch.setattr(openai_batch._Job, "create", create_then_die)
    with pytest.raises(KeyboardInterrupt):
        batch_backend(server, tmp_path).generate(reqs(3))
    monkeypatch.setattr(openai_batch._Job, "create", real)
    out = batch_backend(server, tmp_path).generate(reqs(3))
    assert all(c.error is None for c in out)
    assert len(server.batches) == 1 and len(server.lines_run) == 3


def test_expired_batch_resends_only_what_it_left_undone(server, tmp_path):
    server.plans.append(BatchPlan(expire_after=2))
    out = batch_backend(server, tmp_path).generate(reqs(5))
    assert [c.texts[0] for c in out] == [f"echo[0]: prompt number {i}" for i in range(5)]
    assert [b["status"] for b in server.batches.values()] == ["expired", "completed"]
    assert sorted(server.lines_run) == ["r0", "r1", "r2", "r3", "r4"]  # each line answered (billed) once


def test_failed_lines_are_retried_then_recorded(server, tmp_path):
    def once(body):  # prompt 1 fails in the first batch only
        return "number 1" in body["messages"][0]["content"]

    def always(body):
        return "number 2" in body["messages"][0]["content"]

    server.plans.extend([BatchPlan(fail=lambda b: once(b) or always(b)), BatchPlan(fail=always), BatchPlan(fail=always)])
    backend = batch_backend(server, tmp_path)
    out = backend.generate(reqs(4))
    assert out[1].error is None and out[1].texts == ["echo[0]: prompt number 1"]
    assert out[2].error is not None and "HTTP 500: injected failure" in out[2].error and out[2].texts == [""]
    assert len(server.batches) == 3 and sorted(server.lines_run) == ["r0", "r1", "r3"]
    assert backend.ledger.errors == 1


def test_refused_batch_is_one_clear_error_and_is_resent_next_time(server, tmp_path):
    server.plans.append(BatchPlan(refuse=True))
    with pytest.raises(RedistillError, match="refused as a whole .*model not found.*nothing was charged"):
        batch_backend(server, tmp_path).generate(reqs(2))
    out = batch_backend(server, tmp_path).generate(reqs(2))
    assert all(c.error is None for c in out) and len(server.batches) == 2


def test_bad_state_file_is_named(server, tmp_path):
    backend = batch_backend(server, tmp_path)
    backend.generate(reqs(2))
    [state] = (tmp_path / "batches").glob("*.json")
    state.write_text("{not json")
    with pytest.raises(RedistillError, match=str(state.name)):
        batch_backend(server, tmp_path).generate(reqs(2))


def test_unreachable_server_is_one_line_and_keeps_the_state(server, tmp_path):
    backend = batch_backend(server, tmp_path, max_retries=0)
    server.hold = True
    def drop(msg):  # the server goes away while the batch runs
        if "in_progress" in msg:
            server.stop()

    backend.log = drop
    with pytest.raises(RedistillError, match="cannot reach .*re-run to resume"):
        backend.generate(reqs(2))
    [state] = (tmp_path / "batches").glob("*.json")
    assert json.loads(state.read_text())["attempts"][0]["batch_id"] == "batch_1"
