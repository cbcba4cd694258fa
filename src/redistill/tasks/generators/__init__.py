"""Procedural task generators with ground-truth rules, for the four suite families.

``generate(family, n, seed)`` returns tasks in the published layout plus ``meta["rule"]`` (name,
canonical English text, executable program, params) and ``meta["concept"]``. Tasks are seeded per
index, so ``generate(f, 10, s)`` is a prefix of ``generate(f, 20, s)``. Hold out whole concepts with
``concepts=`` / ``exclude=`` (see docs/generators.md).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from redistill.errors import RedistillError
from redistill.tasks.generators import acre, arc1d, listfunc, scan
from redistill.tasks.generators.checks import check_task
from redistill.tasks.generators.library import Rule, normalise_text
from redistill.tasks.model import Task
from redistill.tasks.suites import get_suite

FAMILIES = {
    "1d_arc": arc1d.FAMILY,
    "list_func": listfunc.FAMILY,
    "acre": acre.FAMILY,
    "scan": scan.FAMILY,
}


def get_family(name: str):
    """The family object of a suite name or alias (``1d_arc``, ``list_func``, ``acre``, ``scan``)."""
    try:
        key = get_suite(name).name
    except RedistillError:
        key = name
    if key not in FAMILIES:
        raise RedistillError(f"no generator for {name!r}; families: {', '.join(FAMILIES)}")
    return FAMILIES[key]


def list_concepts(family: str) -> list[str]:
    """Concept (type) names of a family, in a fixed order."""
    return list(get_family(family).concepts)


def is_list_family(name: str | None) -> bool:
    """A generator family whose answers are lists (1d_arc, list_func): ``max_row`` and ``max_seen`` apply."""
    return name in FAMILIES and get_suite(name).answer_type == "list"


def _choose(family: str, concepts: Sequence[str] | None, exclude: Sequence[str] | None) -> list[str]:
    known = list_concepts(family)
    for name in list(concepts or []) + list(exclude or []):
        if name not in known:
            raise RedistillError(f"unknown {family} concept {name!r}; see `redistill tasks concepts {family}`")
    chosen = [c for c in (concepts or known) if c not in set(exclude or ())]
    if not chosen:
        raise RedistillError("no concepts left to generate from: --concepts and --exclude remove every one")
    return chosen


def generate(
    family: str,
    n: int,
    seed: int,
    concepts: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    novel: bool = False,
    max_tries: int = 200,
    max_seen: int | None = None,
    first: Sequence[str] = (),
    max_row: int | None = None,
) -> list[Task]:
    """``n`` tasks of ``family``, concepts in round-robin order, each checked and redrawn on failure.

    ``novel`` (MiniSCAN) also draws new function semantics and precedences. ``first`` concepts lead the
    round-robin (held-out concepts in a test split, so every one is tested). ``max_seen`` keeps only the
    first N seen examples of each task (shorter prompts for a small student; list families only, where
    the rule is still determined by them). ``max_row`` (list families) caps the input length: 1D-ARC
    rows are drawn shorter, blocks scaled with them.
    """
    fam = get_family(family)
    is_list = is_list_family(fam.name)
    if max_seen is not None and not is_list:
        raise RedistillError(f"max_seen: only list suites may drop seen examples, not {family!r} (ACRE and "
                             "MiniSCAN answers must stay determined by them)")
    if max_row is not None and not is_list:
        raise RedistillError(f"max_row applies to list families (1d_arc, list_func), not {family!r}")
    if max_row is not None and max_row < 8:
        raise RedistillError(f"max_row must be at least 8 (room for a block, a gap and a pivot), got {max_row}")
    extra = {"max_row": max_row} if max_row is not None else {}
    chosen = _choose(fam.name, concepts, exclude)
    if first:
        _choose(fam.name, first, None)  # unknown names are errors
        chosen = [c for c in first if c in chosen] + [c for c in chosen if c not in first]
    tasks: list[Task] = []
    for i in range(n):
        concept = chosen[i % len(chosen)]
        rng = random.Random(f"{fam.name}:{seed}:{i}")
        for _ in range(max_tries):
            task = fam.make_task(rng, concept, f"s{seed}-{i}", novel, **extra)
            if task is not None and not check_task(fam, task):
                break
        else:
            raise RedistillError(f"could not draw a valid {fam.name} task of concept {concept!r} (seed {seed}, index {i})")
        if max_seen:
            task.train = task.train[:max_seen]
        tasks.append(task)
    return tasks


def lookup_rule(family: str, text: str) -> Rule | None:
    """The library rule whose canonical text this is (case, whitespace and a final stop ignored)."""
    return get_family(family).lookup(text)


def rule_of(task: Task) -> Rule | None:
    """The library rule a generated task carries, or None for a published task."""
    data = task.meta.get("rule")
    if not isinstance(data, dict) or "text" not in data:
        return None
    return get_family(task.suite).lookup(data["text"])


__all__ = ["FAMILIES", "Rule", "generate", "get_family", "list_concepts", "lookup_rule", "normalise_text", "rule_of"]
