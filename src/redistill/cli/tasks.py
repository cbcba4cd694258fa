"""``redistill tasks``: list suites, show tasks, print statistics."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from redistill.cli.console import make_console
from redistill.tasks import SUITES, Task, format_value, load_tasks
from redistill.tasks.suites import ALIASES

app = typer.Typer(help="Inspect task suites.", no_args_is_help=True)
console = make_console()

DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Suite JSONL file, or a folder in the published layout (or set REDISTILL_DATA).")
]
SplitOpt = Annotated[str, typer.Option("--split", help="train | test | all (test reproduces the published split).")]
IdsOpt = Annotated[str | None, typer.Option("--ids", help="Comma-separated task ids (overrides --split).")]
AnswerTypeOpt = Annotated[
    str | None, typer.Option("--answer-type", help="For a custom suite: list | label | tokens.")
]


def split_list(values: list[str]) -> list[str]:
    """``--suite a,b --suite c`` -> ``[a, b, c]`` (every command that takes suites reads them so)."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_ids(ids: str | None) -> list[str] | None:
    return [i.strip() for i in ids.split(",") if i.strip()] if ids else None


@app.command("list")
def list_suites() -> None:
    """List the registered suites."""
    table = Table(title="Suites")
    for col in ("suite", "aliases", "answer type", "pair margin", "file in data folder", "description"):
        table.add_column(col)
    for s in SUITES.values():
        aliases = ", ".join(a for a, n in ALIASES.items() if n == s.name)
        table.add_row(s.name, aliases, s.answer_type, str(s.margin), s.relpath or "-", s.description)
    console.print(table)


@app.command("show")
def show(
    suite: str,
    data: DataOpt = None,
    split: SplitOpt = "all",
    ids: IdsOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most N tasks.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One task per line in the published layout.")] = False,
    answer_type: AnswerTypeOpt = None,
) -> None:
    """Show tasks of a suite."""
    tasks = load_tasks(suite, data, split, parse_ids(ids), limit, answer_type)
    if as_json:
        for t in tasks:
            typer.echo(json.dumps(t.to_json(), ensure_ascii=False))
        return
    for t in tasks:
        table = Table(title=f"{t.suite} task {t.id}", show_lines=False)
        table.add_column("")
        table.add_column("input", overflow="fold")
        table.add_column("output", overflow="fold")
        for e in t.train:
            table.add_row("seen", format_value(e.input), e.output)
        for e in t.test:
            tag = "unseen" + (f" ({e.meta['type']})" if "type" in e.meta else "")
            table.add_row(tag, format_value(e.input), e.output)
        console.print(table)


def suite_stats(tasks: list[Task]) -> dict:
    """Counts and length statistics of a list of tasks (also used for generated-vs-published comparisons)."""

    def lengths(values: list[str]) -> dict:
        if not values:
            return {"min": 0, "mean": 0.0, "max": 0}
        return {"min": min(values), "mean": round(statistics.mean(values), 2), "max": max(values)}

    def size(v) -> int:
        text = format_value(v)
        if text.startswith("["):
            try:
                return len(json.loads(text.replace("'", '"')))
            except json.JSONDecodeError:
                pass
        return len(v) if isinstance(v, list) else len(text.split())

    examples = [e for t in tasks for e in t.train + t.test]
    labels = Counter(e.output for e in examples)
    stats = {
        "tasks": len(tasks),
        "seen_per_task": lengths([len(t.train) for t in tasks]),
        "unseen_per_task": lengths([len(t.test) for t in tasks]),
        "input_length": lengths([size(e.input) for e in examples]),
        "output_length": lengths([size(e.output) for e in examples]),
    }
    values = [_list_values(e.input) for e in examples]
    if values and all(v is not None for v in values):  # list suites: how many colours / values an input uses
        stats["distinct_values_per_input"] = lengths([len(set(v) - {0}) for v in values])
        stats["max_value"] = max((max(v) for v in values if v), default=0)
    if len(labels) <= 10:
        stats["labels"] = dict(labels.most_common())
    types = Counter(e.meta["type"] for t in tasks for e in t.test if "type" in e.meta)
    if types:
        stats["query_types"] = dict(types.most_common())
    return stats


def _list_values(value) -> list[int] | None:
    text = format_value(value)
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None
    return parsed if all(isinstance(v, int) for v in parsed) else None


def render_stats(columns: dict[str, dict]) -> Table:
    """A table with one column per named stats dict (one suite, or generated beside published)."""
    table = Table(title="Suite statistics")
    table.add_column("statistic")
    for name in columns:
        table.add_column(name, justify="right")
    keys: list[str] = []
    for st in columns.values():
        for k in st:
            if k not in keys:
                keys.append(k)
    for k in keys:
        cells = []
        for st in columns.values():
            v = st.get(k, "-")
            if isinstance(v, dict):
                v = "  ".join(f"{kk}: {vv}" for kk, vv in v.items())
            cells.append(str(v))
        table.add_row(k.replace("_", " "), *cells)
    return table


@app.command("stats")
def stats(
    suite: str,
    data: DataOpt = None,
    split: SplitOpt = "all",
    ids: IdsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    answer_type: AnswerTypeOpt = None,
    compare: Annotated[
        Path | None, typer.Option("--compare", help="Another task file of the suite (e.g. generated) to show side by side.")
    ] = None,
) -> None:
    """Statistics of a suite: tasks, examples per task, lengths, labels, ACRE query types."""
    tasks = load_tasks(suite, data, split, parse_ids(ids), None, answer_type)
    columns = {f"{suite} ({split})": suite_stats(tasks)}
    if compare is not None:
        columns[compare.name] = suite_stats(load_tasks(suite, compare, "all", None, None, answer_type))
    if as_json:
        typer.echo(json.dumps(columns if compare is not None else columns[f"{suite} ({split})"], indent=2))
        return
    console.print(render_stats(columns))


def split_names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command("generate")
def generate_cmd(
    family: Annotated[str, typer.Argument(help="1d_arc | list_func | acre | scan")],
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write (published layout plus 'rule').")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of tasks.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed; use disjoint seeds for training and test sets.")] = 0,
    concepts: Annotated[str | None, typer.Option("--concepts", help="Comma-separated concepts to draw from.")] = None,
    exclude: Annotated[str | None, typer.Option("--exclude", help="Comma-separated concepts to leave out.")] = None,
    first: Annotated[str | None, typer.Option("--first", help="Comma-separated concepts that lead the round-robin "
                                              "(held-out concepts in a test set, so each is tested).")] = None,
    novel: Annotated[bool, typer.Option("--novel", help="MiniSCAN: draw new function semantics too.")] = False,
    max_seen: Annotated[int | None, typer.Option("--max-seen", min=1, help="List suites: keep only the first N seen "
                                                 "examples of each task (shorter prompts for a small student).")] = None,
    max_row: Annotated[int | None, typer.Option("--max-row", min=8, help="List families: longest input; 1D-ARC rows "
                                                "and blocks are drawn shorter (for small students).")] = None,
) -> None:
    """Generate tasks with their true rules (seeded, deterministic)."""
    from redistill.jsonl import write_jsonl
    from redistill.tasks.generators import generate

    tasks = generate(family, n, seed, split_names(concepts), split_names(exclude), novel, max_seen=max_seen,
                     first=split_names(first) or (), max_row=max_row)
    write_jsonl(out, (t.to_json() for t in tasks))
    by_concept = Counter(t.meta["concept"] for t in tasks)
    table = Table(title=f"{len(tasks)} {family} tasks -> {out}")
    table.add_column("concept")
    table.add_column("tasks", justify="right")
    for name, count in by_concept.items():
        table.add_row(name, str(count))
    console.print(table)


@app.command("concepts")
def concepts_cmd(family: Annotated[str, typer.Argument(help="1d_arc | list_func | acre | scan")]) -> None:
    """List a family's concepts (types), the names --concepts and --exclude take."""
    from redistill.tasks.generators import list_concepts

    for name in list_concepts(family):
        typer.echo(name)
