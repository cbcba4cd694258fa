"""The loss curve of a training run as a PNG, drawn from its log.jsonl rows."""

from __future__ import annotations

import os
from pathlib import Path

# Series worth a line when present: training loss, held-out loss, ORPO's NLL part.
SERIES = {"loss": "train loss", "eval_loss": "eval loss", "nll_loss": "train NLL"}


def plot_losses(rows: list[dict], path: str | Path, title: str) -> Path | None:
    """Draw each series of ``SERIES`` against the step; written atomically. ``None`` if nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for key, label in SERIES.items():
        points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=label)
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path
