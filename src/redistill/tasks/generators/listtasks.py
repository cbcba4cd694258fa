"""What the two list families (1D-ARC, List Function) share: rule candidates, application, task making."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from redistill.tasks.generators.library import (
    Rule,
    RuleTemplate,
    lookup_in,
    parse_list,
    run_list_rule,
)
from redistill.tasks.model import Example, Task


@dataclass
class ListFamily:
    """A list family: its templates, its concepts, and how a concept draws params and inputs."""

    name: str
    templates: list[RuleTemplate]
    concepts: list[str]
    draw: Callable[[random.Random, str, int | None], tuple[Rule, Callable[[random.Random], list[int]]]]
    """For a concept and an optional longest input: the rule (params drawn) and a function drawing one input list."""
    n_seen: int
    n_unseen: int
    must_change: bool = False
    """Every example's output must differ from its input (1D-ARC)."""
    max_output: int = 100
    """Longest output list drawn (List Function's published outputs have at most 15 values)."""

    def template(self, name: str) -> RuleTemplate:
        return next(t for t in self.templates if t.name == name)

    def lookup(self, text: str) -> Rule | None:
        return lookup_in(self.templates, self.name, text)

    def apply(self, rule: Rule, value) -> str | None:
        return run_list_rule(rule, value)

    def candidates(self, task: Task) -> list[Rule]:
        """Every template with the parameter values worth trying on this task's seen examples."""
        pairs = [(parse_list(e.input) or [], parse_list(e.output) or []) for e in task.train]
        return [t.instantiate(self.name, p) for t in self.templates for p in t.candidates(pairs)]

    def make_task(self, rng: random.Random, concept: str, task_id, novel: bool = False,
                  max_row: int | None = None) -> Task | None:
        """One task of ``concept``, or None when the draw fails a check (the caller draws again).

        ``max_row`` caps the input length (shorter prompts for a small student)."""
        rule, draw_input = self.draw(rng, concept, max_row)
        examples: list[Example] = []
        seen_inputs: set[str] = set()
        for _ in range((self.n_seen + self.n_unseen) * 20):
            x = draw_input(rng)
            key = str(x)
            if key in seen_inputs or (max_row and len(x) > max_row):
                continue
            y = self.apply(rule, key)
            if y is None or (self.must_change and y == key) or len(parse_list(y) or []) > self.max_output:
                continue
            seen_inputs.add(key)
            examples.append(Example(key, y))
            if len(examples) == self.n_seen + self.n_unseen:
                break
        else:
            return None
        train, test = examples[: self.n_seen], examples[self.n_seen :]
        if rule.name != "identity":
            if len({e.output for e in train}) == 1 and len(train) > 1 and rule.name != "constant":
                return None  # a constant output teaches nothing about the rule
            if sum(e.output != e.input for e in train) < (len(train) + 1) // 2:
                return None  # most seen examples must show the rule doing something
        return Task(task_id, self.name, train, test, {"rule": rule.to_json(), "concept": concept})
