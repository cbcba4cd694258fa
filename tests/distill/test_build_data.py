"""`redistill build`: filters of both modes, margins, pair caps, formats, stats, plots, manifest."""

from __future__ import annotations

import json

import pytest

from redistill.cli import main
from redistill.distill.build import BuildConfig, parse_margins, run_build
from redistill.errors import RedistillError
from redistill.jsonl import read_jsonl, write_jsonl
from tests.distill.distill_doubles import scored_record

RECORDS = [
    # list_func (margin 3), 4 seen: scores 4, 1, 0
    scored_record(0, "list_func", ["rule 4 all", "rule 1 one", "rule 0 none"]),
    # list_func: all rules tie at 2 -> no pairs
    scored_record(1, "list_func", ["rule 2 a", "rule 2 b"]),
    # list_func: nothing right
    scored_record(2, "list_func", ["rule 0 x", "rule 0 y"]),
    # 1d_arc (margin 1), 3 seen: scores 3, 2, 0, 0
    scored_record(7, "1d_arc", ["rule 3 a", "rule 2 b", "rule 0 c", "rule 0 d"], n_seen=3),
]


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    write_jsonl(d / "augment" / "list_func.jsonl", [r for r in RECORDS if r["suite"] == "list_func"])
    write_jsonl(d / "augment" / "1d_arc.jsonl", [r for r in RECORDS if r["suite"] == "1d_arc"])
    return d


def data(run_dir, name):
    return read_jsonl(run_dir / "data" / f"{name}.jsonl")


def by_task(rows):
    out = {}
    for r in rows:
        out.setdefault((r["suite"], r["task_id"]), []).append(r)
    return out


def test_default_mode(run_dir):
    result = run_build(run_dir)
    gen, app, pref = by_task(data(run_dir, "rule_generation")), by_task(data(run_dir, "rule_application")), \
        by_task(data(run_dir, "preference"))
    # generation: unique rules scoring >= 1
    assert [r["score"] for r in gen[("list_func", "0")]] == [4, 1]
    assert [r["score"] for r in gen[("list_func", "1")]] == [2, 2]
    assert ("list_func", "2") not in gen
    assert [r["score"] for r in gen[("1d_arc", "7")]] == [3, 2]
    g = gen[("list_func", "0")][0]
    assert g["messages"][0]["role"] == "user" and g["messages"][1] == {"role": "assistant", "content": "rule 4 all"}
    assert g["n_seen"] == 4 and g["messages"][0]["content"] == RECORDS[0]["prompt"][0]["content"]
    # pairs: gap must exceed the suite margin (list_func 3, 1d_arc 1)
    p0 = pref[("list_func", "0")]
    assert [(p["score_chosen"], p["score_rejected"]) for p in p0] == [(4, 0)]
    assert p0[0]["chosen"] == [{"role": "assistant", "content": "rule 4 all"}]
    assert p0[0]["rejected"] == [{"role": "assistant", "content": "rule 0 none"}]
    assert p0[0]["prompt"] == RECORDS[0]["prompt"] and p0[0]["n_seen"] == 4
    assert sorted((p["score_chosen"], p["score_rejected"]) for p in pref[("1d_arc", "7")]) == [(2, 0), (2, 0), (3, 0), (3, 0)]
    assert ("list_func", "1") not in pref
    # application: correct applications only, gold answers; chosen rules plus top-scoring ties
    a0 = app[("list_func", "0")]
    assert len(a0) == 4 and all(r["messages"][-1]["content"] == f"[{i}, 0]" for i, r in enumerate(a0))
    assert len(app[("list_func", "1")]) == 4  # both tied rules, 2 correct each
    assert len(app[("1d_arc", "7")]) == 3 + 2
    assert ("list_func", "2") not in app
    assert result.stats["total"]["preference"] == 5 and not result.skipped


def test_paper_compat_mode(run_dir):
    run_build(run_dir, BuildConfig(paper_compat=True))
    gen, app = by_task(data(run_dir, "rule_generation")), by_task(data(run_dir, "rule_application"))
    assert [r["score"] for r in gen[("list_func", "2")]] == [0, 0]  # every unique rule, whatever its score
    assert len(gen[("1d_arc", "7")]) == 4
    assert len(app[("list_func", "0")]) == 4
    a7 = app[("1d_arc", "7")]  # chosen rules' applications, right or wrong, with the raw responses
    assert [r["messages"][-1]["content"] for r in a7] == ["[0, 7]", "[1, 7]", "[2, 7]", "[0, 7]", "[1, 7]", "[-1]"]
    assert ("list_func", "1") not in app  # no pair -> no chosen rule
    assert len(data(run_dir, "preference")) == 5


def test_margin_override_cap_and_min_score(run_dir):
    run_build(run_dir, BuildConfig(margins=parse_margins(["list-func=0"]), min_score=2))
    pref = by_task(data(run_dir, "preference"))
    assert [(p["score_chosen"], p["score_rejected"]) for p in pref[("list_func", "0")]] == [(4, 1), (4, 0), (1, 0)]
    assert [r["score"] for r in data(run_dir, "rule_generation")] == [3, 2, 4, 2, 2]  # files in name order

    full = by_task(data(run_dir, "preference"))[("1d_arc", "7")]
    run_build(run_dir, BuildConfig(max_pairs_per_task=2, seed=3))
    capped = data(run_dir, "preference")
    c7 = [p for p in capped if p["suite"] == "1d_arc"]
    assert len(c7) == 2 and all(p in full for p in c7)
    assert len([p for p in capped if p["suite"] == "list_func"]) == 1  # under the cap: untouched
    run_build(run_dir, BuildConfig(max_pairs_per_task=2, seed=3), force=True)
    assert data(run_dir, "preference") == capped  # deterministic


def test_exports_stats_plots_and_manifest(run_dir):
    opts = BuildConfig(exports=("llama-factory",))
    result = run_build(run_dir, opts)
    d = run_dir / "data"
    from datasets import load_from_disk

    dd = load_from_disk(str(d / "hf"))
    assert {k: len(v) for k, v in dd.items()} == {"rule_generation": 6, "rule_application": 13, "preference": 5}
    assert dd["preference"][0]["chosen"][0]["role"] == "assistant"
    lf = d / "llama_factory"
    info = json.loads((lf / "dataset_info.json").read_text())
    assert info["redis_preference"]["ranking"] is True and info["redis_preference"]["formatting"] == "sharegpt"
    alp = json.loads((lf / "rule_generation.json").read_text())
    assert len(alp) == 6 and alp[0]["input"].startswith("Input:") and "Input:" not in alp[0]["instruction"]
    assert alp[0]["instruction"] + alp[0]["input"] == RECORDS[3]["prompt"][0]["content"]  # 1d_arc.jsonl first
    sg = json.loads((lf / "preference.json").read_text())
    assert sg[0]["conversations"][0]["from"] == "human" and sg[0]["chosen"] == {"from": "gpt", "value": "rule 3 a"}

    stats = json.loads((d / "stats.json").read_text())
    lf_stats = stats["suites"]["list_func"]
    assert lf_stats["tasks"] == 3 and lf_stats["unique_rules"] == 7 and lf_stats["tasks_without_pairs"] == 2
    assert lf_stats["score_histogram"]["all"] == {"0": 3, "1": 1, "2": 2, "4": 1}
    assert stats["total"]["score_histogram"]["chosen"] == {"2": 2, "3": 2, "4": 1}
    for name in ("scores", "rules_per_task", "pairs_per_suite", "lengths"):
        assert (d / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["counts"] == {"tasks": 4, "rule_generation": 6, "rule_application": 13, "preference": 5}
    again = run_build(run_dir, opts)
    assert again.skipped and again.stats == result.stats
    assert not run_build(run_dir, BuildConfig()).skipped  # other options: rebuilt
    with open(run_dir / "augment" / "1d_arc.jsonl", "a") as f:
        f.write(json.dumps(scored_record(8, "1d_arc", ["rule 3 z", "rule 0 w"], n_seen=3)) + "\n")
    rebuilt = run_build(run_dir, BuildConfig())
    assert not rebuilt.skipped and rebuilt.stats["suites"]["1d_arc"]["tasks"] == 2


def test_truncated_last_line_is_ignored_without_touching_the_file(run_dir):
    path = run_dir / "augment" / "1d_arc.jsonl"
    text = path.read_text() + '{"task_id": 9, "suite": "1d'
    path.write_text(text)
    with pytest.warns(UserWarning, match="truncated last line"):
        result = run_build(run_dir)
    assert result.stats["suites"]["1d_arc"]["tasks"] == 1 and path.read_text() == text


def test_bad_record_names_file_line_and_field(run_dir):
    rows = read_jsonl(run_dir / "augment" / "list_func.jsonl")
    rows[1]["rules"][0]["score"] = "high"
    write_jsonl(run_dir / "augment" / "list_func.jsonl", rows)
    with pytest.raises(RedistillError, match=r"list_func\.jsonl:2: field 'rules\[0\]'"):
        run_build(run_dir)


@pytest.mark.parametrize("bad", [["list_func"], ["list_func=x"], ["acre=-1"]])
def test_bad_margin_is_refused(bad):
    with pytest.raises(RedistillError, match="margin"):
        BuildConfig(margins=parse_margins(bad))


def test_cli_build(run_dir, capsys):
    main(["build", str(run_dir), "--paper-compat", "--margin", "list_func=0", "--export", "llama-factory"])
    out = capsys.readouterr().out
    assert "list_func" in out and "total" in out
    assert len(data(run_dir, "preference")) == 3 + 4
    assert (run_dir / "data" / "llama_factory" / "dataset_info.json").exists()
    main(["build", str(run_dir), "--paper-compat", "--margin", "list_func=0", "--export", "llama-factory"])
    assert "up to date" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["build", str(run_dir / "nowhere")])
    assert e.value.code == 2
    assert "no augment files" in capsys.readouterr().err


def test_score_ratio_floor_and_application_cap(run_dir):
    # ratio 0.7: list_func (4 seen) needs 3, 1d_arc (3 seen) needs 3 -> only the perfect rules remain
    run_build(run_dir, BuildConfig(min_score_ratio=0.7, max_applications_per_task=2))
    gen = data(run_dir, "rule_generation")
    assert sorted((r["task_id"], r["messages"][1]["content"]) for r in gen) == [("0", "rule 4 all"), ("7", "rule 3 a")]
    apps = by_task(data(run_dir, "rule_application"))
    assert apps and all(len(rows) <= 2 for rows in apps.values())
    run_build(run_dir, BuildConfig(min_score_ratio=0.7, max_applications_per_task=2), force=True)
    assert by_task(data(run_dir, "rule_application")) == apps  # the sampling is seeded
    with pytest.raises(RedistillError, match="min-score-ratio"):
        BuildConfig(min_score_ratio=1.5)


def test_all_rule_applications_teach_what_each_rule_does_under_an_exact_follower(tmp_path, run_dir):
    """With the library follower every rule's applications become rows, answered with that rule's own
    output (a wrong rule applied right); tasks scored by a model follower keep the default rows."""
    from redistill.distill.augment import AugmentParams, run_augment
    from redistill.distill.stage import make_teacher
    from redistill.prompts import Prompts
    from redistill.tasks import format_value
    from redistill.tasks.generators import generate, get_family

    lib = tmp_path / "lib"
    tasks = {str(t.id): t for t in generate("list_func", 6, seed=3)}
    params = AugmentParams(hypotheses=6, follower="library")
    proposer, follower, _ = make_teacher("library", params, Prompts())
    run_augment(list(tasks.values()), proposer, follower, lib / "augment" / "list_func.jsonl", "library", params,
                progress=False)
    run_build(lib)
    default = data(lib, "rule_application")
    run_build(lib, BuildConfig(all_rule_applications=True))
    every = data(lib, "rule_application")

    assert len(every) > len(default)
    family, wrong = get_family("list_func"), 0
    for row in every:
        task = tasks[row["task_id"]]
        rule_text, _, value = row["messages"][0]["content"].rpartition("\nInput: ")
        rule = family.lookup(rule_text.rsplit("\n\n", 1)[-1])
        example = next(e for e in task.train if format_value(e.input) == value.strip())
        answer = row["messages"][-1]["content"]
        assert rule is not None and answer == family.apply(rule, example.input)  # what the rule does
        wrong += answer != format_value(example.output)
    assert wrong > 0  # rules that do not fit the task are taught too

    # a model follower's outputs are not trusted: the option changes nothing
    run_build(run_dir)
    before = data(run_dir, "rule_application")
    with pytest.warns(UserWarning, match="4 of 4 tasks were scored by a model follower"):
        run_build(run_dir, BuildConfig(all_rule_applications=True))
    assert data(run_dir, "rule_application") == before
