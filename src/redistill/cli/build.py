"""``redistill build`` (augment files -> training data) and ``redistill import`` (existing teacher data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redistill.cli.console import make_console

console = make_console()
import_app = typer.Typer(help="Import existing teacher data into a run folder, so nobody pays for it twice.",
                         no_args_is_help=True)

PromptsOpt = Annotated[Path | None, typer.Option("--prompts", help="Prompts JSON file (reference layout) used "
                                                 "to render prompts the input files lack.")]


def build(
    run_dir: Annotated[Path, typer.Argument(help="Run folder holding augment/*.jsonl; data goes to RUN_DIR/data.")],
    paper_compat: Annotated[bool, typer.Option("--paper-compat", help="Reproduce the published construction: "
                            "every unique rule for generation, chosen rules' applications right or wrong with "
                            "the teacher's raw responses.")] = False,
    margin: Annotated[list[str] | None, typer.Option("--margin", help="SUITE=N: a pair needs a score gap above N "
                      "(defaults: 1d_arc 1, acre 2, list_func 3, scan 4). Repeatable.")] = None,
    max_pairs_per_task: Annotated[int | None, typer.Option(help="Sample at most N pairs per task (seeded).")] = None,
    min_score: Annotated[int | None, typer.Option(help="Generation data keeps rules scoring at least N "
                         "(default 1; 0 with --paper-compat).")] = None,
    min_score_ratio: Annotated[float | None, typer.Option(help="Generation data also needs a score of at least "
                               "this share of the task's seen examples (e.g. 1.0: perfect rules only).")] = None,
    max_applications_per_task: Annotated[int | None, typer.Option(
        help="Sample at most N rule-application rows per task (seeded).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the pair and application sampling.")] = 0,
    export: Annotated[list[str] | None, typer.Option("--export", help="Also write: llama-factory.")] = None,
    prompts: PromptsOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when inputs and options are unchanged.")] = False,
) -> None:
    """Turn augment files into SFT and preference data (JSONL, a datasets DatasetDict, stats and plots)."""
    from redistill.distill.build import BuildOptions, parse_margins, run_build
    from redistill.distill.stats import summary_table
    from redistill.prompts import load_prompts

    opts = BuildOptions(paper_compat=paper_compat, margins=parse_margins(margin or []),
                        max_pairs_per_task=max_pairs_per_task, min_score=min_score,
                        min_score_ratio=min_score_ratio, max_applications_per_task=max_applications_per_task,
                        seed=seed, exports=tuple(export or ()))
    result = run_build(run_dir, opts, load_prompts(prompts), force=force)
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
