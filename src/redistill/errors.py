"""One error type for problems a user can fix; the CLI prints it without a traceback."""

from __future__ import annotations


class RedistillError(Exception):
    """A user-fixable problem: bad input file, unknown name, missing key.

    The message should name the file, line and field involved and, where possible, the fix.
    """


def located(path: object, line: int | None, field: str | None, problem: str) -> RedistillError:
    """Build an error that says where: ``file:line: field 'x': problem``."""
    where = str(path)
    if line is not None:
        where += f":{line}"
    if field:
        where += f": field '{field}'"
    return RedistillError(f"{where}: {problem}")
