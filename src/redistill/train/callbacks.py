"""Trainer callbacks: the training log as JSONL (crash-safe lines) and a rich progress bar."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from transformers import TrainerCallback

from redistill.jsonl import JsonlAppender, atomic_write_text
from redistill.progress import progress_bar


class JsonlLogCallback(TrainerCallback):
    """Append every ``on_log`` record as one fsynced line: ``{"step", "epoch", "tokens", **logs}``.

    On resume, lines past the checkpoint's step are dropped first, so the log matches the run.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._out: JsonlAppender | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        if self.path.exists():
            kept = [
                line
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= state.global_step
            ]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        self._out = JsonlAppender(self.path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._out is None or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch, "tokens": state.num_input_tokens_seen}
        row.update({k: v for k, v in logs.items() if isinstance(v, (int, float, str))})
        self._out.write(row)

    def on_train_end(self, args, state, control, **kwargs):
        if self._out is not None:
            self._out.close()
            self._out = None


class RichProgressCallback(TrainerCallback):
    """Steps done / total, epoch, tokens seen and the latest loss, on one rich bar (main process only)."""

    def __init__(self, description: str):
        self.description = description
        self.progress: Progress | None = None
        self.task = None
        self.loss = float("nan")

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.progress = progress_bar(
            "epoch {task.fields[epoch]:.2f}  tokens {task.fields[tokens]:,}  loss {task.fields[loss]:.4f}",
            Console(stderr=True), remaining=True)
        self.progress.start()
        self.task = self.progress.add_task(
            f"[bold]{self.description}", total=state.max_steps, completed=state.global_step, epoch=0.0, tokens=0, loss=self.loss
        )

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=state.global_step,
                epoch=state.epoch or 0.0,
                tokens=int(state.num_input_tokens_seen or 0),
                loss=self.loss,
            )

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def train_logged(trainer, log_path: Path, label: str, checkpoint: str | None) -> None:
    """Train with our log and progress bar in place of transformers' own (bar, or dict printer when
    progress bars are off)."""
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(JsonlLogCallback(log_path))
    trainer.add_callback(RichProgressCallback(label))
    trainer.train(resume_from_checkpoint=checkpoint)
