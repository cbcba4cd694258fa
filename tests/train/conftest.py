"""Small training data in the build stage's layout, and one SFT run shared by the alignment tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

RULES = ["sort the list", "reverse the list", "return each element"]
WRONG = ["undetermined on off", "the rule x", "apply transform def"]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_data(root: Path, n: int = 40, seed: int = 0) -> Path:
    """rule_generation / rule_application / preference files shaped like `redistill build` writes them."""
    rng = random.Random(seed)
    gen, app, pref = [], [], []
    for i in range(n):
        k = i % len(RULES)
        xs = [rng.randint(0, 9) for _ in range(rng.randint(2, 5))]
        ys = [sorted(xs), xs[::-1], xs][k]
        prompt = f"rule for the list\nInput: {xs}\nOutput: {ys}\n"
        user = [{"role": "user", "content": prompt}]
        gen.append({"messages": user + [{"role": "assistant", "content": RULES[k]}], "suite": "list_func",
                    "task_id": str(i), "score": 1.0, "n_seen": 1})
        app.append({"messages": [{"role": "user", "content": f"apply {RULES[k]}\nInput: {xs}\n"},
                                 {"role": "assistant", "content": str(ys)}], "suite": "list_func", "task_id": str(i)})
        pref.append({"prompt": user, "chosen": [{"role": "assistant", "content": RULES[k]}],
                     "rejected": [{"role": "assistant", "content": WRONG[k]}], "score_chosen": 1.0,
                     "score_rejected": 0.0, "n_seen": 1, "suite": "list_func", "task_id": str(i)})
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    write_rows(data / "rule_generation.jsonl", gen)
    write_rows(data / "rule_application.jsonl", app)
    write_rows(data / "preference.jsonl", pref)
    return data


@pytest.fixture(scope="session")
def data_maker():
    """``make_data(root, n, seed) -> data folder`` for tests that need their own copy."""
    return make_data


@pytest.fixture(scope="session")
def fast() -> dict:
    return dict(FAST)


@pytest.fixture(scope="session")
def train_data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("run"))


# Fast settings for a ~50k-parameter model on CPU.
FAST = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "logging_steps": 1,
        "activation_checkpointing": False, "dataloader_pin_memory": False}


@pytest.fixture(scope="session")
def base_model(tiny_model_dir, train_data, tmp_path_factory) -> Path:
    """A 'pretrained' base: the random tiny model fully fine-tuned on rule application only.

    A random-init model's tied embeddings are too small for LoRA alone to move its loss much; after
    this, LoRA SFT on rule generation changes the rule NLL clearly (every rule below 5.15 nats/token,
    from 5.37 and up; 30 steps were not enough with the number-consistent tokenizer).
    """
    from redistill.train.config import SFTRunConfig, load_config
    from redistill.train.sft import run_sft

    out = tmp_path_factory.mktemp("base")
    flags = {"model_name_or_path": str(tiny_model_dir), "data_dir": str(train_data), "output_dir": str(out),
             "max_steps": 30, "learning_rate": 3e-3, "full": True, "only": "application", **FAST}
    run_sft(load_config(SFTRunConfig, flags=flags))
    return out


SFT_LORA_STEPS = 60


def sft_lora_flags(base_model: Path, train_data: Path, out: Path) -> dict:
    return {"model_name_or_path": str(base_model), "data_dir": str(train_data), "output_dir": str(out),
            "max_steps": SFT_LORA_STEPS, "learning_rate": 1e-2, **FAST}


@pytest.fixture(scope="session")
def sft_lora(base_model, train_data, tmp_path_factory) -> Path:
    """LoRA SFT (paper defaults r 8, alpha 16) of ``base_model`` on generation + application."""
    from redistill.train.config import SFTRunConfig, load_config
    from redistill.train.sft import run_sft

    out = tmp_path_factory.mktemp("sft-lora")
    run_sft(load_config(SFTRunConfig, flags=sft_lora_flags(base_model, train_data, out)))
    return out


@pytest.fixture(scope="session")
def sft_flags():
    return sft_lora_flags
