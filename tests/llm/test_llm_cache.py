"""The response cache around a real backend (openai against a local server): slots, partial hits, safety."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from redistill.llm.cache import CachedBackend, ResponseCache, default_cache_dir
from redistill.llm.factory import make_backend
from redistill.llm.types import Request, SamplingParams
from tests.openai_server import FakeOpenAIServer, Fault


def counting_responder():
    """Every choice ever served is distinct: 'sample 0', 'sample 1', ..."""
    counter = itertools.count()
    lock = threading.Lock()

    def respond(body: dict) -> list[str]:
        with lock:
            return [f"sample {next(counter)}" for _ in range(body.get("n") or 1)]

    return respond


def req(text: str, **params) -> Request:
    return Request([{"role": "user", "content": text}], SamplingParams(**params))


@pytest.fixture
def server():
    with FakeOpenAIServer(responder=counting_responder()) as s:
        yield s


def cached(server, cache_dir: Path, model: str = "m") -> CachedBackend:
    b = make_backend(f"openai:{model}@{server.url}", cache=cache_dir, backoff_base=0.001)
    assert isinstance(b, CachedBackend)
    return b


def test_second_run_served_from_cache(server, tmp_path):
    requests = [req(f"task {i}", n=5, temperature=1.0) for i in range(4)]
    first = cached(server, tmp_path).generate(requests)
    sent = len(server.requests)
    again = cached(server, tmp_path)  # a new process would open the same file
    second = again.generate(requests)
    assert len(server.requests) == sent
    assert [c.texts for c in second] == [c.texts for c in first]
    assert all(c.cached == 5 and c.usage.completion_tokens == 0 for c in second)
    assert (again.hits, again.misses) == (20, 0)
    assert again.ledger.cache_hits == 20 and again.ledger.calls == 0
    assert len({t for c in first for t in c.texts}) == 20  # 20 slots, 20 distinct answers


def test_partial_hit_generates_only_missing_slots(server, tmp_path):
    b = cached(server, tmp_path)
    [small] = b.generate([req("q", n=2, temperature=1.0, seed=3)])
    [big] = b.generate([req("q", n=5, temperature=1.0, seed=3)])
    assert big.texts[:2] == small.texts and len(set(big.texts)) == 5
    assert big.cached == 2
    last = server.requests[-1]
    assert last["n"] == 3 and last["seed"] == 3 + 2  # new slots get their own seed
    assert (b.hits, b.misses) == (2, 2 + 3)


def test_key_covers_params_and_model_but_not_n(server, tmp_path):
    b = cached(server, tmp_path)
    b.generate([req("q", n=1, temperature=1.0)])
    b.generate([req("q", n=1, temperature=0.5)])
    b.generate([req("q", n=1, temperature=1.0, max_tokens=9)])
    cached(server, tmp_path, model="other").generate([req("q", n=1, temperature=1.0)])
    assert len(server.requests) == 4
    [c] = b.generate([req("q", n=1, temperature=1.0)])
    assert c.cached == 1 and len(server.requests) == 4


def test_identical_requests_in_a_batch_are_generated_once(server, tmp_path):
    b = cached(server, tmp_path)
    out = b.generate([req("same", n=3, temperature=1.0), req("other"), req("same", n=3, temperature=1.0)])
    assert out[0].texts == out[2].texts
    assert len(server.requests) == 2
    assert out[2].usage.prompt_tokens == 0 and out[0].usage.prompt_tokens > 0


def test_failed_requests_are_not_cached(server, tmp_path):
    b = make_backend(f"openai:m@{server.url}", cache=tmp_path, backoff_base=0.001, max_retries=0)
    b.generate([req("warm-up")])
    server.faults.append(Fault.server_error())
    [bad] = b.generate([req("x", n=2, temperature=1.0)])
    assert bad.error and bad.texts == ["", ""]
    [good] = b.generate([req("x", n=2, temperature=1.0)])
    assert good.error is None and good.cached == 0 and all(good.texts)


def test_progress_counts_every_request(server, tmp_path):
    b = cached(server, tmp_path)
    b.generate([req("a"), req("b")])
    seen = []
    b.generate([req("a"), req("b"), req("c"), req("c")], progress=lambda k, u: seen.append(k))
    assert sum(seen) == 4


def test_concurrent_writer_processes(tmp_path):
    db = tmp_path / "shared.sqlite"
    ResponseCache(db)  # create the schema once
    code = ("import sys; from redistill.llm.cache import ResponseCache\n"
            "c = ResponseCache(sys.argv[1]); w = sys.argv[2]\n"
            "for i in range(100): c.put_many([(f'{w}-{i}-{j}', 'x' * 50) for j in range(5)])\n")
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "PATH": ""}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db), w], env=env) for w in "ab"]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(ResponseCache(db)) == 2 * 100 * 5


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(tmp_path / "a"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("REDISTILL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "redistill"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "redistill"
    assert ResponseCache().path == tmp_path / "home" / ".cache" / "redistill" / "responses.sqlite"


def test_answers_are_stored_as_they_arrive_so_an_interrupted_batch_keeps_them(server, tmp_path):
    requests = [req(f"task {i}", n=2, temperature=1.0) for i in range(6)]
    backend = make_backend(f"openai:m@{server.url}", cache=tmp_path, concurrency=1)
    finished = []

    class Killed(Exception):
        pass

    def interrupt_after_three(n, usage):  # the run dies while the batch is half done
        finished.append(n)
        if len(finished) == 3:
            raise Killed

    with pytest.raises(Killed):
        backend.generate(requests, progress=interrupt_after_three)
    asked = [r["messages"][0]["content"] for r in server.requests]
    assert len(asked) >= 3 and len(ResponseCache(tmp_path)) == 2 * len(asked)  # every answer received is kept
    again = cached(server, tmp_path)
    again.generate(requests)
    second = [r["messages"][0]["content"] for r in server.requests[len(asked):]]
    assert sorted(asked + second) == sorted(f"task {i}" for i in range(6))  # nothing asked twice
    assert again.hits == 2 * len(asked)
