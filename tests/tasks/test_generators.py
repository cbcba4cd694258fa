"""Generators: determinism, checks, round trips, held-out concepts, rule lookup."""

from __future__ import annotations

import dataclasses

import pytest

from redistill.errors import RedistillError
from redistill.jsonl import write_jsonl
from redistill.tasks import load_tasks
from redistill.tasks.generators import FAMILIES, generate, get_family, list_concepts, lookup_rule, rule_of
from redistill.tasks.generators.checks import check_task
from redistill.tasks.model import Example

COUNTS = {"1d_arc": (3, 1), "list_func": (8, 8), "acre": (6, 4), "scan": (14, 10)}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_generation_is_seeded_and_prefix_stable(family):
    a = [t.to_json() for t in generate(family, 8, seed=1)]
    assert a == [t.to_json() for t in generate(family, 8, seed=1)]
    assert a[:4] == [t.to_json() for t in generate(family, 4, seed=1)]
    other = [t.to_json() for t in generate(family, 8, seed=2)]
    assert [t["train"] for t in a] != [t["train"] for t in other]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_concept_generates_sound_tasks_that_round_trip(family, tmp_path):
    concepts = list_concepts(family)
    tasks = generate(family, 2 * len(concepts), seed=7)
    assert {t.meta["concept"] for t in tasks} == set(concepts)
    path = tmp_path / f"{family}.jsonl"
    write_jsonl(path, (t.to_json() for t in tasks))
    loaded = load_tasks(family, data=path)
    assert [t.to_json() for t in loaded] == [t.to_json() for t in tasks]
    fam = get_family(family)
    for t in loaded:
        assert (len(t.train), len(t.test)) == COUNTS[family]
        assert check_task(fam, t) == []
        rule = rule_of(t)
        assert rule is not None and rule.text == t.meta["rule"]["text"]
        assert set(t.meta["rule"]) == {"name", "text", "program", "params"}
        for e in t.train + t.test:
            assert fam.apply(rule, e.input) == e.output


def test_published_value_forms():
    arc = generate("1d_arc", 3, seed=0)[0]
    assert arc.train[0].input.startswith("[") and ", " in arc.train[0].input
    acre = generate("acre", 1, seed=0)[0]
    assert isinstance(acre.train[0].input, list) and acre.test[0].meta["type"] in {
        "direct", "indirect", "screen_off", "potential"}
    scan = generate("scan", 1, seed=0)[0]
    assert set(scan.test[0].output.split()) <= {"RED", "BLUE", "GREEN", "YELLOW"}


def test_acre_draws_with_few_objects_do_not_crash():
    assert len(generate("acre", 200, seed=9)) == 200  # once failed: a query larger than the objects shown


def test_1d_arc_lengths_and_colours_in_benchmark_range():
    for t in generate("1d_arc", 90, seed=3):
        for e in t.train + t.test:
            values = eval(e.input)  # noqa: S307 - our own generated list text
            assert 7 <= len(values) <= 93 and all(0 <= v <= 9 for v in values)
            assert e.output != e.input


@pytest.mark.parametrize("family", ["1d_arc", "list_func"])
def test_max_row_draws_short_rows_of_every_concept(family):
    concepts = list_concepts(family)
    tasks = generate(family, 3 * len(concepts), seed=4, max_row=12)
    assert {t.meta["concept"] for t in tasks} == set(concepts)  # every concept still fits in 12 cells
    fam = get_family(family)
    for t in tasks:
        assert check_task(fam, t) == []
        rule = rule_of(t)
        for e in t.train + t.test:
            assert len(eval(e.input)) <= 12  # noqa: S307 - our own generated list text
            assert fam.apply(rule, e.input) == e.output
    # without a cap the draws are the published-range ones, unchanged by the option's existence
    assert max(len(eval(e.input)) for t in generate("1d_arc", 40, seed=4) for e in t.train) > 12  # noqa: S307
    with pytest.raises(RedistillError, match="list families"):
        generate("acre", 2, seed=0, max_row=12)


def test_checks_catch_broken_tasks():
    t = generate("list_func", 1, seed=0, concepts=["reverse"])[0]
    fam = get_family("list_func")
    broken = dataclasses.replace(t, train=[Example(t.train[0].input, "[99]")] + t.train[1:])
    assert any("does not reproduce" in p for p in check_task(fam, broken))
    copied = dataclasses.replace(t, test=[t.train[0]] + t.test[1:])
    assert any("copies a seen one" in p for p in check_task(fam, copied))
    dup = dataclasses.replace(t, train=[t.train[0], t.train[0]] + t.train[2:])
    assert "duplicate example inputs" in check_task(fam, dup)

    acre = generate("acre", 1, seed=0)[0]
    # drop the habituation panels: some unseen labels are no longer fixed by what is seen
    undetermined = dataclasses.replace(acre, train=acre.train[3:])
    assert check_task(get_family("acre"), undetermined)

    scan = generate("scan", 1, seed=0)[0]
    # without the items that show the lower binary function, its meaning is not determined
    lower = scan.train[8].input.split()[1]
    hidden = dataclasses.replace(scan, train=[e for e in scan.train if lower not in e.input.split()])
    assert check_task(get_family("scan"), hidden) == ["an unseen item uses a word no seen item shows"]
    # keep only items with one function word: the precedences are no longer pinned down
    short = dataclasses.replace(scan, train=[e for e in scan.train if len(e.input.split()) <= 3])
    assert check_task(get_family("scan"), short) == ["unseen outputs not determined by the seen items"]


def test_held_out_concepts_and_bad_names():
    held_out = ["move_dp", "scale_dp"]
    train = generate("1d_arc", 40, seed=1, exclude=held_out)
    test = generate("1d_arc", 10, seed=2, concepts=held_out)
    assert not {t.meta["concept"] for t in train} & set(held_out)
    assert {t.meta["concept"] for t in test} == set(held_out)
    with pytest.raises(RedistillError, match="unknown list_func concept 'nope'"):
        generate("list_func", 3, seed=0, concepts=["nope"])
    with pytest.raises(RedistillError, match="no generator"):
        generate("nosuch", 3, seed=0)


def test_novel_scan_grammars_differ_from_published():
    tasks = generate("scan", 12, seed=5, novel=True)
    templates = {tuple(t.meta["rule"]["params"]["templates"]) for t in tasks}
    assert ("x x x", "x y x", "y x") not in templates and len(templates) > 3
    assert all(check_task(get_family("scan"), t) == [] for t in tasks)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_lookup_maps_rule_text_back(family):
    t = generate(family, 1, seed=11)[0]
    text = t.meta["rule"]["text"]
    messy = "  " + text.upper().replace(" ", "   ").rstrip(".") + "  "
    rule = lookup_rule(family, messy)
    assert rule is not None and rule.program == t.meta["rule"]["program"]
    assert lookup_rule(family, "Do something clever with the input.") is None


def test_lookup_rejects_out_of_range_params():
    assert lookup_rule("list_func", "Keep the first 3 elements.").params == {"k": 3}
    assert lookup_rule("list_func", "Keep the first 300 elements.") is None
    assert lookup_rule("list_func", "always return the list [5,2]").params == {"items": "[5, 2]"}
    assert lookup_rule("1d_arc", "Move every block 2 pixels to the up.") is None
