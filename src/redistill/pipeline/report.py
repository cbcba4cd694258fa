"""The run report: the paper-style tables, cost per row, and plots, as ``report.md`` and a
self-contained ``report.html`` (images inlined)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from redistill.eval.report import accuracy_curve, load_evaluation, md_table, pct, suite_order
from redistill.jsonl import atomic_write_text, read_jsonl
from redistill.pipeline.config import STAGES, eval_slug


def _evaluations(run: Path) -> list[dict]:
    out = []
    for name in _entry_order(run):
        folder = run / "eval" / eval_slug(name)
        if (folder / "summary.json").exists():
            ev = load_evaluation(folder)
            ev["name"] = name
            out.append(ev)
    return out


def _entry_order(run: Path) -> list[str]:
    cfg = json.loads((run / "config.json").read_text())
    return [e["name"] for e in cfg.get("eval", {}).get("entries", [])]


def tables(evals: list[dict]) -> dict[str, tuple[list[str], list[list[str]]]]:
    suites = suite_order(evals)
    acc = (["method · model"] + suites + ["mean"], [])
    task = (["method · model"] + suites + ["mean"], [])
    cost = (["method · model", "calls", "prompt tokens", "completion tokens", "cost USD", "wall s"], [])
    for e in evals:
        s = e["summary"]
        for kind, table in (("accuracy", acc), ("task_accuracy", task)):
            vals = [s.get(x, {}).get(kind) for x in suites]
            known = [v for v in vals if v is not None]
            table[1].append([e["name"]] + [pct(v) for v in vals] + [pct(sum(known) / len(known) if known else None)])
        tot = {k: sum((s[x].get(k) or 0) for x in s) for k in ("calls", "prompt_tokens", "completion_tokens", "wall_s")}
        costs = [s[x].get("cost_usd") for x in s]
        usd = f"{sum(costs):.4f}" if costs and all(c is not None for c in costs) else "0 (local)"
        cost[1].append([e["name"], str(tot["calls"]), f"{tot['prompt_tokens']:,}", f"{tot['completion_tokens']:,}",
                        usd, f"{tot['wall_s']:.1f}"])
    return {"Accuracy over unseen examples (%)": acc, "Task accuracy: every unseen example right (%)": task,
            "Cost and tokens": cost}


def task_kinds(run: Path) -> dict[str, dict[str, str]]:
    """``{suite: {task id: kind}}`` for the run's test tasks: ``seen`` (a concept the student trained on, new
    instances) or ``held-out`` (a concept in the suite's ``holdout``, or a MiniSCAN grammar never trained on)."""
    cfg = json.loads((run / "config.json").read_text())
    kinds: dict[str, dict[str, str]] = {}
    for s in cfg.get("suites", []):
        path = run / "tasks" / f"{s['name']}.test.jsonl"
        if not path.exists():
            continue
        holdout, novel = set(s.get("holdout") or []), bool(s.get("novel_train"))
        kinds[s["name"]] = {str(t["idx"]): "held-out" if novel or t.get("concept") in holdout else "seen"
                            for t in read_jsonl(path)}
    return kinds


def kind_table(run: Path, evals: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Accuracy over unseen examples per suite and test-task kind (the column names the tasks it covers)."""
    kinds = task_kinds(run)
    columns = [(suite, kind) for suite, by_task in kinds.items() for kind in ("seen", "held-out")
               if kind in by_task.values()]
    counts = {c: sum(k == c[1] for k in kinds[c[0]].values()) for c in columns}
    header = ["method · model"] + [f"{suite} {kind} ({counts[(suite, kind)]})" for suite, kind in columns]
    rows = []
    for e in evals:
        cells = [e["name"]]
        for suite, kind in columns:
            path = Path(e["dir"]) / f"{suite}.jsonl"
            verdicts = [bool(p.get("correct")) for r in (read_jsonl(path) if path.exists() else [])
                        if kinds[suite].get(str(r.get("task"))) == kind for p in r.get("predictions", [])]
            cells.append(pct(sum(verdicts) / len(verdicts) if verdicts else None))
        rows.append(cells)
    return header, rows


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def plot_accuracy_by_suite(evals: list[dict], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = sorted({s for e in evals for s in e["summary"]})
    if not suites:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / max(1, len(evals))
    for i, e in enumerate(evals):
        vals = [100 * (e["summary"].get(s, {}).get("accuracy") or 0) for s in suites]
        ax.bar([j + i * width for j in range(len(suites))], vals, width, label=e["name"])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(suites))], suites)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7)
    ax.set_title("Accuracy by suite")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_accuracy_by_h(evals: list[dict], path: Path) -> Path | None:
    """One panel per suite, one line per search row, integer H."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels: dict[str, list[tuple[str, list[dict]]]] = {}
    for e in evals:
        if e["config"].get("method") != "search":
            continue
        for suite in e["summary"]:
            try:
                curve = accuracy_curve(e["dir"], suite)
            except Exception:  # an evaluation without the unseen answers of every rule has no curve
                continue
            if curve:
                panels.setdefault(suite, []).append((e["name"], curve))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1.5, 3.4), sharey=True, squeeze=False)
    names = []
    for ax, (suite, curves) in zip(axes[0], panels.items()):
        for name, curve in curves:
            ax.plot([c["h"] for c in curve], [100 * (c["accuracy"] or 0) for c in curve], marker="o", ms=3,
                    label=name)
            names.append(name)
        ax.set_title(suite)
        ax.set_xlabel("H (rules sampled)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy on unseen (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=7, frameon=False)
    fig.suptitle("Hypothesis search: accuracy as H grows (from saved traces)", fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _existing_plots(run: Path) -> list[tuple[str, Path]]:
    found = []
    for title, rel in (("SFT loss", "models/sft/loss.png"), ("Alignment loss", "models/align/loss.png"),
                       ("Imitation baseline loss", "models/imitation/loss.png")):
        if (run / rel).exists():
            found.append((title, run / rel))
    for png in sorted((run / "data" / "plots").glob("*.png")) if (run / "data" / "plots").exists() else []:
        found.append((f"Training data: {png.stem.replace('_', ' ')}", png))
    return found


def write_report(run: str | Path) -> tuple[Path, Path]:
    """Write ``RUN/report.md`` and ``RUN/report.html`` from the evaluations and stage outputs on disk."""
    run = Path(run)
    evals = _evaluations(run)
    plots_dir = run / "plots"
    plots_dir.mkdir(exist_ok=True)
    plots = []
    for title, fn, name in (("Accuracy by suite", plot_accuracy_by_suite, "accuracy_by_suite.png"),
                            ("Accuracy by H", plot_accuracy_by_h, "accuracy_by_h.png")):
        p = fn(evals, plots_dir / name)
        if p:
            plots.append((title, p))
    plots += _existing_plots(run)
    stage_rows = []
    for stage in STAGES:
        marker = run / "stages" / f"{stage}.json"
        if marker.exists():
            stage_rows.append([stage, f"{json.loads(marker.read_text()).get('wall_s', 0):.1f}"])

    cfg = json.loads((run / "config.json").read_text())
    intro = (f"Run `{cfg.get('name')}`: teacher `{cfg.get('teacher')}`, student `{cfg['student']['base']}`, "
             f"suites {', '.join(s['name'] for s in cfg['suites'])}.")
    md = [f"# ReDis run report: {cfg.get('name')}", "", intro, ""]
    body = [f"<h1>ReDis run report: {html.escape(str(cfg.get('name')))}</h1><p>{html.escape(intro)}</p>"]
    all_tables = tables(evals)
    header, rows = kind_table(run, evals)
    if len(header) > 1:
        all_tables["Accuracy by test-task kind (%): concepts seen in training vs held out (tasks)"] = (header, rows)
    for title, (header, rows) in all_tables.items():
        md += [f"## {title}", "", md_table(header, rows), ""]
        body.append(f"<h2>{html.escape(title)}</h2>{_html_table(header, rows)}")
    if stage_rows:
        md += ["## Stage wall times (s)", "", md_table(["stage", "wall s"], stage_rows), ""]
        body.append(f"<h2>Stage wall times (s)</h2>{_html_table(['stage', 'wall s'], stage_rows)}")
    md += ["## Plots", ""]
    body.append("<h2>Plots</h2>")
    for title, path in plots:
        md += [f"### {title}", "", f"![{title}]({path.relative_to(run)})", ""]
        data = base64.b64encode(path.read_bytes()).decode()
        body.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(title)}'>"
                    f"<figcaption>{html.escape(title)}</figcaption></figure>")
    style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}"
             "img{max-width:100%}figure{display:inline-block;margin:0.5em;width:46%}"
             "figcaption{font-size:0.85em;color:#555}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>ReDis report</title><style>{style}</style>"
            f"</head><body>{''.join(body)}</body></html>")
    md_path, html_path = run / "report.md", run / "report.html"
    atomic_write_text(md_path, "\n".join(md))
    atomic_write_text(html_path, page)
    return md_path, html_path
