"""``redistill report``: several evaluation folders side by side (markdown and a rich table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console
from redistill.eval.report import comparison_table, load_evaluation, markdown_table
from redistill.jsonl import atomic_write_text

console = make_console()


def report_command(
    dirs: Annotated[list[Path], typer.Argument(help="Output folders of `redistill eval`.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the markdown table to this file.")] = None,
) -> None:
    """Put evaluations side by side: rows are evaluations (method · model), columns are suites."""
    evals = [load_evaluation(d) for d in dirs]
    console.print(comparison_table(evals))
    if out is not None:
        atomic_write_text(out, markdown_table(evals))
        console.print(f"wrote {out}")
    else:
        typer.echo(markdown_table(evals))
