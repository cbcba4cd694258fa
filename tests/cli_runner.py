"""Run the ``redistill`` CLI in-process, as a user's shell would, and return its exit status."""

from __future__ import annotations

from redistill.cli import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0
