"""``prior:FILE``: training rules drawn blind, the yardstick row of the report."""

from __future__ import annotations

import json

import pytest

from redistill.errors import RedistillError
from redistill.llm.factory import make_backend
from redistill.llm.types import Request, SamplingParams
from redistill.pipeline.config import EvalEntry


def _row(instruction: str, examples: str, rule: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"{instruction}\n\n{examples}"},
                                    {"role": "assistant", "content": rule}], "suite": "x"})


@pytest.fixture
def data(tmp_path):
    lines = [_row("Lists: find the rule.", f"Input: [{i}]\nOutput: [{i}]", f"list rule {i % 3}") for i in range(9)]
    lines += [_row("Machine: find the blickets.", "Input: ['a']\nOutput: on", "Blickets: a.")]
    (tmp_path / "rule_generation.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def _ask(instruction: str, examples: str, n: int = 20) -> Request:
    return Request([{"role": "user", "content": f"{instruction}\n\n{examples}"}], SamplingParams(n=n, temperature=0.9))


def test_draws_the_rules_of_the_prompts_instruction_only(data):
    backend = make_backend(f"prior:{data}")
    lists, machine = backend.generate([_ask("Lists: find the rule.", "Input: [7]\nOutput: [1]"),
                                       _ask("Machine: find the blickets.", "Input: ['b']\nOutput: off", n=3)])
    assert len(lists.texts) == 20 and set(lists.texts) == {"list rule 0", "list rule 1", "list rule 2"}
    assert machine.texts == ["Blickets: a."] * 3
    # the same prompt draws the same rules (a re-run resumes alike); another prompt or seed draws others
    again = make_backend(f"prior:{data}/rule_generation.jsonl").generate([_ask("Lists: find the rule.",
                                                                              "Input: [7]\nOutput: [1]")])
    assert again[0].texts == lists.texts
    other = backend.generate([_ask("Lists: find the rule.", "Input: [8]\nOutput: [1]")])[0].texts
    seeded = make_backend(f"prior:{data}", seed=1).generate([_ask("Lists: find the rule.",
                                                                 "Input: [7]\nOutput: [1]")])[0].texts
    assert other != lists.texts and seeded != lists.texts


def test_clear_errors(data, tmp_path):
    backend = make_backend(f"prior:{data}")
    with pytest.raises(RedistillError, match="rule-generation prompts of the suites it was built from"):
        backend.generate([_ask("Apply the rule below.", "Input: [1]")])
    with pytest.raises(RedistillError, match="not found"):
        make_backend(f"prior:{tmp_path}/missing")
    with pytest.raises(RedistillError, match="takes no adapter"):
        make_backend(f"prior:{data}", adapter="/some/adapter")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rule_generation.jsonl").write_text(_row("L", "x", "r") + "\n" + '{"prompt": "no messages"}\n')
    with pytest.raises(RedistillError, match=r"rule_generation.jsonl:2: field 'messages'"):
        make_backend(f"prior:{bad}")


def test_a_prior_row_must_search_with_the_exact_interpreters():
    assert EvalEntry(name="p", model="prior", method="search", follower="library")
    for wrong in ({"method": "io"}, {"method": "search", "follower": "llm"}):
        with pytest.raises(ValueError, match="the rule prior only proposes rules"):
            EvalEntry(name="p", model="prior", **wrong)


def test_eval_refuses_a_prior_without_the_exact_interpreters(data, tmp_path, capsys):
    from tests.cli_runner import run
    from tests.search.fixtures import LIST_TASKS, write_tasks

    tasks = write_tasks(tmp_path / "lists.jsonl", LIST_TASKS)
    args = ["eval", "--model", f"prior:{data}", "--suite", "list_func", "--data", str(tasks), "--split", "all"]
    assert run([*args, "--out", str(tmp_path / "o")]) == 2  # the default follower is the model's own
    assert "use --method search --follower library" in capsys.readouterr().err
