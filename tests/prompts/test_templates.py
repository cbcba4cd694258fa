import json
from pathlib import Path

import pytest

from redistill.errors import RedistillError
from redistill.prompts import apply_rule_messages, direct_messages, generate_rule_messages, load_prompts
from redistill.tasks import Example, Task

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "prompts.json"
TASK = Task(1, "list_func", [Example("[1, 2]", "[2, 1]"), Example("[3]", "[3]")], [Example("[4, 5]", "[5, 4]")])


def test_reference_file_texts_are_used_verbatim_in_reference_order():
    if not REFERENCE.exists():
        pytest.skip("../shared/reference not present")
    ref = json.loads(REFERENCE.read_text())["list_func"]
    p = load_prompts(REFERENCE).for_suite("list_func")
    (msg,) = generate_rule_messages(p, TASK)
    assert msg["role"] == "user"
    assert msg["content"] == ref["generate_rule"] + "\nInput: [1, 2]\nOutput: [2, 1]\n\nInput: [3]\nOutput: [3]\n\n"
    (msg,) = apply_rule_messages(p, "reverse the list", "[4, 5]")
    assert msg["content"] == ref["apply_rule"] + "\nreverse the list\nInput: [4, 5]\n"
    (msg,) = direct_messages(p, TASK, "[4, 5]")
    assert msg["content"] == (
        ref["direct_fewshot1"] + "\nInput: [1, 2]\nOutput: [2, 1]\n\nInput: [3]\nOutput: [3]\n" + "\n"
        + ref["direct_fewshot2"] + "\n" + "Input: [4, 5]\n"
    )


def test_builtin_prompts_are_our_own_words():
    if not REFERENCE.exists():
        pytest.skip("../shared/reference not present")
    ref = json.loads(REFERENCE.read_text())
    ours = load_prompts(None)
    for suite, texts in ref.items():
        p = ours.for_suite(suite)
        assert p.generate_rule != texts["generate_rule"]
        assert p.apply_rule != texts["apply_rule"]


def test_acre_input_renders_as_python_list():
    task = Task(0, "acre", [Example(["red cube", "blue sphere"], "on")], [], answer_type="label")
    (msg,) = generate_rule_messages(load_prompts(None).for_suite("acre", "label"), task)
    assert "Input: ['red cube', 'blue sphere']\nOutput: on\n" in msg["content"]


def test_bad_prompts_file(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"acre": {"generate_rule": "x"}}))
    with pytest.raises(RedistillError, match=r"field 'acre.apply_rule': missing"):
        load_prompts(bad)
    bad.write_text("{not json")
    with pytest.raises(RedistillError, match=r"p.json:1: not valid JSON"):
        load_prompts(bad)
    with pytest.raises(RedistillError, match="not found"):
        load_prompts(tmp_path / "missing.json")
