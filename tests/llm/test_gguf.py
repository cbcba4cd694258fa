"""GGUF model files without a real model: the checks before loading, the error messages, the conversion cache."""

from __future__ import annotations

import sys

import pytest

from redistill.errors import RedistillError
from redistill.llm.factory import make_backend
from redistill.llm.gguf import gguf_folder, is_gguf
from redistill.llm.local import check_model, fingerprint


def test_is_gguf_by_suffix():
    assert is_gguf("models/SmolLM2.Q4_1.GGUF") and is_gguf("/x/a.gguf")
    assert not is_gguf("/x/a.gguf.d") and not is_gguf("meta-llama/Meta-Llama-3-8B-Instruct")


def test_missing_file_fails_before_loading(tmp_path):
    with pytest.raises(RedistillError, match=r"model spec 'hf:.*nope\.gguf': GGUF file .*nope\.gguf not found"):
        make_backend(f"hf:{tmp_path / 'nope.gguf'}", cache=None)
    with pytest.raises(RedistillError, match="GGUF file .* not found"):
        check_model(str(tmp_path / "nope.gguf"), "vllm:x")


def test_missing_gguf_package_names_the_install(tmp_path, monkeypatch):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "gguf", None)  # import gguf now raises ImportError
    with pytest.raises(RedistillError, match="needs the gguf package; pip install gguf"):
        check_model(str(path), "hf:m.gguf")


@pytest.mark.parametrize("content", [b"not a gguf file at all" * 100, b"GGUF\x03\x00\x00\x00" + b"\x00" * 64])
def test_a_broken_file_is_a_one_line_error(tmp_path, monkeypatch, content):
    pytest.importorskip("gguf")
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "broken.gguf"
    path.write_bytes(content)
    with pytest.raises(RedistillError, match=r"broken\.gguf: cannot read a tokenizer from this GGUF file") as e:
        gguf_folder(path)
    assert "\n" not in str(e.value)
    assert not list((tmp_path / "cache").glob("gguf/*"))  # nothing half-written is left to be reused


def test_converted_folder_is_reused_while_the_file_is_unchanged(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + b"\x01" * 100)
    done = tmp_path / "cache" / "gguf" / f"m-{fingerprint(path)}"
    done.mkdir(parents=True)
    (done / "config.json").write_text("{}")
    assert gguf_folder(path) == done  # no conversion attempted: the bytes above are not a loadable model
    path.write_bytes(b"GGUF" + b"\x02" * 100)  # a changed file has another fingerprint: converted again
    with pytest.raises(RedistillError, match="cannot read a tokenizer"):
        gguf_folder(path)


def test_fingerprint_of_a_single_file_tracks_its_content(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"a" * 10)
    first = fingerprint(path)
    path.write_bytes(b"b" * 10)
    assert fingerprint(path) != first and len(first) == 16
