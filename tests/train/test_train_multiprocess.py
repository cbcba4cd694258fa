"""Two CPU processes (``accelerate launch``, gloo) follow one process's loss curve at the same global batch.

One process takes batches of 4; two take 2 each (the same 4 rows per step: accelerate shards each
global batch). SFT normalises by the global token count and our ORPO NLL by the global response
tokens, so the curves agree to float precision, not just roughly. Two processes that did not join
one group would each train alone on batches of 2 and drift from the first step.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run

SRC = Path(__file__).resolve().parents[2] / "src"
COMMON = ["--max-steps", "3", "--lr", "3e-3", "--seed", "0", "--grad-accum", "1", "--set", "logging_steps=1",
          "--set", "activation_checkpointing=false", "--set", "dataloader_pin_memory=false", "--set", "eval_ratio=0",
          "--set", 'save_strategy="no"']

ON_CPU = ["--set", "use_cpu=true"]  # the one-process run on CPU too, where a GPU exists


def losses(folder: Path) -> list[float]:
    rows = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if line.strip()]
    return [r["loss"] for r in rows if "loss" in r]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), "-m", "redistill", *args]
    # CPU even where there are GPUs; redistill then sets use_cpu itself (without it the two would not meet)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_processes_match_one_for_sft_and_orpo(tiny_model_dir, train_data, tmp_path):
    sft = ["train", "sft", "--model", str(tiny_model_dir), "--full", "--data", str(train_data), *COMMON]
    assert run([*sft, "--out", str(tmp_path / "sft1"), "--batch-size", "4", *ON_CPU]) == 0
    launch_two([*sft, "--out", str(tmp_path / "sft2"), "--batch-size", "2"])
    one, two = losses(tmp_path / "sft1"), losses(tmp_path / "sft2")
    assert len(one) == len(two) == 3  # one log writer, not two
    assert two == pytest.approx(one, rel=1e-4)
    assert one[-1] < one[0]

    align = ["train", "align", "--init", str(tmp_path / "sft1"), "--data", str(train_data), "--method", "orpo",
             *COMMON]
    assert run([*align, "--out", str(tmp_path / "orpo1"), "--batch-size", "4", *ON_CPU]) == 0
    launch_two([*align, "--out", str(tmp_path / "orpo2"), "--batch-size", "2"])
    one, two = losses(tmp_path / "orpo1"), losses(tmp_path / "orpo2")
    assert len(one) == len(two) == 3
    assert two == pytest.approx(one, rel=1e-4)
    manifest = json.loads((tmp_path / "orpo2" / "redistill_train.json").read_text())
    assert manifest["method"] == "orpo"
