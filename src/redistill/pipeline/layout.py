"""Where the stages of one run read and write: the run folder's layout, in one place."""

from __future__ import annotations

from pathlib import Path

from redistill.pipeline.config import RunConfig, eval_slug
from redistill.tasks import Task, load_tasks


class RunLayout:
    """The paths of a run folder (``RUN`` = the config's ``out``) and its task files, read back."""

    def __init__(self, cfg: RunConfig, out: str | Path | None = None):
        self.cfg = cfg
        self.run = Path(out or cfg.out)

    def task_file(self, suite: str, split: str) -> Path:
        return self.run / "tasks" / f"{suite}.{split}.jsonl"

    def tasks(self, split: str) -> dict[str, list[Task]]:
        """The run's tasks of a split, per suite (``train_limit`` / ``test_limit`` applied)."""
        out = {}
        for s in self.cfg.suites:
            tasks = load_tasks(s.name, self.task_file(s.name, split), answer_type=s.answer_type or _answer_type(s.name))
            limit = s.test_limit if split == "test" else s.train_limit
            out[s.name] = tasks[:limit] if limit else tasks
        return out

    @property
    def base_model(self) -> str:
        return str(self.model_dir("init")) if self.cfg.student.base == "scratch" else self.cfg.student.base

    def model_dir(self, stage: str) -> Path:
        return self.run / "models" / stage

    def eval_dir(self, entry_name: str) -> Path:
        """An evaluation's folder, named after its table row (``search · SFT`` -> ``search-sft``)."""
        return self.run / "eval" / eval_slug(entry_name)


def _answer_type(name: str) -> str | None:
    from redistill.tasks.suites import ALIASES, SUITES

    key = ALIASES.get(name, name)
    return SUITES[key].answer_type if key in SUITES else None
