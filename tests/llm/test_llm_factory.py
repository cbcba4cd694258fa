"""Spec parsing, options, cache choice, usage ledger and prices, and the ``redistill llm`` commands."""

from __future__ import annotations

import json

import pytest

from redistill.cli import main
from redistill.errors import RedistillError
from redistill.llm.cache import CachedBackend
from redistill.llm.factory import make_backend
from redistill.llm.openai_api import OpenAIBackend
from redistill.llm.types import Backend, Usage
from redistill.llm.usage import PriceTable, UsageLedger, load_prices
from redistill.llm.vllm_engine import lora_rank_for
from tests.openai_server import FakeOpenAIServer


@pytest.mark.parametrize("spec, message", [
    ("gpt-4o", "unknown engine 'gpt-4o'"),
    ("claude:sonnet", "unknown engine 'claude'"),
    ("hf:", "no model name"),
    ("openai:@http://127.0.0.1:1/v1", "no model name"),
])
def test_bad_specs(spec, message):
    with pytest.raises(RedistillError, match=message):
        make_backend(spec, cache=None)


def test_openai_spec_with_endpoint_and_options(tmp_path):
    b = make_backend("openai:org/model@v2@http://127.0.0.1:8000/v1", cache=tmp_path, concurrency=3)
    assert isinstance(b, CachedBackend) and isinstance(b, Backend)
    inner = b.inner
    assert isinstance(inner, OpenAIBackend)
    assert (inner.model, inner.base_url, inner.concurrency) == ("org/model@v2", "http://127.0.0.1:8000/v1", 3)
    assert (tmp_path / "responses.sqlite").exists()
    assert b.ledger is inner.ledger
    raw = make_backend("openai:m@http://127.0.0.1:8000/v1", cache=None)
    assert isinstance(raw, OpenAIBackend)


def test_unknown_option_and_adapter_on_openai():
    with pytest.raises(RedistillError, match="unknown option.*batch_sise.*concurrency"):
        make_backend("openai:m@http://127.0.0.1:1/v1", cache=None, batch_sise=4)
    with pytest.raises(RedistillError, match="adapters apply to hf: and vllm:"):
        make_backend("openai:m@http://127.0.0.1:1/v1", adapter="/tmp/x", cache=None)


def test_price_table_and_overrides(tmp_path):
    table = PriceTable()
    assert table.cost("gpt-4o-2024-08-06", Usage(1_000_000, 1_000_000)) == pytest.approx(12.5)
    assert table.cost("gpt-4o-mini", Usage(1_000_000, 0)) == pytest.approx(0.15)  # longest prefix wins
    assert table.cost("mystery", Usage(10, 10)) is None
    f = tmp_path / "prices.yaml"
    f.write_text("mystery: {prompt: 1, completion: 3}\ngpt-4o: [5, 20]\n")
    table = PriceTable(f)
    assert table.cost("mystery", Usage(2_000_000, 1_000_000)) == pytest.approx(5.0)
    assert table.lookup("gpt-4o") == (5.0, 20.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"m": [1]}))
    with pytest.raises(RedistillError, match="bad.json: field 'm'"):
        load_prices(bad)


def test_ledger_json_file(tmp_path):
    ledger = UsageLedger()
    ledger.add(calls=2, usage=Usage(100, 40), cost=0.25, hits=3, misses=2)
    ledger.note("no price for model 'x'")
    ledger.add(usage=Usage(10, 5), cost=0.5)
    path = ledger.write(tmp_path / "run")
    data = json.loads(path.read_text())
    assert data["calls"] == 2 and data["prompt_tokens"] == 110 and data["cost_usd"] == 0.75
    assert data["cache_hits"] == 3 and data["notes"] == ["no price for model 'x'"]


def test_nested_timing_counts_once():
    ledger = UsageLedger()
    with ledger.timed(), ledger.timed():
        sum(range(10000))
    outer = ledger.wall_s
    assert 0 < outer < 1


def test_vllm_lora_rank_rounding():
    assert [lora_rank_for(r) for r in (4, 8, 9, 64, 100)] == [8, 8, 16, 64, 128]


def test_cli_ask_with_cache_dir_and_no_cache(tmp_path, capsys):
    with FakeOpenAIServer() as server:
        argv = ["llm", "ask", "hello there", "--model", f"openai:m@{server.url}", "-n", "2",
                "--temperature", "1", "--cache-dir", str(tmp_path)]
        main(argv)
        main(argv)
        assert len(server.requests) == 1  # second answer came from --cache-dir
        main(argv[:-2] + ["--no-cache"])
        assert len(server.requests) == 2
    out = capsys.readouterr().out
    assert "echo[1]: hello there" in out and "2 cached samples" in out
    main(["llm", "cache", "--cache-dir", str(tmp_path)])
    assert "2 answers" in capsys.readouterr().out


def test_cli_prints_bad_spec_without_traceback(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["llm", "ask", "hi", "--model", "nope:x", "--no-cache"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown engine 'nope'" in err and "Traceback" not in err
