"""Reading the build stage's files: formats, KTO labels, and errors naming file, line and field."""

from __future__ import annotations

import json

import pytest

from redistill.errors import RedistillError
from redistill.train.data import kto_rows, read_preference_rows, read_sft_rows, split_eval


def test_sft_rows_are_prompt_completion(train_data):
    rows, paths = read_sft_rows(train_data)
    assert len(rows) == 80 and [p.name for p in paths] == ["rule_generation.jsonl", "rule_application.jsonl"]
    assert rows[0]["prompt"][0]["role"] == "user" and rows[0]["completion"][0]["role"] == "assistant"
    only, _ = read_sft_rows(train_data, "application")
    assert len(only) == 40 and only[0]["completion"][0]["content"].startswith("[")


def test_split_is_seeded(train_data):
    rows, _ = read_sft_rows(train_data)
    a_train, a_eval = split_eval(rows, 0.05, seed=1)
    b_train, b_eval = split_eval(rows, 0.05, seed=1)
    assert len(a_eval) == 4 and len(a_train) == 76 and a_eval.to_list() == b_eval.to_list()
    assert split_eval(rows[:5], 0.05, seed=1)[1] is None  # too few rows to hold any out


def test_missing_file_is_named(tmp_path):
    with pytest.raises(RedistillError, match="rule_generation.jsonl: file not found; run `redistill build`"):
        read_sft_rows(tmp_path)
    with pytest.raises(RedistillError, match="preference.jsonl: file not found"):
        read_preference_rows(tmp_path)


def test_rows_without_needed_columns(tmp_path, data_maker):
    data = data_maker(tmp_path)
    lines = (data / "preference.jsonl").read_text().splitlines()
    bad = json.loads(lines[2])
    del bad["rejected"]
    lines[2] = json.dumps(bad)
    (data / "preference.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RedistillError, match=r"preference.jsonl:3: field 'rejected': missing"):
        read_preference_rows(data)
    (data / "rule_application.jsonl").write_text('{"text": "hello"}\n')
    with pytest.raises(RedistillError, match=r"rule_application.jsonl:1: field 'messages'"):
        read_sft_rows(data)
    (data / "rule_generation.jsonl").write_text('{"messages": [{"role": "user", "content": "x"}]}\n')
    with pytest.raises(RedistillError, match=r"rule_generation.jsonl:1: field 'messages': must end with an assistant"):
        read_sft_rows(data, "generation")


def test_kto_labels_from_scores():
    def turn(role, text):
        return [{"role": role, "content": text}]

    p = turn("user", "task")
    pairs = [
        {"prompt": p, "chosen": turn("assistant", "best"), "rejected": turn("assistant", "mid")},
        {"prompt": p, "chosen": turn("assistant", "best"), "rejected": turn("assistant", "worst")},
        {"prompt": p, "chosen": turn("assistant", "mid"), "rejected": turn("assistant", "worst")},
    ]
    labels = {r["completion"][0]["content"]: r["label"] for r in kto_rows(pairs)}
    # deduplicated; "mid" is chosen once and rejected once: no clear label, left out
    assert labels == {"best": True, "worst": False}
