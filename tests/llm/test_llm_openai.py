"""The openai backend against a real HTTP server on 127.0.0.1: n, retries, faults, fallback, costs, keys."""

from __future__ import annotations

import socket
import time

import pytest

from redistill.errors import RedistillError
from redistill.llm.factory import make_backend
from redistill.llm.types import Request, SamplingParams
from tests.openai_server import FakeOpenAIServer, Fault


def req(text: str, **params) -> Request:
    return Request([{"role": "user", "content": text}], SamplingParams(**params))


def backend(server: FakeOpenAIServer, model: str = "gpt-4o", **options):
    options = {"backoff_base": 0.001, "timeout": 5.0, **options}
    return make_backend(f"openai:{model}@{server.url}", cache=None, **options)


@pytest.fixture
def server():
    with FakeOpenAIServer() as s:
        yield s


def test_n_samples_in_one_request(server):
    b = backend(server)
    out = b.generate([req("hello", n=3, temperature=1.0), req("bye")])
    assert out[0].texts == [f"echo[{i}]: hello" for i in range(3)]
    assert out[1].texts == ["echo[0]: bye"]
    assert sorted(r["n"] for r in server.requests) == [1, 3]
    assert out[0].usage.prompt_tokens == 1 and out[0].usage.completion_tokens == 6  # 3 answers x 2 words


def test_retries_429_with_retry_after_500_and_bad_body(server):
    b = backend(server)
    b.generate([req("warm-up")])  # the first call is the probe
    server.faults.extend([Fault.rate_limit(retry_after=0.4), Fault.server_error(503), Fault.not_json()])
    start = time.perf_counter()
    [out] = b.generate([req("x")])
    assert out.error is None and out.texts == ["echo[0]: x"]
    assert time.perf_counter() - start >= 0.4  # Retry-After honoured (backoff alone is ~ms here)
    assert len(server.requests) == 1 + 4
    assert b.ledger.retries == 3


def test_hang_past_timeout_is_retried(server):
    b = backend(server, timeout=0.5)
    b.generate([req("warm-up")])
    server.faults.append(Fault.hang(1.5))
    [out] = b.generate([req("slow")])
    assert out.error is None and out.texts == ["echo[0]: slow"]
    assert b.ledger.retries == 1


def test_final_error_after_retry_budget_keeps_batch_going(server):
    b = backend(server, max_retries=2)
    b.generate([req("warm-up")])
    doomed = lambda body: body["messages"][0]["content"] == "doomed"  # noqa: E731
    server.faults.extend([Fault(500, when=doomed)] * 3)
    out = b.generate([req("doomed", n=2), req("fine")])
    assert out[0].error is not None
    assert "HTTP 500 after 2 retries: injected failure" in out[0].error
    assert out[0].texts == ["", ""]  # counts stay aligned
    assert out[1].error is None and out[1].texts == ["echo[0]: fine"]
    assert b.ledger.errors == 1


def test_client_error_is_not_retried(server):
    b = backend(server)
    b.generate([req("warm-up")])
    server.faults.append(Fault(400, '{"error": {"message": "context too long"}}'))
    [out] = b.generate([req("long")])
    assert out.error is not None and "400" in out.error and "context too long" in out.error
    assert len(server.requests) == 2


def test_unreachable_server_fails_up_front():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    b = make_backend(f"openai:m@http://127.0.0.1:{port}/v1", cache=None, backoff_base=0.001)
    with pytest.raises(RedistillError, match="cannot reach"):
        b.generate([req("a"), req("b")])


def test_auth_failure_on_first_call_is_a_clear_error(server):
    server.faults.append(Fault.unauthorized())
    b = backend(server)
    with pytest.raises(RedistillError, match="authentication failed.*OPENAI_API_KEY"):
        b.generate([req("a")])


def test_missing_key_for_openai_itself(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(RedistillError, match=r"\$OPENAI_API_KEY is not set"):
        make_backend("openai:gpt-4o", cache=None)
    make_backend("openai:local@http://127.0.0.1:9/v1", cache=None)  # own server: no key needed


def test_n_fallback_when_server_returns_one_choice():
    with FakeOpenAIServer(ignore_n=True) as server:
        b = backend(server)
        [out] = b.generate([req("q", n=4, temperature=1.0, seed=7)])
        assert len(out.texts) == 4 and out.error is None
        assert [r["n"] for r in server.requests] == [4, 1, 1, 1]
        assert sorted(r["seed"] for r in server.requests[1:]) == [8, 9, 10]  # distinct seeds per sample
        assert b.inner.n_supported is False if hasattr(b, "inner") else b.n_supported is False
        server.requests.clear()
        b.generate([req("r", n=2, temperature=1.0)])
        assert [r["n"] for r in server.requests] == [1, 1]  # learnt: no more n>1 requests


def test_cost_arithmetic():
    with FakeOpenAIServer(responder=lambda body: ["one two three"] * body["n"]) as server:
        b = backend(server, model="my-model", prices={"my-model": [1.5, 4.0]})
        out = b.generate([req("a b c d", n=2), req("e f")])
        prompt = sum(c.usage.prompt_tokens for c in out)
        completion = sum(c.usage.completion_tokens for c in out)
        assert (prompt, completion) == (4 + 2, 6 + 3)
        assert b.ledger.cost_usd == pytest.approx((6 * 1.5 + 9 * 4.0) / 1e6)
        assert b.ledger.to_json()["prompt_tokens"] == 6

        free = backend(server, model="unpriced-model")
        free.generate([req("x")])
        assert free.ledger.cost_usd == 0
        assert any("unpriced-model" in n for n in free.ledger.notes)


def test_api_key_never_lands_in_cache_or_logs(server, tmp_path, monkeypatch):
    secret = "sk-test-SECRET-4242"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    b = make_backend(f"openai:gpt-4o@{server.url}", cache=tmp_path / "cache", backoff_base=0.001)
    b.generate([req("hello", n=2, temperature=1.0)])
    assert server.headers[0]["authorization"] == f"Bearer {secret}"  # it was really used
    files = list((tmp_path / "cache").iterdir())
    assert files
    for f in files:
        assert secret.encode() not in f.read_bytes(), f
    assert secret not in repr(b.inner) and secret not in str(b.identity())
    assert secret not in str(b.ledger.to_json())


@pytest.mark.parametrize("status", [400, 404, 422])
def test_probe_stops_on_a_4xx_naming_the_request_in_the_servers_words(server, status):
    server.faults.append(Fault(status, '{"detail": "model nope is not loaded on this server"}'))
    b = backend(server, model="nope")
    with pytest.raises(RedistillError, match=rf"HTTP {status}\): model nope is not loaded on this server"):
        b.generate([req("a"), req("b")])
    assert len(server.requests) == 1  # nothing sent after the probe


def test_later_4xx_keeps_the_servers_words(server):
    b = backend(server)
    b.generate([req("warm-up")])
    server.faults.append(Fault(400, '{"detail": [{"loc": ["body", "max_tokens"], "msg": "too large"}]}'))
    [out] = b.generate([req("x")])
    assert "HTTP 400" in out.error and "too large" in out.error and "max_tokens" in out.error


def test_timeout_after_retries_says_what_to_change(server):
    b = backend(server, timeout=0.3, max_retries=0)
    b.generate([req("warm-up")])
    server.faults.append(Fault.hang(1.0))
    [out] = b.generate([req("slow")])
    assert "no answer within 0.3s after 0 retries" in out.error
    assert "--timeout" in out.error and "--concurrency" in out.error
