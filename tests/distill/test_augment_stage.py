"""The augment stage core with scripted proposer/follower: records, resume, repair, refusal, budget, dry run."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from redistill.distill.augment import AugmentParams, estimate_augment, run_augment
from redistill.errors import RedistillError
from redistill.jsonl import read_jsonl
from redistill.llm.types import Usage
from redistill.prompts import Prompts
from redistill.prompts.templates import DEFAULTS
from tests.distill.distill_doubles import ScriptedFollower, ScriptedProposer, make_task

SCRIPT = {
    0: ["rule 4 all", "rule 1 one", "rule 4 all", "rule  0 none"],  # "rule 4 all" twice; spacing differs below
    1: ["rule 2 two", "rule 3 three"],
    2: ["rule 0 nothing"],
    3: ["rule 1 a", "rule 2 b"],
    4: ["rule 3 c"],
}
PARAMS = AugmentParams(hypotheses=4, rule_temperature=1.0, apply_temperature=0.7, follower="llm",
                       max_tokens=64, strict=False)


def price(u: Usage) -> float:
    return u.prompt_tokens * 0.001 + u.completion_tokens * 0.002


def tasks(n: int = 5):
    return [make_task(i) for i in range(n)]


def run(path, ts=None, **kw):
    proposer, follower = ScriptedProposer(SCRIPT), ScriptedFollower()
    kw.setdefault("chunk_size", 2)
    result = run_augment(ts or tasks(), proposer, follower, path, "openai:teacher", kw.pop("params", PARAMS),
                         cost_fn=price, progress=False, **kw)
    return result, proposer, follower


def test_records_hold_scores_applications_and_usage(tmp_path):
    path = tmp_path / "augment" / "list_func.jsonl"
    result, proposer, follower = run(path)
    rows = read_jsonl(path)
    assert [r["task_id"] for r in rows] == [0, 1, 2, 3, 4]
    assert proposer.calls == [[0, 1], [2, 3], [4]]  # stage-batched per chunk
    r0 = rows[0]
    assert set(r0) == {"task_id", "suite", "answer_type", "seen_sha256", "teacher", "params", "prompt", "n_seen",
                       "rules", "usage"}
    assert r0["teacher"] == "openai:teacher" and r0["params"] == PARAMS.to_json() and r0["n_seen"] == 4
    assert r0["prompt"][0]["role"] == "user" and "Input: [0, 0]" in r0["prompt"][0]["content"]
    # 4 samples cycle over 4 texts: three unique rules, "rule 4 all" counted twice
    assert [(r["rule"], r["score"], r["count"]) for r in r0["rules"]] == [
        ("rule 4 all", 4, 2), ("rule 1 one", 1, 1), ("rule  0 none", 0, 1)]
    app = r0["rules"][1]["applications"]
    assert [a["correct"] for a in app] == [True, False, False, False]
    assert app[0] == {"input": "[0, 0]", "gold": "[0, 0]", "response": "[0, 0]", "parsed": "[0, 0]",
                      "correct": True, "prompt": [{"role": "user", "content": "rule 1 one\nInput: [0, 0]"}]}
    # usage: 1 n-request + 3 rules x 4 seen applications; tokens shared out add up to the real total
    assert r0["usage"]["calls"] == 1 + 12
    total = proposer.usage() + follower.usage()
    assert sum(r["usage"]["prompt_tokens"] for r in rows) == total.prompt_tokens
    assert sum(r["usage"]["completion_tokens"] for r in rows) == total.completion_tokens
    assert r0["usage"]["prompt_tokens"] == 20 + 12 * 10 and r0["usage"]["completion_tokens"] == 20 + 12 * 3
    assert r0["usage"]["cost_usd"] == pytest.approx(price(Usage(140, 56)))
    assert result.done == 5 and result.cost_usd == pytest.approx(price(total))
    assert result.calls == sum(r["usage"]["calls"] for r in rows)


def test_resume_skips_finished_tasks_and_matches_uninterrupted(tmp_path):
    full = tmp_path / "full.jsonl"
    run(full)
    part = tmp_path / "part.jsonl"
    run(part, ts=tasks()[:3])
    result, proposer, follower = run(part)
    assert result.skipped == 3 and result.done == 2
    assert proposer.calls == [[3, 4]]  # nothing finished is asked again
    assert {r[0] for r in follower.requests} == {3, 4}
    assert part.read_text() == full.read_text()


def test_a_task_with_other_seen_examples_is_done_again_and_its_old_line_kept_aside(tmp_path):
    path = tmp_path / "augment" / "list_func.jsonl"
    run(path)
    first = {json.dumps(r, sort_keys=True) for r in read_jsonl(path)}
    changed = [make_task(1, n_seen=3) if t.id == 1 else t for t in tasks()]  # task 1 regenerated, same id
    with pytest.warns(UserWarning, match="answer no task of this run"):
        result, proposer, _ = run(path, ts=changed)
    assert result.done == 1 and proposer.calls == [[1]]
    assert {r["task_id"]: r["n_seen"] for r in read_jsonl(path)}[1] == 3
    aside = read_jsonl(path.parent / "stale" / path.name)
    assert [(r["task_id"], r["n_seen"]) for r in aside] == [(1, 4)]
    with pytest.warns(UserWarning, match="answer no task"):  # back to the first task 1: its line returns, unpaid
        result, proposer, _ = run(path)
    assert result.done == 0 and proposer.calls == []
    assert {json.dumps(r, sort_keys=True) for r in read_jsonl(path)} == first
    assert [(r["task_id"], r["n_seen"]) for r in read_jsonl(path.parent / "stale" / path.name)] == [(1, 3)]


def test_a_changed_rule_prompt_redoes_the_task_and_the_old_line_comes_back_with_the_old_prompt(tmp_path):
    """The student trains on the recorded rule prompt and is evaluated with the current one: a line asked
    with other prompt texts (an edited prompts file) must not become data of this run."""
    path = tmp_path / "augment" / "list_func.jsonl"
    run(path)
    first = {json.dumps(r, sort_keys=True) for r in read_jsonl(path)}
    short = Prompts({"list_func": replace(DEFAULTS["list_func"], generate_rule="Lists. State the rule.\n")}, "x")
    with pytest.warns(UserWarning, match="another rule prompt"):
        result, proposer, _ = run(path, prompts=short)
    assert result.done == 5 and proposer.calls == [[0, 1], [2, 3], [4]]
    assert all(r["prompt"][0]["content"].startswith("Lists. State the rule.") for r in read_jsonl(path))
    assert len(read_jsonl(path.parent / "stale" / path.name)) == 5
    with pytest.warns(UserWarning, match="answer no task"):  # the first prompts again: their lines return, unpaid
        result, proposer, _ = run(path)
    assert result.done == 0 and proposer.calls == []
    assert {json.dumps(r, sort_keys=True) for r in read_jsonl(path)} == first


def test_lines_of_other_tasks_stay_unless_the_task_set_is_exact(tmp_path):
    path = tmp_path / "augment" / "list_func.jsonl"
    run(path)
    run(path, ts=tasks()[:2])  # a command over part of the tasks: the others' lines stay
    assert [r["task_id"] for r in read_jsonl(path)] == [0, 1, 2, 3, 4]
    with pytest.warns(UserWarning, match="answer no task"):
        run(path, ts=tasks()[:2], exact=True)  # a run's whole task set: the others go aside
    assert [r["task_id"] for r in read_jsonl(path)] == [0, 1]
    assert [r["task_id"] for r in read_jsonl(path.parent / "stale" / path.name)] == [2, 3, 4]
    path.unlink()  # a fresh file with other settings: lines set aside under the old ones do not come back
    result, proposer, _ = run(path, params=PARAMS.model_copy(update={"apply_temperature": 0.5}))
    assert result.done == 5 and proposer.calls == [[0, 1], [2, 3], [4]]


def test_truncated_last_line_is_repaired_with_warning(tmp_path):
    path = tmp_path / "a.jsonl"
    run(path, ts=tasks()[:2])
    text = path.read_text()
    path.write_text(text + text.splitlines()[0][:50])  # killed mid-write of a third line
    with pytest.warns(UserWarning, match="truncated last line"):
        result, proposer, _ = run(path)
    assert result.skipped == 2 and result.done == 3
    assert [r["task_id"] for r in read_jsonl(path)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("change", [{"teacher": "openai:other"}, {"params": {**PARAMS.to_json(), "hypotheses": 8}}])
def test_lines_from_another_teacher_or_params_are_refused(tmp_path, change):
    path = tmp_path / "a.jsonl"
    run(path, ts=tasks()[:2])
    rows = read_jsonl(path)
    rows[1].update(change)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    field = next(iter(change))
    with pytest.raises(RedistillError, match=rf"a\.jsonl:2: field '{field}'"):
        run(path)


def test_other_params_refused_names_the_difference(tmp_path):
    path = tmp_path / "a.jsonl"
    run(path, ts=tasks()[:1])
    with pytest.raises(RedistillError, match=r"rule_temperature=1\.0 \(now 0\.5\)"):
        run(path, params=AugmentParams(hypotheses=4, rule_temperature=0.5, apply_temperature=0.7, follower="llm", max_tokens=64, strict=False))


def test_budget_stops_before_crossing(tmp_path):
    path = tmp_path / "a.jsonl"
    one = price(Usage(140, 56))  # task 0 costs this; the others cost less (fewer rules)
    budget = 2.5 * one
    result, proposer, _ = run(path, budget_usd=budget, chunk_size=4)
    assert result.stopped_for_budget and result.cost_usd <= budget
    assert result.done + result.remaining == 5 and result.remaining > 0
    assert proposer.calls[0] == [0]  # the first task alone measures the cost per task
    assert len(read_jsonl(path)) == result.done
    # resuming with more budget finishes the rest, never re-asking finished tasks
    result2, proposer2, _ = run(path, budget_usd=100.0)
    assert result2.done == result.remaining and not result2.stopped_for_budget
    assert all(t not in {0} for call in proposer2.calls for t in call)


def test_zero_budget_spends_nothing(tmp_path):
    result, proposer, _ = run(tmp_path / "a.jsonl", budget_usd=0.0)
    assert result.stopped_for_budget and result.done == 0 and proposer.calls == []


def test_dry_run_counts_calls_and_cost():
    ts = [make_task(0, n_seen=4), make_task(1, n_seen=2)]
    est = estimate_augment(ts, AugmentParams(hypotheses=10), cost_fn=price, rule_tokens=50)
    assert est.rule_requests == 2 and est.apply_requests == 10 * 4 + 10 * 2 and est.calls == 62
    assert est.completion_tokens > 2 * 10 * 50  # rules + application answers
    assert est.cost_usd == pytest.approx(price(Usage(est.prompt_tokens, est.completion_tokens)))
    py = estimate_augment(ts, AugmentParams(hypotheses=10, follower="python"), cost_fn=price, rule_tokens=50)
    assert py.apply_requests == 0 and py.completion_tokens == 2 * 10 * 50


def test_cli_dry_run_prints_the_estimate(tmp_path, capsys, monkeypatch):
    from redistill.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    suite = tmp_path / "lf.jsonl"
    suite.write_text("".join(json.dumps(t.to_json()) + "\n" for t in tasks(3)))
    main(["augment", "--teacher", "openai:x", "--suite", "list_func", "--data", str(suite), "--split", "all",
          "--out", str(tmp_path / "run"), "--hypotheses", "5", "--dry-run", "--price-in", "1", "--price-out", "2"])
    out = capsys.readouterr().out
    assert "3 │" in out and "63 │" in out  # 3 rule requests + 5 x 4 x 3 applications = 63 calls
    assert not (tmp_path / "run").exists()  # a dry run writes nothing
