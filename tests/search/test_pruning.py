"""Pruned scoring: the same choice as full scoring under both tie-breaks, with fewer applications."""

from __future__ import annotations

import random

import pytest

from redistill.errors import RedistillError
from redistill.search.pruning import alive, rounds, score_rules_pruned
from redistill.search.scoring import score_rules, select_best
from redistill.search.types import Answer, Hypothesis, ScoredRule
from redistill.tasks import Example, Task

from .scripted import ScriptedBackend
from .test_engine import PROMPTS, list_tasks, search  # noqa: F401 - list_tasks is a fixture


class TableFollower:
    """Answers right or wrong from a fixed table of (rule, input) -> correct, counting applications."""

    name = "table"

    def __init__(self, table):
        self.table, self.applied = table, 0

    def apply(self, requests):
        self.applied += len(requests)
        out = []
        for r in requests:
            ok = self.table[(r.hypothesis.text, r.input)]
            out.append(Answer(r.task.train[int(r.input.strip("[]"))].output if ok else "[]"))
        return out

    def usage(self):
        return None


def random_case(rng: random.Random, n_tasks: int = 6):
    tasks, rules, table = [], [], {}
    for t in range(n_tasks):
        n = rng.randint(1, 14)
        train = [Example(f"[{i}]", f"[{i}, {rng.randint(0, 9)}]") for i in range(n)]
        tasks.append(Task(t, "list_func", train, []))
        h = rng.randint(1, 12)
        skill = [rng.random() for _ in range(h)]
        texts = [f"rule {rng.randint(0, 999)} of {t}.{j}" for j in range(h)]
        for j, text in enumerate(texts):
            for ex in train:
                table[(text, ex.input)] = rng.random() < skill[j]
        rules.append(texts)
    return tasks, rules, table


def fresh(texts):
    return [[ScoredRule(Hypothesis(t), 0, 1, i) for i, t in enumerate(ts)] for ts in texts]


@pytest.mark.parametrize("tie_break", ["first", "reference"])
def test_pruned_choice_equals_full_choice(tie_break):
    rng = random.Random(0)
    saved = 0
    for _ in range(40):
        tasks, texts, table = random_case(rng)
        full, pruned = fresh(texts), fresh(texts)
        f_full, f_pruned = TableFollower(table), TableFollower(table)
        score_rules(tasks, full, f_full)
        skipped = score_rules_pruned(tasks, pruned, f_pruned, tie_break=tie_break)
        assert f_full.applied - f_pruned.applied == skipped >= 0
        saved += skipped
        for a, b, task in zip(full, pruned, tasks):
            best_full, best_pruned = select_best(a, tie_break), select_best(b, tie_break)
            assert best_full.hypothesis.text == best_pruned.hypothesis.text
            assert best_pruned.score == best_full.score and not best_pruned.pruned
            for x, y in zip(a, b):
                assert y.score <= x.score
                assert y.pruned or (y.score == x.score and len(y.applications) == len(task.train))
                if y.pruned:
                    assert y.score < best_full.score and "pruned" in y.to_json()
    assert saved > 0  # and the rounds did skip work


def test_rounds_and_alive():
    assert rounds(8) == [5, 2, 1] and rounds(14) == [8, 3, 2, 1] and rounds(1) == [1] and rounds(0) == []
    assert all(sum(rounds(n)) == n for n in range(1, 30))
    a, b, c = (ScoredRule(Hypothesis(t), s, 1, i) for i, (t, s) in enumerate([("b", 3), ("a", 2), ("c", 1)]))
    assert alive([a, b, c], 1, "first") == [a]  # b can reach 3 but a, sampled first, wins the tie; c cannot
    assert alive([a, b, c], 1, "reference") == [a]  # text order c, b(=a), a(=b): b still loses the tie to a
    assert alive([a, b, c], 2, "first") == [a, b]  # c can reach 3 but loses the tie to a
    assert alive([a, b, c], 2, "reference") == [a, b, c]  # c can reach 3 and comes first in text order


def test_engine_prune_keeps_answers_and_saves_requests(list_tasks):  # noqa: F811
    full, pruned = ScriptedBackend(), ScriptedBackend()
    rows_full = search(list_tasks, full)
    rows_pruned = search(list_tasks, pruned, prune=True)
    assert [r["chosen_rule"] for r in rows_pruned] == [r["chosen_rule"] for r in rows_full]
    assert [r["correct"] for r in rows_pruned] == [r["correct"] for r in rows_full]
    assert pruned.requests < full.requests
    assert any(x.get("pruned") for r in rows_pruned for x in r["rules"])
    with pytest.raises(RedistillError, match="--prune and --oracle"):
        search(list_tasks, ScriptedBackend(), prune=True, oracle=True)


def test_identical_applications_are_sent_once(list_tasks):  # noqa: F811
    from redistill.search.followers import LLMFollower
    from redistill.search.types import ApplyRequest

    backend = ScriptedBackend()
    follower = LLMFollower(backend, PROMPTS)
    rule = Hypothesis("RULE: reverse the list")
    a, b = list_tasks[0], list_tasks[1]
    requests = [ApplyRequest(a, rule, "[1, 2]"), ApplyRequest(b, rule, "[1, 2]"), ApplyRequest(a, rule, "[3]"),
                ApplyRequest(a, rule, "[1, 2]")]
    out = follower.apply(requests)
    assert backend.requests == 2 and sum(a.calls for a in out) == 2
    assert [a.response.strip() for a in out] == ["[2, 1]", "[2, 1]", "[3]", "[2, 1]"]
    assert out[1].usage.prompt_tokens == 0 < out[0].usage.prompt_tokens
