"""``redistill run``: the whole pipeline from one YAML config (default: the offline quickstart)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console

console = make_console()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
"""The configs shipped inside the package (``configs/`` in a checkout links here)."""


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIGS.glob("*.yaml"))


def resolve_config(config: str | None) -> Path:
    """A config file path, or the name of a shipped config (``quickstart``, ``paper``, ...); default: quickstart."""
    from redistill.errors import RedistillError

    name = config or "quickstart"
    path = Path(name)
    if path.exists():
        return path
    shipped = CONFIGS / f"{path.stem if path.suffix in ('.yaml', '.yml') else name}.yaml"
    if path.parent == Path(".") or path.parts[:1] == ("configs",):
        if shipped.exists():
            return shipped
    raise RedistillError(f"{name}: no such config file, and not a shipped config "
                         f"({', '.join(shipped_configs())}; they live in {CONFIGS})")


def run_command(
    config: Annotated[str | None, typer.Argument(
        help="Run config: a YAML file, or a shipped config's name (quickstart, quickstart-long, paper, ...). "
             "Default: quickstart.")] = None,
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

    path = resolve_config(config)
    cfg = load_run_config(path, set_)
    if check:
        for line in check_run(cfg):
            console.print(f"[green]ok[/] {line}")
        console.print(f"{path}: valid")
        return
    Pipeline(cfg, out).execute(start, until)
