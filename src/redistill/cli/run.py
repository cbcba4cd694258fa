"""``redistill run``: the whole pipeline from one YAML config (default: the offline quickstart)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console

console = make_console()
QUICKSTART = Path(__file__).resolve().parents[3] / "configs" / "quickstart.yaml"


def default_config() -> Path:
    """configs/quickstart.yaml of the checkout (the package is installed from a clone, `pip install -e .`)."""
    if not QUICKSTART.exists():
        from redistill.errors import RedistillError

        raise RedistillError(f"{QUICKSTART}: not found; pass a config file: redistill run CONFIG")
    return QUICKSTART


def run_command(
    config: Annotated[Path | None, typer.Argument(help="Run config (YAML). Default: the offline quickstart.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a key: --set train.sft.num_train_epochs=2")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run folder (overrides the config's `out`).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start at this stage (earlier ones must be done).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop after this stage.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Resolve and validate everything; load no model.")] = False,
) -> None:
    """Run every stage: tasks, augment, build, student, sft, align, imitation, eval, report."""
    from redistill.pipeline.check import check_run
    from redistill.pipeline.config import load_run_config
    from redistill.pipeline.run import Pipeline

    path = config or default_config()
    cfg = load_run_config(path, set_)
    if check:
        for line in check_run(cfg):
            console.print(f"[green]ok[/] {line}")
        console.print(f"{path}: valid")
        return
    Pipeline(cfg, out).execute(start, until)
