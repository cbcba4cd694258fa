"""The ``redistill`` command: a thin shell over the stages. Subcommands are listed here explicitly."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from redistill.errors import RedistillError

app = typer.Typer(
    name="redistill",
    help="ReDis: reasoning distillation for inductive in-context learning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from redistill.cli import augment, build, llm, tasks, train
    from redistill.cli import eval as eval_cli
    from redistill.cli import report as report_cli
    from redistill.cli import run as run_cli

    # in pipeline order: the whole run, then each stage, then tools
    app.command("run")(run_cli.run_command)
    app.add_typer(tasks.app, name="tasks")
    augment.register(app)
    build.register(app)  # also `import`
    app.add_typer(train.app, name="train")
    app.command("eval")(eval_cli.eval_command)
    app.command("report")(report_cli.report_command)
    app.add_typer(llm.app, name="llm")


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: user-fixable errors print as one clean line (exit 2), never a traceback."""
    try:
        code = app(args=argv, standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into Exit(130) and, outside standalone mode, returns the code
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except RedistillError as e:
        err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished work is on disk; re-run the same command to resume")
        sys.exit(130)
    except Exception as e:  # click usage errors and aborts
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        raise
