"""Exact followers and the library teacher, on generated tasks and the published suites."""

from __future__ import annotations

import pytest

from redistill.search.types import ApplyRequest, Hypothesis, RuleFollower, RuleProposer
from redistill.tasks import load_tasks
from redistill.tasks.generators import FAMILIES, generate, get_family
from redistill.tasks.generators.acre import label_queries
from redistill.tasks.generators.followers import LibraryFollower
from redistill.tasks.generators.scan import Grammar
from redistill.tasks.generators.teacher import LibraryTeacher, ranked_rules, solves


def test_followers_apply_library_rules_and_miss_others():
    follower = LibraryFollower()
    assert isinstance(follower, RuleFollower) and follower.usage().prompt_tokens == 0
    requests, gold = [], []
    for family in FAMILIES:
        t = generate(family, 1, seed=4)[0]
        h = Hypothesis(text=t.meta["rule"]["text"].lower())
        requests += [ApplyRequest(t, h, e.input) for e in t.test]
        gold += [e.output for e in t.test]
        requests.append(ApplyRequest(t, Hypothesis(text="Reverse it, probably."), t.test[0].input))
        gold.append("")
    assert [a.response for a in follower.apply(requests)] == gold


@pytest.mark.parametrize("family", list(FAMILIES))
def test_library_teacher_scores_honestly(family):
    teacher = LibraryTeacher()
    assert isinstance(teacher, RuleProposer) and teacher.name == "library"
    tasks = generate(family, 6, seed=21)
    props = teacher.propose(tasks, 5)
    assert props == teacher.propose(tasks, 5)  # deterministic
    fam = get_family(family)
    for t, hyps in zip(tasks, [p.hypotheses for p in props], strict=False):
        assert 1 <= len(hyps) <= 5
        scores = [h.meta["score"] for h in hyps]
        assert scores == sorted(scores, reverse=True) and scores[0] == len(t.train)
        for h in hyps:
            rule = fam.lookup(h.text)
            assert rule is not None and rule.name == h.meta["library"] and rule.program == h.program
            assert sum(fam.apply(rule, e.input) == e.output for e in t.train) == h.meta["score"]


def test_library_teacher_gives_near_misses():
    t = generate("list_func", 1, seed=3, concepts=["drop"])[0]
    hyps = LibraryTeacher().propose([t], 40)[0].hypotheses
    assert len(hyps) == 40 and min(h.meta["score"] for h in hyps) < len(t.train)


def test_library_teacher_solves_generated_tasks():
    tasks = [t for f in FAMILIES for t in generate(f, 20, seed=31)]
    share = sum(map(solves, tasks)) / len(tasks)
    assert share >= 0.9  # measured 0.99; a few List Function tasks have two rules fitting the seen items


# ---- against the published suites ------------------------------------------------------------

def test_acre_labeller_reproduces_published_labels(benchmarks_dir):
    tasks = load_tasks("acre", benchmarks_dir)
    pairs = [(label, e.output) for t in tasks
             for label, e in zip(label_queries(t.train, [e.input for e in t.test]), t.test, strict=False)]
    assert len(pairs) == 400 and all(a == b for a, b in pairs)


def _published_grammar(task) -> Grammar:
    """The published grammar with this task's words: roles read off its 2- and 3-word items."""
    colours = {e.input: e.output for e in task.train if len(e.input.split()) == 1}
    roles = {}
    for e in task.train:
        words = e.input.split()
        if len(words) == 2:
            roles[words[1]] = "x x x"
        elif len(words) == 3:
            roles[words[1]] = "x y x" if len(e.output.split()) == 3 else "y x"
    order = sorted(roles, key=lambda w: ["x x x", "x y x", "y x"].index(roles[w]))  # published precedence
    return Grammar(tuple(colours.items()), tuple(roles.items()), tuple(order))


def test_scan_interpreter_reproduces_published_outputs(benchmarks_dir):
    tasks = load_tasks("scan", benchmarks_dir)
    results = [_published_grammar(t).run(e.input) == e.output for t in tasks for e in t.train + t.test]
    assert len(results) == 2400 and all(results)


def test_library_coverage_lower_bounds(benchmarks_dir):
    # measured with benchmarks/library_coverage.py: 1D-ARC 901/901, List Function 96/250, ACRE 100/100, MiniSCAN 100/100
    floors = {"1d_arc": 901, "list_func": 90, "acre": 100, "scan": 100}
    for suite, floor in floors.items():
        tasks = load_tasks(suite, benchmarks_dir)
        assert sum(map(solves, tasks)) >= floor, suite


def test_ranked_rules_put_the_true_rule_first_on_published_1d_arc(benchmarks_dir):
    task = load_tasks("1d_arc", benchmarks_dir, ids=[300])[0]  # a move_1p task
    best, score = ranked_rules(task)[0]
    assert (best.name, best.params, score) == ("move", {"k": 1, "dir": "right"}, 3)


def test_huge_input_is_a_quick_miss_not_an_unbounded_run():
    import time

    from redistill.tasks.generators.followers import MAX_INPUT_CHARS

    follower = LibraryFollower()
    requests = []
    for seed in range(6):
        t = generate("list_func", 1, seed=seed)[0]
        huge = "[" + ", ".join(str(i % 97) for i in range(MAX_INPUT_CHARS)) + "]"
        requests.append(ApplyRequest(t, Hypothesis(text=t.meta["rule"]["text"]), huge))
        requests.append(ApplyRequest(t, Hypothesis(text=t.meta["rule"]["text"]), t.test[0].input))
    start = time.perf_counter()
    out = [a.response for a in follower.apply(requests)]
    assert time.perf_counter() - start < 2
    assert all(r.startswith("error: input of") and "over the interpreters' limit" in r for r in out[::2])
    assert all(not r.startswith("error") for r in out[1::2])  # ordinary inputs still run


def test_library_rules_do_not_depend_on_the_process_hash_seed():
    """ACRE rules held sets of clauses: their order (and so the rule text) changed between processes."""
    import os
    import subprocess
    import sys

    code = ("from redistill.tasks.generators import generate, get_family\n"
            "fam = get_family('acre')\n"
            "print([r.text for t in generate('acre', 60, seed=5) for r in fam.candidates(t)])\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3)}
    assert len(outs) == 1 and "At least one of" in outs.pop()
