"""Shared fixtures: the published benchmark folder (tests skip without it) and a tiny local model."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """``../shared/benchmarks`` beside the checkout; tests using it skip where it is absent."""
    if not (BENCHMARKS / "list_func" / "list_function.jsonl").exists():
        pytest.skip("../shared/benchmarks not present")
    return BENCHMARKS


def tiny_corpus(n: int = 300, seed: int = 0) -> list[str]:
    """Text shaped like our prompts (lists, labels, colour words) to train a tiny tokenizer on."""
    rng = random.Random(seed)
    words = ["rule", "input", "output", "the", "list", "reverse", "sort", "each", "element", "on", "off",
             "undetermined", "RED", "BLUE", "GREEN", "YELLOW", "apply", "def", "transform", "return", "x"]
    lines = []
    for _ in range(n):
        xs = [rng.randint(0, 99) for _ in range(rng.randint(0, 8))]
        lines.append(f"Input: {xs}\nOutput: {sorted(xs)}\n" + " ".join(rng.choices(words, k=8)))
    return lines


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-init Llama-style model (~50k parameters) and a tokenizer trained on the spot, saved to disk."""
    from redistill.train.scratch import build_student

    out = tmp_path_factory.mktemp("tiny-model")
    return build_student(tiny_corpus(), out, hidden_size=32, num_layers=2, num_heads=2, vocab_size=400)
