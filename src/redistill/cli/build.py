"""``redistill build`` (augment files -> training data) and ``redistill import`` (existing teacher data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console
from redistill.cli.options import config_command
from redistill.distill.build import BuildConfig, parse_margins

console = make_console()
import_app = typer.Typer(help="Import existing teacher data into a run folder, so nobody pays for it twice.",
                         no_args_is_help=True)

PromptsOpt = Annotated[Path | None, typer.Option("--prompts", help="Prompts JSON file (reference layout) used "
                                                 "to render prompts the input files lack.")]


MarginOpt = Annotated[list[str] | None, typer.Option("--margin", help=BuildConfig.model_fields["margins"].description)]


@config_command(BuildConfig, overrides={"margins": MarginOpt}, convert={"margins": parse_margins})
def build(
    cfg: BuildConfig,
    run_dir: Annotated[Path, typer.Argument(help="Run folder holding augment/*.jsonl; data goes to RUN_DIR/data.")],
    prompts: PromptsOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when inputs and options are unchanged.")] = False,
) -> None:
    """Turn augment files into SFT and preference data (JSONL, a datasets DatasetDict, stats and plots)."""
    from redistill.distill.build import run_build
    from redistill.distill.stats import summary_table
    from redistill.prompts import load_prompts

    result = run_build(run_dir, cfg, load_prompts(prompts), force=force)
    if result.skipped:
        console.print(f"[green]up to date[/]: {result.data_dir} was built from these inputs with these options "
                      "(--force rebuilds)")
    console.print(summary_table(result.stats))
    console.print(f"written to {result.data_dir}", highlight=False, soft_wrap=True)


@import_app.command("raw")
def import_raw(
    run_dir: Annotated[Path, typer.Argument(help="Run folder: writes RUN_DIR/augment/<suite>.jsonl.")],
    suite: Annotated[str, typer.Option("--suite", help="Suite of the files (list_func, 1d_arc, acre, scan).")],
    all_hypo: Annotated[Path, typer.Option("--all-hypo", help="all_hypo_<split>_<H>_<T>.json of the reference release.")],
    rule_apply: Annotated[Path | None, typer.Option("--rule-apply", help="rule_apply_<split>_<H>_<T>.json "
                          "(prompts and responses of the applications).")] = None,
    rule_reward: Annotated[Path | None, typer.Option("--rule-reward", help="rule_reward_set_<split>_<H>_<T>.json "
                           "(holds the rule-generation prompts).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Suite JSONL file or data folder (the tasks the files "
                    "were made from, to line them up and judge applications).")] = None,
    split: Annotated[str | None, typer.Option(help="train | test | all; default from the file name "
                     "(train -> train, valid -> test).")] = None,
    teacher: Annotated[str, typer.Option(help="Teacher spec recorded in the lines.")] = "import:gpt-4o",
    prompts: PromptsOpt = None,
) -> None:
    """Import the reference release's raw augmentation files (all_hypo / rule_apply / rule_reward_set)."""
    from redistill.distill.importer import import_reference_raw
    from redistill.prompts import load_prompts

    n, path = import_reference_raw(run_dir, suite, all_hypo, rule_apply, rule_reward, data, split, teacher,
                                   load_prompts(prompts))
    console.print(f"imported {n} tasks into {path}; next: redistill build {run_dir}")


@import_app.command("published")
def import_published(
    run_dir: Annotated[Path, typer.Argument(help="Run folder: writes RUN_DIR/data/.")],
    generation: Annotated[str | None, typer.Option(help="Rule-generation SFT set: alpaca JSON file or dataset id.")] = None,
    application: Annotated[str | None, typer.Option(help="Rule-application SFT set: alpaca JSON file or dataset id.")] = None,
    preference: Annotated[str | None, typer.Option(help="Preference set: sharegpt ranking JSON file or dataset id.")] = None,
    prompts: PromptsOpt = None,
    export: Annotated[list[str] | None, typer.Option("--export", help="Also write: llama-factory.")] = None,
) -> None:
    """Import published training sets (e.g. nsadeq/redis_generate_rule_sft) as RUN_DIR/data."""
    from redistill.distill.importer import import_training_sets
    from redistill.distill.stats import summary_table
    from redistill.prompts import load_prompts

    stats = import_training_sets(run_dir, generation, application, preference, load_prompts(prompts),
                                 tuple(export or ()))
    console.print(summary_table(stats, "Imported training data"))
    console.print(f"written to {Path(run_dir) / 'data'}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.add_typer(import_app, name="import")
