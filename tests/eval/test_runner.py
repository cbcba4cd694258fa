"""The evaluation stage: files, summaries recomputable from traces, resume, the accuracy-vs-H curve."""

from __future__ import annotations

import json

import pytest

from redistill.errors import RedistillError
from redistill.eval.metrics import accuracy_vs_h, rejudge, summarize
from redistill.eval.report import accuracy_curve
from redistill.eval.runner import EvalConfig, run_eval
from redistill.jsonl import read_jsonl
from tests.search.fixtures import ACRE_TASKS, LIST_IO_ACCURACY, LIST_SEARCH_ACCURACY, LIST_TASKS, write_tasks
from tests.search.scripted import ScriptedBackend


def config(data, **kw) -> EvalConfig:
    return EvalConfig(model="scripted:test", suites=["list_func"], data=str(data), split="all", seed=0, **kw)


@pytest.fixture
def lists(tmp_path):
    return write_tasks(tmp_path / "lists.jsonl", LIST_TASKS)


def test_search_writes_traces_and_summary(tmp_path, lists):
    out = tmp_path / "eval"
    summaries = run_eval(config(lists, oracle=True), out, ScriptedBackend())
    rows = read_jsonl(out / "list_func.jsonl")
    assert [r["task"] for r in rows] == [0, 1, 2, 3]
    s = json.loads((out / "summary.json").read_text())["list_func"]
    assert s == summaries["list_func"]
    assert s["accuracy"] == pytest.approx(LIST_SEARCH_ACCURACY) and s["task_accuracy"] == 0.75
    assert s["oracle_accuracy"] >= s["accuracy"] and s["perfect_rule_rate"] == 1.0
    assert s["calls"] == sum(r["usage"]["calls"] for r in rows) > 0
    assert s["cost_usd"] is None  # no price hook given
    assert json.loads((out / "config.json").read_text())["hypotheses"] == 10


def test_io_and_cost_hook(tmp_path, lists):
    out = tmp_path / "io"
    s = run_eval(config(lists, method="io"), out, ScriptedBackend(),
                 cost_fn=lambda u: u.prompt_tokens * 1e-6 + u.completion_tokens * 2e-6)["list_func"]
    assert s["accuracy"] == pytest.approx(LIST_IO_ACCURACY) and s["calls"] == 5
    assert s["cost_usd"] == pytest.approx(s["prompt_tokens"] * 1e-6 + s["completion_tokens"] * 2e-6)


def test_strict_and_normal_both_from_traces(tmp_path, lists):
    rows = read_jsonl(_run(tmp_path, lists, method="io"))
    rows[0]["predictions"][0]["response"] = "Output: [1,8,9]"  # right value, not the published spelling
    rows[0]["correct"][0] = True
    assert rejudge(rows[0], strict=False)[0] is True
    assert rejudge(rows[0], strict=True)[0] is False
    s = summarize(rows)
    assert s["normal"]["accuracy"] > s["strict"]["accuracy"]


def _run(tmp_path, data, **kw):
    out = tmp_path / "run"
    run_eval(config(data, **kw), out, ScriptedBackend())
    return out / "list_func.jsonl"


def test_resume_after_interruption_does_not_redo_tasks(tmp_path, lists):
    out = tmp_path / "eval"
    cfg = config(lists, chunk_size=1)
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg, out, ScriptedBackend(fail_on_batch=4))  # dies in the second chunk's rule generation
    assert [r["task"] for r in read_jsonl(out / "list_func.jsonl")] == [0]
    with open(out / "list_func.jsonl", "a") as f:
        f.write('{"key": "list_func/1", "task"')  # a kill mid-write
    backend = ScriptedBackend()
    with pytest.warns(UserWarning, match="truncated"):
        s = run_eval(cfg, out, backend)["list_func"]
    rows = read_jsonl(out / "list_func.jsonl")
    assert [r["task"] for r in rows] == [0, 1, 2, 3]
    assert len(backend.batches) == 9  # three tasks x three stages; task 0 was not redone
    assert s["accuracy"] == pytest.approx(LIST_SEARCH_ACCURACY)
    run_eval(cfg, out, (again := ScriptedBackend()))
    assert again.batches == [] and len(read_jsonl(out / "list_func.jsonl")) == 4


def test_resume_refuses_different_settings(tmp_path, lists):
    out = tmp_path / "eval"
    run_eval(config(lists, limit=2), out, ScriptedBackend())
    run_eval(config(lists), out, ScriptedBackend())  # a larger --limit extends the same evaluation
    with pytest.raises(RedistillError, match="field 'hypotheses'.*another --out"):
        run_eval(config(lists, hypotheses=5), out, ScriptedBackend())


def test_accuracy_vs_h_from_saved_traces(tmp_path, lists):
    rows = read_jsonl(_run(tmp_path, lists, oracle=True))
    curve = accuracy_vs_h(rows)
    assert [p["h"] for p in curve] == list(range(1, 11))
    assert curve[-1]["accuracy"] == pytest.approx(LIST_SEARCH_ACCURACY)
    assert curve[0]["accuracy"] < curve[-1]["accuracy"]  # one sample is seldom the right rule
    assert accuracy_curve(tmp_path / "run", "list_func") == curve
    rows_no_oracle = read_jsonl(_run(tmp_path / "b", lists))
    with pytest.raises(RedistillError, match="--oracle"):
        accuracy_vs_h(rows_no_oracle)


def test_acre_query_types_and_label_suite_errors(tmp_path):
    data = write_tasks(tmp_path / "acre.jsonl", ACRE_TASKS)
    cfg = EvalConfig(model="scripted:test", suites=["acre"], data=str(data), split="all")
    s = run_eval(cfg, tmp_path / "acre", ScriptedBackend())["acre"]
    assert s["accuracy"] == 1.0 and set(s["by_query_type"]) == {"direct", "indirect", "potential", "screen_off"}
    cfg.follower = "python"
    with pytest.raises(RedistillError, match="use --follower llm"):
        run_eval(cfg, tmp_path / "acre_py", ScriptedBackend())
    assert not (tmp_path / "acre_py").exists()


@pytest.mark.parametrize("field,value,message", [
    ("method", "cot", "--method"), ("follower", "z3", "--follower"), ("tie_break", "last", "--tie-break"),
    ("hypotheses", 0, "--hypotheses"), ("suites", [], "--suite"),
])
def test_bad_config_is_a_clear_error(tmp_path, lists, field, value, message):
    cfg = config(lists)
    setattr(cfg, field, value)
    with pytest.raises(RedistillError, match=message):
        run_eval(cfg, tmp_path / "x", ScriptedBackend())
