"""The one progress display of every stage: description, bar, done/total, a line of counts, elapsed."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(info: str, console: Any = None, remaining: bool = False) -> Progress:
    """A rich ``Progress`` whose counts column is ``info`` (a format over ``task.fields``), e.g.
    ``"{task.fields[tokens]} tok"``; ``remaining`` adds an estimate of the time left."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(info),
               TimeElapsedColumn()]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=False)
