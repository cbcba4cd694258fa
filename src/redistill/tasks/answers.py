"""Answer types own parsing a model response and comparing it to the gold output.

Scoring never compares raw strings directly: augment (rule scores), build and eval all call
``check``, so training data and evaluation cannot drift apart.

Two modes:
- normal (default): tolerant parsing — prose, code fences, ``Output:`` prefixes, spacing.
- strict: the published scoring, to put figures beside the paper's: for lists, the first
  ``[...]`` substring compared as a string; otherwise raw string equality (after ``strip()``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from redistill.errors import RedistillError


@dataclass(frozen=True)
class Verdict:
    correct: bool
    parsed: str | None
    """The answer as understood (canonical text), or None when nothing parseable was found."""


_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.S)
_OUTPUT_MARK = re.compile(r"(?:^|\n|\s)(?:final\s+)?(?:output|answer)\s*(?:is)?\s*[:=]?\s*", re.I)


def _focus(response: str) -> str:
    """Narrow a response to where the answer most likely is: a code block, else after 'Output:'."""
    text = response.strip()
    fences = _FENCE.findall(text)
    if fences:
        text = fences[-1].strip()
    marks = list(_OUTPUT_MARK.finditer(text))
    if marks and text[marks[-1].end() :].strip():
        text = text[marks[-1].end() :].strip()
    return text


def _strict_list_substring(response: str) -> str:
    i = response.find("[")
    j = response.find("]", i + 1) if i >= 0 else -1
    return response[i : j + 1] if i >= 0 and j >= 0 else response.strip()


def _bracket_spans(text: str) -> list[str]:
    """Top-level balanced ``[...]`` substrings, in order."""
    spans, depth, start = [], 0, -1
    for i, ch in enumerate(text):
        if ch == "[":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "]" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def _literal_list(text: str) -> list | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, list) else None


class ListAnswer:
    """Python list answers (1D-ARC, List Function). Values compare, not strings."""

    name = "list"

    def parse(self, response: str) -> list | None:
        text = _focus(response)
        # the last parseable list in the focused text, else anywhere in the response
        for source in (text, response):
            for span in reversed(_bracket_spans(source)):
                value = _literal_list(span)
                if value is not None:
                    return value
        return None

    def canonical(self, value: Any) -> str:
        return str(value)

    def check(self, response: str, gold: str, strict: bool = False) -> Verdict:
        if strict:
            pred = _strict_list_substring(response)
            return Verdict(pred == gold, pred)
        value = self.parse(response)
        if value is None:
            return Verdict(False, None)
        gold_value = _literal_list(gold) if isinstance(gold, str) else gold
        return Verdict(value == gold_value, str(value))


_LABEL_WORD = re.compile(r"\b(undetermined|on|off)\b", re.I)


class LabelAnswer:
    """One label from a fixed set (ACRE: on / off / undetermined)."""

    name = "label"

    def __init__(self, labels: tuple[str, ...] = ("on", "off", "undetermined")):
        self.labels = labels
        self._word = (
            _LABEL_WORD
            if set(labels) == {"on", "off", "undetermined"}
            else re.compile(r"\b(" + "|".join(map(re.escape, labels)) + r")\b", re.I)
        )

    def parse(self, response: str) -> str | None:
        text = _focus(response).strip().strip(".!\"'`*").strip().lower()
        if text in self.labels:
            return text
        hits = self._word.findall(text) or self._word.findall(response)
        return hits[-1].lower() if hits else None  # the last label said is the conclusion

    def canonical(self, value: Any) -> str:
        return str(value).strip().lower()

    def check(self, response: str, gold: str, strict: bool = False) -> Verdict:
        if strict:
            pred = response.strip()
            return Verdict(pred == gold, pred)
        label = self.parse(response)
        return Verdict(label is not None and label == gold.strip().lower(), label)


class TokensAnswer:
    """A whitespace-separated token sequence (MiniSCAN colours). Spacing and case do not matter."""

    name = "tokens"

    def parse(self, response: str) -> str | None:
        text = _focus(response)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            return None
        tokens = lines[-1].strip(" .\"'`*").split()
        return " ".join(t.strip(",.;") for t in tokens) or None

    def canonical(self, value: Any) -> str:
        return " ".join(str(value).split())

    def check(self, response: str, gold: str, strict: bool = False) -> Verdict:
        if strict:
            pred = response.strip()
            return Verdict(pred == gold, pred)
        parsed = self.parse(response)
        if parsed is None:
            return Verdict(False, None)
        return Verdict(parsed.upper().split() == gold.upper().split(), parsed)


ANSWER_TYPES: dict[str, Any] = {"list": ListAnswer(), "label": LabelAnswer(), "tokens": TokensAnswer()}


def get_answer_type(name: str) -> ListAnswer | LabelAnswer | TokensAnswer:
    try:
        return ANSWER_TYPES[name]
    except KeyError:
        raise RedistillError(
            f"unknown answer type {name!r}; choose one of: {', '.join(ANSWER_TYPES)}"
        ) from None
