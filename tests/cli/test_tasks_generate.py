"""`redistill tasks generate / concepts / stats --compare` end to end through the CLI entry point."""

from __future__ import annotations

import json

import pytest

from redistill.cli import main
from redistill.tasks import load_tasks


def test_generate_then_load_and_compare(tmp_path, capsys):
    out = tmp_path / "arc.jsonl"
    main(["tasks", "generate", "1d_arc", "--n", "6", "--seed", "3", "--exclude", "flip,hollow", "--out", str(out)])
    tasks = load_tasks("1d_arc", data=out)
    assert len(tasks) == 6 and not {t.meta["concept"] for t in tasks} & {"flip", "hollow"}
    capsys.readouterr()
    main(["tasks", "stats", "1d_arc", "--data", str(out), "--compare", str(out), "--json"])
    columns = json.loads(capsys.readouterr().out)
    assert list(columns) == ["1d_arc (all)", "arc.jsonl"] and columns["arc.jsonl"]["tasks"] == 6


def test_concepts_lists_names(capsys):
    main(["tasks", "concepts", "list_func"])
    names = capsys.readouterr().out.split()
    assert "reverse" in names and "element_at" in names


def test_unknown_concept_is_a_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tasks", "generate", "acre", "--concepts", "four_blickets", "--out", str(tmp_path / "x.jsonl")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown acre concept 'four_blickets'" in err and "Traceback" not in err
