"""SFT throughput on a tiny model: padded batches vs padding-free vs BFD packing (TRL's options).

Run: PYTHONPATH=src python benchmarks/train_speed.py [--steps 30] [--hidden 64]
Prints trained (non-padding) tokens per second for each mode and the ratios to padded batching,
all measured in this one run on the same data, model and seed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from transformers import PrinterCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import tiny_corpus  # noqa: E402

from redistill.train.config import SFTRunConfig, load_config  # noqa: E402
from redistill.train.data import read_sft_rows, split_eval  # noqa: E402
from redistill.train.scratch import build_student  # noqa: E402
from redistill.train.sft import build_trainer  # noqa: E402

MODES = {
    "padded": {},
    "padding-free": {"padding_free": True, "max_length": None},  # TRL: max_length only with packing
    "packing (bfd, 256)": {"packing": True, "packing_strategy": "bfd", "max_length": 256},
}


def make_data(root: Path, n: int, seed: int = 0) -> Path:
    """Rule-generation / application rows with widely varying lengths (as real suites have)."""
    rng = random.Random(seed)
    gen, app = [], []
    for i in range(n):
        examples = "".join(
            f"Input: {xs}\nOutput: {sorted(xs)}\n"
            for xs in ([rng.randint(0, 99) for _ in range(rng.randint(0, 10))] for _ in range(rng.choice([1, 3, 8])))
        )
        gen.append({"messages": [{"role": "user", "content": "rule for the list\n" + examples},
                                 {"role": "assistant", "content": "sort the list"}], "task_id": str(i)})
        xs = [rng.randint(0, 99) for _ in range(rng.randint(0, 10))]
        app.append({"messages": [{"role": "user", "content": f"apply sort the list\nInput: {xs}\n"},
                                 {"role": "assistant", "content": str(sorted(xs))}], "task_id": str(i)})
    data = root / "data"
    data.mkdir(parents=True)
    for name, rows in (("rule_generation", gen), ("rule_application", app)):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def measure(model_dir: Path, data: Path, out: Path, steps: int, extra: dict) -> dict:
    flags = {"model_name_or_path": str(model_dir), "data_dir": str(data), "output_dir": str(out), "max_steps": steps,
             "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "learning_rate": 1e-3,
             "full": True, "logging_steps": steps, "save_strategy": "no", "eval_ratio": 0.0,
             "activation_checkpointing": False, "dataloader_pin_memory": False, "disable_tqdm": True,
             "max_length": 1024}  # rows here are far shorter than 1024: nothing truncated
    cfg = load_config(SFTRunConfig, flags=flags, sets=[f"{k}={json.dumps(v)}" for k, v in extra.items()])
    rows, _ = read_sft_rows(data)
    trainer = build_trainer(cfg, split_eval(rows, 0, 0)[0], None)
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    tokens = trainer.state.num_input_tokens_seen
    loss = next(r["loss"] for r in trainer.state.log_history if "loss" in r)
    return {"tokens": tokens, "seconds": seconds, "tok_s": tokens / seconds, "loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved runs per mode; the fastest counts.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_student(tiny_corpus(), root / "model", hidden_size=args.hidden, num_layers=2,
                                  num_heads=2, vocab_size=400)
        data = make_data(root, args.rows)
        runs: dict[str, list[dict]] = {name: [] for name in MODES}
        for i in range(args.repeats):  # interleaved, so a busy machine slows every mode alike
            for name, extra in MODES.items():
                runs[name].append(measure(model_dir, data, root / f"{name.split()[0]}-{i}", args.steps, extra))
        results = {name: min(rs, key=lambda r: r["seconds"]) for name, rs in runs.items()}
    table = Table(title=f"SFT throughput, tiny model (hidden {args.hidden}), {args.steps} steps of 8 rows, "
                        f"best of {args.repeats}")
    for col in ("mode", "trained tokens", "seconds", "tokens/s", "ratio vs padded", "mean loss"):
        table.add_column(col, justify="right", no_wrap=True)
    base = results["padded"]["tok_s"]
    for name, r in results.items():
        table.add_row(name, f"{r['tokens']:,}", f"{r['seconds']:.2f}", f"{r['tok_s']:,.0f}",
                      f"{r['tok_s'] / base:.2f}x", f"{r['loss']:.3f}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
