"""The rule library: parametrised rules with a canonical English statement and an executable form.

A rule's text is fixed per (rule, params), so a rule text written by a model can be mapped back to
the library rule (``lookup``) and scored exactly. Library rules are our own code: they run in-process.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from string import Template
from typing import Any

Params = dict[str, Any]
LIST_PARAMS = ("pre", "post", "items")
"""Parameters whose value is a list literal such as ``[5, 2]`` (any list of ints is allowed)."""
_LIST_RE = r"\[[\d, ]*\]"
_WORD_RE = r"[\w-]+"


def normalise_text(text: str) -> str:
    """Case- and whitespace-insensitive form of a rule text (a trailing full stop does not matter)."""
    return " ".join(text.lower().split()).rstrip(". ")


@dataclass(frozen=True)
class Rule:
    """One library rule with its parameters filled in."""

    family: str
    name: str
    params: Params
    text: str
    program: str
    """Python source defining ``transform(x)`` (list families) or JSON text (ACRE, MiniSCAN)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "text": self.text, "program": self.program, "params": dict(self.params)}


@lru_cache(maxsize=20000)
def compile_program(source: str) -> Callable[[list], Any]:
    """The ``transform`` function of a library program (our own code, so it may run in-process)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<library rule>", "exec"), namespace)  # noqa: S102 - library source only
    return namespace["transform"]


def parse_list(value: Any) -> list | None:
    """A list input as a fresh python list (text is parsed once and cached)."""
    if isinstance(value, list):
        return list(value)
    parsed = _parse_text(str(value))
    return list(parsed) if parsed is not None else None


@lru_cache(maxsize=100000)
def _parse_text(text: str) -> tuple | None:
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return tuple(parsed) if isinstance(parsed, list) else None


def run_list_rule(rule: Rule, value: Any) -> str | None:
    """Apply a list rule to an input (text or list); the output in the published form, or None."""
    x = parse_list(value)
    if x is None:
        return None
    try:
        y = compile_program(rule.program)(x)
    except Exception:  # a rule that does not apply to this input (e.g. no block found)
        return None
    if not isinstance(y, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in y):
        return None
    return str(y)


@dataclass(frozen=True)
class RuleTemplate:
    """A parametrised list rule: ``$name`` fields in its text and program are filled from params."""

    name: str
    text: str
    program: str
    space: dict[str, Sequence[Any]] = field(default_factory=dict)
    """Every value each parameter may take (lookup rejects others)."""
    fit: Callable[[list[tuple[list, list]]], dict[str, Iterable[Any]]] | None = None
    """Given seen (input, output) lists, the values worth trying per parameter (default: ``space``)."""

    def instantiate(self, family: str, params: Params) -> Rule:
        text = Template(self.text).substitute(params)
        program = Template(self.program).substitute(params)
        return Rule(family, self.name, dict(params), text, program)

    def candidates(self, pairs: list[tuple[list, list]] | None = None, cap: int = 600) -> list[Params]:
        choices = dict(self.space)
        if pairs is not None and self.fit is not None:
            fitted = self.fit(pairs)
            choices.update({k: [v for v in dict.fromkeys(vals) if k in LIST_PARAMS or v in self.space[k]]
                            for k, vals in fitted.items() if k in self.space})
        keys = list(choices)
        combos = itertools.islice(itertools.product(*(choices[k] for k in keys)), cap)
        return [dict(zip(keys, c, strict=False)) for c in combos]

    def pattern(self) -> re.Pattern:
        return _pattern(self.text)

    def match(self, family: str, text: str) -> Rule | None:
        m = self.pattern().match(normalise_text(text))
        if not m:
            return None
        params: Params = {}
        for k, raw in m.groupdict().items():
            value: Any = int(raw) if re.fullmatch(r"-?\d+", raw) else raw
            if k in LIST_PARAMS:
                value = str(parse_list(raw))  # canonical spacing: "[5, 2]"
            elif value not in self.space.get(k, ()):
                return None
            params[k] = value
        return self.instantiate(family, params)


@cache
def _pattern(text: str) -> re.Pattern:
    parts = re.split(r"\$(\w+)", normalise_text(text))
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{_LIST_RE if p in LIST_PARAMS else _WORD_RE})"
                    for i, p in enumerate(parts))
    return re.compile(regex + r"$")


def lookup_in(templates: Iterable[RuleTemplate], family: str, text: str) -> Rule | None:
    for t in templates:
        rule = t.match(family, text)
        if rule is not None:
            return rule
    return None
