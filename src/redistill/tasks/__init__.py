"""Tasks, suites, splits and answer checking."""

from redistill.tasks.answers import Verdict, get_answer_type
from redistill.tasks.model import Example, Task, format_value
from redistill.tasks.suites import SUITES, Suite, get_suite, load_tasks, register_suite, split_tasks

__all__ = [
    "SUITES", "Example", "Suite", "Task", "Verdict", "format_value", "get_answer_type", "get_suite",
    "load_tasks", "register_suite", "split_tasks",
]
