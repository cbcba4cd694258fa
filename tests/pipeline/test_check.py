"""``redistill run --check`` rejects what the stages would reject: one message per bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run

QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"

BAD = [
    ("augment.hypotheses=0", "augment.hypotheses"),
    ("augment.hypotheses=-3", "augment.hypotheses"),
    ("augment.max_tokens=-1", "augment.max_tokens"),
    ("augment.rule_temperature=-0.5", "augment.rule_temperature"),
    ("augment.budget_usd=-1", "augment.budget_usd"),
    ("augment.chunk_size=0", "augment.chunk_size"),
    ("build.min_score_ratio=1.5", "build.min_score_ratio"),
    ("build.max_pairs_per_task=0", "build.max_pairs_per_task"),
    ("build.margins={list_func: -1}", "build.margins.list_func"),
    ("eval.hypotheses=0", "eval.hypotheses"),
    ("eval.io_temperature=-1", "eval.io_temperature"),
    ("eval.max_tokens=0", "eval.max_tokens"),
    ("eval.chunk_size=-4", "eval.chunk_size"),
    ("suites=[]", "field 'suites'"),
    ("api.concurrency=0", "api.concurrency"),
    ("api.timeout=0", "api.timeout"),
    ("student.scratch.num_heads=3", "not a multiple of num_heads 3"),
    ("student.scratch.hidden_size=-8", "student.scratch.hidden_size"),
    ("student.scratch.vocab_size=10", "student.scratch.vocab_size"),
    ("eval.entries=[{name: 'IO · init', model: imitation, method: io}, {name: 'io init', model: sft, method: io}]",
     "share the folder eval/io-init"),
    ("eval.entries=[{name: 'gpt', model: 'openai:gpt-4o@http://127.0.0.1:9/v1', method: io}]", None),
    ("eval.entries=[{name: 'py', model: sft, method: search, follower: python}]",
     "eval.entries.py: suite 'acre' has label answers, which the python follower cannot produce"),
    ("eval.entries=[{name: 'x', model: 'nope:m', method: io}]", "eval.entries.x: 'nope:m' is not a backend spec"),
    ("eval.entries=[{name: 'x', model: 'latest', method: io}]", "model 'latest': use base|sft|align|imitation"),
]


@pytest.mark.parametrize("setting,problem", BAD, ids=[b[0][:40] for b in BAD])
def test_check_rejects(setting, problem, capsys):
    code = run(["run", str(QUICKSTART), "--check", "--set", setting])
    out = capsys.readouterr()
    if problem is None:  # an API model as a table row: valid, built with the options the stage passes
        assert code == 0, out.err
        return
    assert code == 2, out.out
    assert problem in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_quickstart_checks_clean(capsys):
    assert run(["run", str(QUICKSTART), "--check"]) == 0


def test_an_api_row_is_built_with_the_options_the_stage_passes():
    from redistill.llm.factory import make_backend
    from redistill.pipeline.config import ApiConfig
    from redistill.pipeline.evaluate import backend_options

    spec = "openai:gpt-4o@http://127.0.0.1:9/v1"
    assert backend_options(spec, 0) == {"concurrency": 32, "timeout": 120.0, "max_retries": 6}  # no seed
    slow = ApiConfig(concurrency=1, timeout=900, max_retries=2)  # the run config's api block reaches the row
    assert backend_options(spec, 0, slow) == {"concurrency": 1, "timeout": 900, "max_retries": 2}
    backend = make_backend(spec, cache=None, **backend_options(spec, 0, slow))  # once: "unknown option(s) seed"
    assert backend.concurrency == 1
    assert backend_options("hf:some/model", 3) == {"seed": 3}


def test_a_stage_is_skipped_only_while_its_outputs_are_whole(tmp_path):
    import json

    from redistill.fingerprint import fingerprint
    from redistill.pipeline.config import load_run_config
    from redistill.pipeline.run import Pipeline

    p = Pipeline(load_run_config(QUICKSTART), out=tmp_path / "run")
    (p.run / "tasks").mkdir(parents=True)
    p.task_file("acre", "train").write_text('{"idx": 0}\n')
    marker = p.run / "stages" / "tasks.json"
    marker.parent.mkdir()
    marker.write_text(json.dumps({"hash": p.stage_hash("tasks"),
                                  "outputs": fingerprint(p.stage_outputs("tasks"), p.run)}))
    assert p.is_done("tasks")
    p.task_file("acre", "train").write_text("")  # truncated
    assert not p.is_done("tasks")
    p.task_file("acre", "train").unlink()  # gone
    assert not p.is_done("tasks")
    marker.write_text(json.dumps({"hash": p.stage_hash("tasks")}))  # an old marker: no fingerprint
    assert not p.is_done("tasks")
