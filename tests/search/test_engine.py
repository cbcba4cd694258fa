"""Hypothesis search and the IO baseline with the scripted backend: batching, selection, results."""

from __future__ import annotations

import pytest

from redistill.errors import RedistillError
from redistill.prompts import load_prompts
from redistill.search.direct import run_direct
from redistill.search.engine import run_search
from redistill.search.followers import LLMFollower, PythonFollower
from redistill.search.proposers import ModelProposer
from redistill.search.scoring import select_best
from redistill.search.types import Hypothesis, Proposal, ScoredRule
from redistill.tasks import load_tasks

from .fixtures import ACRE_TASKS, LIST_IO_ACCURACY, LIST_SEARCH_ACCURACY, LIST_TASKS, write_tasks
from .scripted import ScriptedBackend

PROMPTS = load_prompts(None)


@pytest.fixture
def list_tasks(tmp_path):
    return load_tasks("list_func", write_tasks(tmp_path / "lists.jsonl", LIST_TASKS))


def accuracy(rows):
    return sum(sum(r["correct"]) for r in rows) / sum(len(r["correct"]) for r in rows)


def search(tasks, backend, H=10, **kw):
    return run_search(tasks, ModelProposer(backend, PROMPTS, seed=0), LLMFollower(backend, PROMPTS, seed=0), H=H, **kw)


def test_search_batches_stages_not_tasks(list_tasks):
    backend = ScriptedBackend()
    rows = search(list_tasks, backend)
    propose, seen, unseen = backend.batches  # exactly three model calls for the whole suite
    assert len(propose) == len(list_tasks) and all(r.params.n == 10 and r.params.temperature == 0.9 for r in propose)
    # unique rules only, and every distinct (rule, seen input) prompt once, even across tasks
    pairs = {(x["rule"], a["input"]) for r in rows for x in r["rules"] for a in x["applications"]}
    assert len(seen) == len(pairs) < sum(len(r["rules"]) * len(t.train) for r, t in zip(rows, list_tasks))
    assert all(len({" ".join(x["rule"].split()) for x in r["rules"]}) == len(r["rules"]) for r in rows)
    assert sum(len(r["rules"]) for r in rows) < 10 * len(rows)  # there were duplicates to merge
    assert all(r.params.n == 1 and r.params.temperature == 0.7 for r in seen + unseen)
    assert len(unseen) == sum(len(t.test) for t in list_tasks)
    assert accuracy(rows) == pytest.approx(LIST_SEARCH_ACCURACY)
    assert [r["task_correct"] for r in rows] == [True, True, True, False]


def test_rows_trace_everything(list_tasks):
    backend = ScriptedBackend()
    row = search(list_tasks, backend)[0]
    assert sum(r["count"] for r in row["rules"]) == 10  # duplicates (trailing spaces) merged, counted
    best = row["rules"][row["chosen"]]
    assert best["rule"].strip() == "RULE: reverse the list" and best["score"] == 3 == row["seen"]
    assert row["chosen_rule"] == best["rule"]
    assert all(len(r["applications"]) == 3 for r in row["rules"])
    assert row["rule_prompt"][0]["content"].startswith(PROMPTS.for_suite("list_func").generate_rule)
    assert row["predictions"][0]["prompt"][0]["content"].endswith("Input: [9, 8, 1]\n")
    assert row["usage"]["calls"] == 1 + len(row["rules"]) * 3 + 2
    assert row["usage"]["prompt_tokens"] > 0
    total = sum(len(b) for b in backend.batches)
    assert total == sum(r["usage"]["calls"] for r in search(list_tasks, ScriptedBackend()))


def test_tie_break_first_and_reference():
    rules = [ScoredRule(Hypothesis(t), s, 1, i) for i, (t, s) in enumerate([("b rule", 2), ("a rule", 2), ("c rule", 2),
                                                                           ("z rule", 1)])]
    assert select_best(rules, "first").hypothesis.text == "b rule"
    assert select_best(rules, "reference").hypothesis.text == "c rule"  # reverse-sorted text, first best
    rules[1].score = 3
    assert select_best(rules, "first").hypothesis.text == "a rule" == select_best(rules, "reference").hypothesis.text
    assert select_best([]) is None


def test_early_stop_samples_fewer_rules_and_keeps_answers(list_tasks):
    full, early = ScriptedBackend(), ScriptedBackend()
    rows_full = search(list_tasks, full)
    rows_early = search(list_tasks, early, early_stop=True, round_size=2)
    drawn = sum(r.params.n for b in early.batches for r in b if "Input:" in r.messages[0]["content"]
                and "hidden rule. Work out" in r.messages[0]["content"])
    assert drawn < 10 * len(list_tasks)
    assert [r["correct"] for r in rows_early] == [r["correct"] for r in rows_full]
    assert early.requests < full.requests


def test_oracle_applies_every_rule_to_unseen(list_tasks):
    backend = ScriptedBackend()
    rows = search(list_tasks, backend, oracle=True)
    for row in rows:
        assert all(len(r["unseen"]) == len(row["predictions"]) for r in row["rules"])
        assert row["rules"][row["chosen"]]["unseen"] == [{k: v for k, v in p.items() if k != "type"}
                                                         for p in row["predictions"]]
        assert [a["correct"] for a in row["rules"][row["chosen"]]["unseen"]] == row["correct"]
    assert len(backend.batches) == 3


def test_unparseable_answers_are_misses_with_raw_text(list_tasks):
    class Gibberish:
        name = "gibberish"

        def propose(self, tasks, n):
            return [Proposal([Hypothesis("flip it somehow")] * n) for _ in tasks]

    backend = ScriptedBackend()
    rows = run_search(list_tasks, Gibberish(), LLMFollower(backend, PROMPTS), H=3)
    pred = rows[0]["predictions"][0]
    assert pred["response"] == "I cannot apply this rule." and pred["parsed"] is None and pred["correct"] is False
    assert rows[0]["rules"][0]["count"] == 3 and rows[0]["rules"][0]["score"] == 0
    assert accuracy(rows) == 0


def test_python_follower_search_needs_only_the_proposal_call(list_tasks):
    backend = ScriptedBackend()
    proposer = ModelProposer(backend, PROMPTS, program=True)
    rows = run_search(list_tasks, proposer, PythonFollower(timeout_s=1.0), H=10)
    assert len(backend.batches) == 1
    assert "def transform(x)" in backend.batches[0][0].messages[0]["content"]
    assert all(r["program"].startswith("def transform") for row in rows for r in row["rules"])
    assert accuracy(rows) == pytest.approx(LIST_SEARCH_ACCURACY)
    assert rows[0]["usage"]["calls"] == 1 and rows[0]["predictions"][0]["prompt"] is None


def test_python_follower_on_label_suite_is_refused_before_any_call(tmp_path):
    tasks = load_tasks("acre", write_tasks(tmp_path / "acre.jsonl", ACRE_TASKS))
    backend = ScriptedBackend()
    with pytest.raises(RedistillError, match="--follower llm"):
        run_search(tasks, ModelProposer(backend, PROMPTS), PythonFollower())
    assert backend.batches == []


def test_acre_search_and_query_types(tmp_path):
    tasks = load_tasks("acre", write_tasks(tmp_path / "acre.jsonl", ACRE_TASKS))
    rows = search(tasks, ScriptedBackend())
    assert rows[0]["correct"] == [True, True, True, True]
    assert [p["type"] for p in rows[0]["predictions"]] == ["indirect", "direct", "potential", "screen_off"]


def test_io_baseline_is_one_batch(list_tasks):
    backend = ScriptedBackend()
    rows = run_direct(list_tasks, backend, PROMPTS, temperature=0.6, seed=1)
    assert len(backend.batches) == 1 and len(backend.batches[0]) == 5
    assert all(r.params.temperature == 0.6 and r.params.seed == 1 for r in backend.batches[0])
    assert accuracy(rows) == pytest.approx(LIST_IO_ACCURACY)
    assert rows[1]["rules"] == [] and rows[1]["chosen"] is None
    assert rows[1]["predictions"][0]["response"] == "[8, 7, 9]"


def test_bad_settings():
    with pytest.raises(RedistillError, match="at least 1"):
        run_search([], None, None, H=0)
    with pytest.raises(RedistillError, match="tie-break"):
        run_search([], None, None, tie_break="random")
