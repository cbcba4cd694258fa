"""``augment --batch``: the teacher's calls go through OpenAI's Batch API (``llm.openai_batch``).

The augment stage itself is unchanged: the same prompts, cache keys and records. Here are the three
things batch mode changes around it: the backend option that routes calls to ``/v1/batches`` with
its state in the run folder, the cost function (the batch discount), and the chunk size (every task
in one chunk, so rule generation is one batch and rule application another; a kill loses nothing,
since a re-run polls the batches it already sent).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redistill.distill.augment import CostFn
from redistill.errors import RedistillError
from redistill.llm.openai_batch import BATCH_DISCOUNT


def batch_options(teacher: str, run_dir: str | Path) -> dict[str, Any]:
    """Backend options for a batch teacher; its job state goes to ``RUN_DIR/augment/batches/``."""
    if not teacher.startswith("openai:"):
        raise RedistillError(f"--batch (augment.batch): the Batch API is OpenAI's; teacher {teacher!r} is not an "
                             "openai: spec. Drop --batch, or use --teacher openai:MODEL")
    return {"batch_dir": Path(run_dir) / "augment" / "batches"}


def batch_cost(cost_fn: CostFn | None) -> CostFn | None:
    """Dollars at the Batch API's price."""
    if cost_fn is None:
        return None
    return lambda usage: cost_fn(usage) * BATCH_DISCOUNT


def batch_chunk(n_tasks: int) -> int:
    """Every task in one chunk: one batch per stage (rules, then applications)."""
    return max(1, n_tasks)
