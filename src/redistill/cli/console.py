"""Rich consoles for the CLI: a terminal gets its own width; a pipe or file gets lines that do not wrap.

Rich renders at 80 columns when stdout is not a terminal, which breaks a printed path (or a table
title naming one) across lines for whoever greps or parses the output. Off a terminal, text is
printed unwrapped (``soft_wrap``) and tables get ``PIPE_WIDTH`` columns unless ``$COLUMNS`` says.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPE_WIDTH = 200


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() else PIPE_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)
