"""List Function: a small list DSL of parametrised concepts with the benchmark's 1-based positions.

Each concept is one library rule; its program is plain python ``def transform(x): ...`` so the
search stage's python follower can run it too. Inputs have length 0-10, values 0-9 or 0-99.
"""

from __future__ import annotations

import random

from redistill.tasks.generators.library import LIST_PARAMS, RuleTemplate
from redistill.tasks.generators.listtasks import ListFamily

NAME = "list_func"
POS = tuple(range(1, 11))
SMALL = tuple(range(1, 11))
VALUES = tuple(range(0, 100))

_VALUE_PARAMS = ("v", "a", "b")
ANY_LIST = ()  # list parameters are free-form; their values come from fitting or drawing


def _around(x: list, y: list) -> tuple[list, list] | None:
    """(prefix, suffix) when y is prefix + x + suffix."""
    for i in range(len(y) - len(x) + 1):
        if y[i : i + len(x)] == x:
            return y[:i], y[i + len(x) :]
    return None


def _fit(pairs):
    """Values worth trying, read off the seen lists: new output values for 'v'/'b', vanished ones for 'a'."""
    ins = sorted({v for x, _ in pairs for v in x})
    outs = sorted({v for _, y in pairs for v in y})
    new = [v for v in outs if v not in ins] or outs
    gone = sorted({v for x, y in pairs for v in x if v not in y}) or ins
    fitted: dict = {"v": new, "a": gone, "b": new, "k": sorted(set(ins) | set(range(10)))}
    arounds = [_around(x, y) for x, y in pairs if x]
    if arounds and arounds[0] is not None:
        fitted["pre"], fitted["post"] = [str(arounds[0][0])], [str(arounds[0][1])]
    outputs = [str(y) for _, y in pairs]
    fitted["items"] = [max(set(outputs), key=outputs.count)] if outputs else []
    return fitted


def _t(name: str, text: str, body: str, **space) -> RuleTemplate:
    src = "def transform(x):\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())
    fit = _fit if any(k in _VALUE_PARAMS or k in LIST_PARAMS or space[k] is VALUES for k in space) else None
    return RuleTemplate(name, text, src, space, fit)


TEMPLATES: list[RuleTemplate] = [
    _t("identity", "Return the list unchanged.", "return x"),
    _t("element_at", "Return the element at position $i as a one-element list, or an empty list if there is none.",
       "return x[$i - 1:$i]", i=POS),
    _t("take", "Keep the first $k elements.", "return x[:$k]", k=SMALL),
    _t("drop", "Remove the first $k elements.", "return x[$k:]", k=SMALL),
    _t("take_last", "Keep the last $k elements.", "return x[-$k:]", k=SMALL),
    _t("drop_last", "Remove the last $k elements.", "return x[:-$k]", k=SMALL),
    _t("slice", "Keep the elements from position $i to position $j.", "return x[$i - 1:$j]", i=POS, j=POS),
    _t("remove_at", "Remove the element at position $i.", "return x[:$i - 1] + x[$i:]", i=POS),
    _t("insert_at", "Insert $v at position $i.", "return x[:$i - 1] + [$v] + x[$i - 1:] if len(x) >= $i - 1 else x",
       v=VALUES, i=POS),
    _t("replace_at", "Replace the element at position $i with $v.",
       "return x[:$i - 1] + [$v] + x[$i:] if len(x) >= $i else x", v=VALUES, i=POS),
    _t("copy_at", "Copy the element at position $i to position $j.",
       "y = list(x)\nif len(x) >= max($i, $j):\n    y[$j - 1] = x[$i - 1]\nreturn y", i=POS, j=POS),
    _t("swap", "Swap the elements at positions $i and $j.",
       "y = list(x)\nif len(x) >= max($i, $j):\n    y[$i - 1], y[$j - 1] = x[$j - 1], x[$i - 1]\nreturn y", i=POS, j=POS),
    _t("swap_ends", "Swap the first and the last element.", "return x[-1:] + x[1:-1] + x[:1] if len(x) > 1 else x"),
    _t("prepend", "Put $v at the front.", "return [$v] + x", v=VALUES),
    _t("append", "Append $v at the end.", "return x + [$v]", v=VALUES),
    _t("reverse", "Reverse the list.", "return x[::-1]"),
    _t("sort", "Sort the list in ascending order.", "return sorted(x)"),
    _t("sort_desc", "Sort the list in descending order.", "return sorted(x, reverse=True)"),
    _t("unique", "Remove repeated elements, keeping each first occurrence.", "return list(dict.fromkeys(x))"),
    _t("sort_unique", "Sort the list in ascending order and remove repeated elements.", "return sorted(set(x))"),
    _t("sort_unique_desc", "Sort the list in descending order and remove repeated elements.",
       "return sorted(set(x), reverse=True)"),
    _t("rotate_left", "Move the first $k elements to the end.", "return x[$k:] + x[:$k]", k=SMALL),
    _t("rotate_right", "Move the last $k elements to the front.", "return x[-$k:] + x[:-$k] if len(x) > $k else x",
       k=SMALL),
    _t("odd_positions", "Keep the elements at odd positions (1, 3, 5, ...).", "return x[0::2]"),
    _t("even_positions", "Keep the elements at even positions (2, 4, 6, ...).", "return x[1::2]"),
    _t("sum", "Return the sum of the elements as a one-element list.", "return [sum(x)]"),
    _t("length", "Return the number of elements as a one-element list.", "return [len(x)]"),
    _t("max", "Return the largest element as a one-element list.", "return [max(x)] if x else []"),
    _t("min", "Return the smallest element as a one-element list.", "return [min(x)] if x else []"),
    _t("count_value", "Return how many times $v occurs, as a one-element list.", "return [x.count($v)]", v=VALUES),
    _t("count_greater", "Return how many elements are greater than $k, as a one-element list.",
       "return [sum(1 for v in x if v > $k)]", k=VALUES),
    _t("add", "Add $k to every element.", "return [v + $k for v in x]", k=SMALL),
    _t("subtract", "Subtract $k from every element.", "return [v - $k for v in x]", k=SMALL),
    _t("multiply", "Multiply every element by $k.", "return [v * $k for v in x]", k=SMALL),
    _t("add_position", "Add to each element its position.", "return [v + i + 1 for i, v in enumerate(x)]"),
    _t("multiply_position", "Multiply each element by its position.", "return [v * (i + 1) for i, v in enumerate(x)]"),
    _t("tens_digit", "Replace each element by its tens digit.", "return [v // 10 for v in x]"),
    _t("ones_digit", "Replace each element by its ones digit.", "return [v % 10 for v in x]"),
    _t("keep_greater", "Keep the elements greater than $k.", "return [v for v in x if v > $k]", k=VALUES),
    _t("keep_less", "Keep the elements less than $k.", "return [v for v in x if v < $k]", k=VALUES),
    _t("keep_even", "Keep the even elements.", "return [v for v in x if v % 2 == 0]"),
    _t("keep_odd", "Keep the odd elements.", "return [v for v in x if v % 2 == 1]"),
    _t("remove_value", "Remove every occurrence of $a.", "return [v for v in x if v != $a]", a=VALUES),
    _t("replace_value", "Replace every $a with $b.", "return [$b if v == $a else v for v in x]", a=VALUES, b=VALUES),
    _t("repeat_list", "Repeat the whole list $k times.", "return x * $k", k=SMALL),
    _t("repeat_each", "Repeat each element $k times.", "return [v for v in x for _ in range($k)]", k=SMALL),
    _t("first_repeated", "Return the first element repeated $k times.", "return x[:1] * $k", k=SMALL),
    _t("fill_first", "Replace every element with the first element.", "return x[:1] * len(x)"),
    _t("fill_length", "Replace every element with the length of the list.", "return [len(x)] * len(x)"),
    _t("cumulative_sum", "Replace each element by the sum of the elements up to and including it.",
       "out, total = [], 0\nfor v in x:\n    total += v\n    out.append(total)\nreturn out"),
    _t("count_each", "Replace each element by how many times it occurs in the list.", "return [x.count(v) for v in x]"),
    _t("count_so_far", "Replace each element by how many times it has occurred so far.",
       "return [x[:i + 1].count(v) for i, v in enumerate(x)]"),
    _t("interleave_position", "After each element insert its position.",
       "return [w for i, v in enumerate(x) for w in (v, i + 1)]"),
    _t("constant", "Always return the list $items.", "return $items", items=ANY_LIST),
    _t("wrap", "Put the list $pre in front and append the list $post.", "return $pre + x + $post",
       pre=ANY_LIST, post=ANY_LIST),
    _t("mirror_append", "Append the reversed list to the list.", "return x + x[::-1]"),
    _t("duplicate_ends", "Put the last element at the front and also append it at the end.",
       "return x[-1:] + x + x[-1:] if x else x"),
]

# Concepts that need small values or short inputs to stay in the benchmark's output range.
SMALL_VALUES = {"add", "multiply", "multiply_position", "add_position", "cumulative_sum", "sum", "repeat_list",
                "repeat_each", "count_value", "replace_value", "remove_value"}
REPEATS = {"unique", "sort_unique", "sort_unique_desc"}
"""Concepts that only show on lists with repeated values: their inputs are drawn with replacement from 0-9."""


def _draw_input(rng: random.Random, small: bool, repeats: bool = False) -> list[int]:
    top = 9 if small or repeats or rng.random() < 0.5 else 99
    n = rng.randint(0, 10)
    if n <= top + 1 and not repeats and rng.random() < 0.6:
        return rng.sample(range(top + 1), n)
    return [rng.randint(0, top) for _ in range(n)]


def _draw(rng: random.Random, concept: str, max_row: int | None = None):
    """``max_row`` needs nothing here: inputs have at most 10 elements and ``make_task`` enforces a cap."""
    template = next(t for t in TEMPLATES if t.name == concept)
    params = {}
    for k, values in template.space.items():
        if k in LIST_PARAMS:
            top = rng.choice((9, 99))
            params[k] = str([rng.randint(0, top) for _ in range(rng.randint(1 if k == "pre" else 0, 5))])
            continue
        values = [v for v in values if v <= 9] if k in ("v", "a", "b") and rng.random() < 0.7 else values
        params[k] = rng.choice(list(values))
    if concept == "slice" and params["i"] > params["j"]:
        params["i"], params["j"] = params["j"], params["i"]
    if concept in ("swap", "copy_at") and params["i"] == params["j"]:
        params["j"] = params["i"] % 10 + 1
    if concept in ("keep_greater", "keep_less", "count_greater"):
        params["k"] = rng.randint(2, 7) if rng.random() < 0.5 else rng.randint(10, 90)
    small = concept in SMALL_VALUES or any(k in params and params[k] <= 9 for k in ("k",)) and concept.startswith(
        ("keep", "count"))
    repeats = concept in REPEATS
    return template.instantiate(NAME, params), lambda r: _draw_input(r, small, repeats)


FAMILY = ListFamily(NAME, TEMPLATES, [t.name for t in TEMPLATES], _draw, n_seen=8, n_unseen=8, max_output=20)
