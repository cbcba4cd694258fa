"""The ``redistill`` command: a thin shell over the stages. Subcommands are listed here explicitly."""

from __future__ import annotations

import sys

import typer

from redistill.cli.console import make_console
from redistill.errors import RedistillError

app = typer.Typer(
    name="redistill",
    help="ReDis: reasoning distillation for inductive in-context learning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = make_console(stderr=True)


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


def _click_exceptions() -> list:
    """The click exception modules in play: typer 0.29 carries its own click (``typer._click``)."""
    mods = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mods.append(__import__(name, fromlist=["ClickException"]))
        except ImportError:
            pass
    return mods


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Our warnings as one ``warning:`` line (libraries' warnings keep their usual form)."""
    if issubclass(category, UserWarning) and "redistill" in str(filename):
        return f"warning: {message}\n"
    return _default_formatwarning(message, category, filename, lineno, line)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user-fixable errors print as one clean line (exit 2), never a traceback; usage errors
    print the usage and the problem (exit 2)."""
    import warnings

    warnings.formatwarning = _format_warning
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
    except Exception as e:  # click usage errors and aborts, from whichever click raised them
        for mod in _click_exceptions():
            if isinstance(e, mod.ClickException):
                e.show()
                sys.exit(e.exit_code)
            exit_, abort = getattr(mod, "Exit", None), getattr(mod, "Abort", None)  # typer._click has neither
            if exit_ is not None and isinstance(e, exit_):
                sys.exit(e.exit_code)
            if abort is not None and isinstance(e, abort):
                sys.exit(130)
        import typer

        if isinstance(e, typer.Exit):
            sys.exit(e.exit_code)
        raise


_default_formatwarning = __import__("warnings").formatwarning
