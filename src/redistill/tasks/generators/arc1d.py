"""1D-ARC: the 18 transformation types of the benchmark, as library rules and task generators.

Grids are flat lists of colours 0-9 (0 is background). Lengths and colours follow the published
file per type (see /work/shared/benchmarks/README.md for the type order).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from redistill.tasks.generators.library import Params, RuleTemplate
from redistill.tasks.generators.listtasks import ListFamily

NAME = "1d_arc"
COLOURS = tuple(range(1, 10))

# Helpers every 1D-ARC program starts with, so each program is self-contained python.
PRELUDE = '''def runs(x, same_colour=True):
    """Maximal runs of non-zero pixels as [start, end_exclusive, colour_of_first_pixel]."""
    out, i = [], 0
    while i < len(x):
        if x[i] == 0:
            i += 1
            continue
        j = i + 1
        while j < len(x) and x[j] != 0 and (x[j] == x[i] or not same_colour):
            j += 1
        out.append([i, j, x[i]])
        i = j
    return out


def pivot_and_block(x, p):
    """The single pixel of colour p, and the one run of other non-zero pixels."""
    q = x.index(p)
    blocks = [r for r in runs(x, False) if not (r[0] <= q < r[1])]
    assert len(blocks) == 1 and x.count(p) == 1
    return q, blocks[0]

'''


def _t(name: str, text: str, body: str, space: dict | None = None, fit=None) -> RuleTemplate:
    return RuleTemplate(name, text, PRELUDE + body, space or {}, fit)


def _output_colours(pairs):
    return sorted({v for _, y in pairs for v in y if v} - {0})


def _input_colours(pairs):
    return sorted({v for x, _ in pairs for v in x if v})


def _fit_pivot(pairs):
    return {"p": _input_colours(pairs)}


TEMPLATES: list[RuleTemplate] = [
    _t("move", "Move every block $k pixels to the $dir.", '''def transform(x):
    k = $k if "$dir" == "right" else -$k
    y = [0] * len(x)
    for i, v in enumerate(x):
        if v:
            assert 0 <= i + k < len(x)
            y[i + k] = v
    return y
''', {"k": (1, 2, 3, 4), "dir": ("right", "left")}),
    _t("move_to_pivot", "Move the block towards the pixel of colour $p until it touches it.", '''def transform(x):
    q, (s, e, _) = pivot_and_block(x, $p)
    shift = q - e if s < q else q + 1 - s
    y = [0] * len(x)
    y[q] = $p
    for i in range(s, e):
        y[i + shift] = x[i]
    return y
''', {"p": COLOURS}, _fit_pivot),
    _t("move_towards_pivot", "Move the block $k pixels towards the pixel of colour $p.", '''def transform(x):
    q, (s, e, _) = pivot_and_block(x, $p)
    shift = $k if s < q else -$k
    y = [0] * len(x)
    y[q] = $p
    for i in range(s, e):
        y[i + shift] = x[i]
    return y
''', {"k": (1, 2, 3), "p": COLOURS}, _fit_pivot),
    _t("scale_to_pivot", "Extend the block towards the pixel of colour $p until it touches it.", '''def transform(x):
    q, (s, e, c) = pivot_and_block(x, $p)
    y = list(x)
    for i in (range(e, q) if s < q else range(q + 1, s)):
        y[i] = c
    return y
''', {"p": COLOURS}, _fit_pivot),
    _t("mirror", "Mirror the block to the other side of the pixel of colour $p, keeping its distance.", '''def transform(x):
    q, (s, e, _) = pivot_and_block(x, $p)
    y = [0] * len(x)
    y[q] = $p
    for i in range(s, e):
        y[2 * q - i] = x[i]
    return y
''', {"p": COLOURS}, _fit_pivot),
    _t("fill", "Fill the gap between each pair of same-coloured pixels with their colour.", '''def transform(x):
    y = list(x)
    dots = [i for i, v in enumerate(x) if v]
    assert dots and len(dots) % 2 == 0
    for a, b in zip(dots[0::2], dots[1::2]):
        assert x[a] == x[b]
        for i in range(a, b + 1):
            y[i] = x[a]
    return y
'''),
    _t("hollow", "Keep only the two end pixels of each block and clear its inside.", '''def transform(x):
    y = list(x)
    for s, e, _ in runs(x):
        for i in range(s + 1, e - 1):
            y[i] = 0
    return y
'''),
    _t("flip", "Reverse the order of the pixels within the block.", '''def transform(x):
    y = list(x)
    for s, e, _ in runs(x, False):
        y[s:e] = x[s:e][::-1]
    return y
'''),
    _t("denoise", "Keep only the largest block and erase every other pixel.", '''def transform(x):
    s, e, c = max(runs(x), key=lambda r: r[1] - r[0])
    y = [0] * len(x)
    for i in range(s, e):
        y[i] = c
    return y
'''),
    _t("denoise_inside", "Recolour every pixel of the long block with the block's main colour and erase pixels outside it.", '''def transform(x):
    s, e, _ = max(runs(x, False), key=lambda r: r[1] - r[0])
    part = x[s:e]
    c = max(set(part), key=part.count)
    y = [0] * len(x)
    for i in range(s, e):
        y[i] = c
    return y
'''),
    _t("pattern_copy", "Replace every single pixel with a copy of the first block's shape centred on it, in the single pixel's colour.", '''def transform(x):
    first = runs(x, False)[0]
    width = first[1] - first[0]
    y = list(x)
    for s, e, c in runs(x)[1:]:
        if e - s == 1:
            for i in range(s - width // 2, s - width // 2 + width):
                y[i] = c
    return y
'''),
    _t("recolour_parity", "Recolour blocks of odd length with colour $a and blocks of even length with colour $b.", '''def transform(x):
    y = list(x)
    for s, e, _ in runs(x):
        for i in range(s, e):
            y[i] = $a if (e - s) % 2 else $b
    return y
''', {"a": COLOURS, "b": COLOURS}, lambda pairs: {"a": _output_colours(pairs), "b": _output_colours(pairs)}),
    _t("recolour_size", "Recolour blocks of length 1 with colour $a, of length 2 with colour $b and of length 3 with colour $c.", '''def transform(x):
    y = list(x)
    for s, e, _ in runs(x):
        assert 1 <= e - s <= 3
        for i in range(s, e):
            y[i] = ($a, $b, $c)[e - s - 1]
    return y
''', {"a": COLOURS, "b": COLOURS, "c": COLOURS},
       lambda pairs: {k: _output_colours(pairs) for k in "abc"}),
    _t("recolour_longest", "Recolour the longest block with colour $a.", '''def transform(x):
    rs = runs(x)
    longest = max(e - s for s, e, _ in rs)
    y = list(x)
    for s, e, _ in rs:
        if e - s == longest:
            for i in range(s, e):
                y[i] = $a
    return y
''', {"a": COLOURS}, lambda pairs: {"a": _output_colours(pairs)}),
]


# ---- generators: one per published type -------------------------------------------------------

@dataclass(frozen=True)
class Concept:
    name: str
    rule: str
    params: Callable[[random.Random], Params]
    make_input: Callable[[random.Random, Params], list[int]]


# ``max_row`` (shorter prompts for a small student) caps every row length range; block sizes drawn
# for 33-pixel rows shrink in proportion (``_part``). Without a cap the draws are unchanged.
def _n(rng: random.Random, prm: Params, lo: int, hi: int) -> int:
    hi = min(hi, prm.get("max_row") or hi)
    return rng.randint(min(lo, hi), hi)


def _part(rng: random.Random, prm: Params, lo: int, hi: int, least: int = 1) -> int:
    cap = min(prm.get("max_row") or 33, 33)
    return rng.randint(max(least, lo * cap // 33), max(least, hi * cap // 33))


def _colour(rng: random.Random, avoid: tuple[int, ...] = ()) -> int:
    return rng.choice([c for c in COLOURS if c not in avoid])


def _place(n: int, parts: list[tuple[int, list[int]]]) -> list[int]:
    x = [0] * n
    for start, pixels in parts:
        x[start : start + len(pixels)] = pixels
    return x


def _block_with_pivot(rng, prm, p, n_lo, n_hi, gap_lo, gap_hi, pivot_right=True):
    """A block, a gap and a pivot pixel of colour p (pivot_right: the pivot lies right of the block)."""
    n = _n(rng, prm, n_lo, n_hi)
    gap = min(rng.randint(gap_lo, gap_hi), n - 3)
    width = rng.randint(1, max(1, min(n - gap - 2, n // 2)))
    c = _colour(rng, (p,))
    start = rng.randint(0, n - width - gap - 1)
    q = start + width + gap
    x = _place(n, [(start, [c] * width), (q, [p])])
    return x if pivot_right else x[::-1]


def _move_input(rng, prm):
    n = _n(rng, prm, 7, 30)
    width = rng.randint(1, n - prm["k"] - 1)
    start = rng.randint(0, n - width - prm["k"])
    return _place(n, [(start, [_colour(rng)] * width)])


def _mirror_input(rng, prm):
    n = _n(rng, prm, 12, 32)
    width, gap = rng.randint(1, (n - 3) // 2), rng.randint(1, 3)
    if 2 * (width + gap) + 1 > n:
        width = (n - 1) // 2 - gap
    start = rng.randint(0, n - 2 * (width + gap) - 1)
    x = _place(n, [(start, [_colour(rng, (prm["p"],))] * width), (start + width + gap, [prm["p"]])])
    return x if rng.random() < 0.5 else x[::-1]


def _fill_input(rng, prm, pairs, n_lo, n_hi):
    n = _n(rng, prm, n_lo, n_hi)
    c = _colour(rng)
    span = rng.randint(3, max(3, n // pairs - 1))
    x = [0] * n
    pos = rng.randint(0, n - pairs * (span + 1))
    for _ in range(pairs):
        x[pos], x[pos + span - 1] = c, c
        pos += span + rng.randint(1, 2)
        if pos + span > n:
            break
    return x


def _blocks_input(rng, prm, n_lo, n_hi, sizes, count_lo, count_hi, colour=None):
    """Several same-coloured blocks separated by gaps of 1-3 pixels."""
    n = _n(rng, prm, n_lo, n_hi)
    c = colour or _colour(rng)
    x, pos = [0] * n, rng.randint(0, 2)
    for _ in range(rng.randint(count_lo, count_hi)):
        w = rng.choice(sizes)
        if pos + w > n:
            break
        x[pos : pos + w] = [c] * w
        pos += w + rng.randint(1, 3)
    return x


def _denoise_input(rng, prm):
    n = _n(rng, prm, 32, 33)
    c = _colour(rng)
    width = _part(rng, prm, 8, 16, least=3)
    start = rng.randint(1, n - width - 1)
    x = _place(n, [(start, [c] * width)])
    for _ in range(rng.randint(2, 5)):
        i = rng.randrange(n)
        if all(0 <= j < n and (j < start - 1 or j > start + width) for j in (i,)):
            if (i == 0 or x[i - 1] == 0) and (i == n - 1 or x[i + 1] == 0):
                x[i] = c
    return x


def _denoise_mc_input(rng, prm):
    n = _n(rng, prm, 32, 33)
    c = _colour(rng)
    width = _part(rng, prm, 10, 22, least=4)
    start = rng.randint(0, n - width)
    x = _place(n, [(start, [c] * width)])
    for _ in range(rng.randint(1, 4)):
        x[rng.randint(start + 1, start + width - 2)] = _colour(rng, (c,))
    return x


def _pcopy_input(rng, prm, multicolour):
    n = _n(rng, prm, 32, 33)
    c = _colour(rng)
    x = _place(n, [(rng.randint(0, 2), [c] * 3)])
    pos = 5
    for _ in range(rng.randint(1, 4)):
        pos += rng.randint(2, 5)
        if pos + 2 >= n:
            break
        x[pos] = _colour(rng) if multicolour else c
        pos += 2
    return x


def _flip_input(rng, prm):
    n = _n(rng, prm, 9, 32)
    width = rng.randint(3, n - 2)
    start = rng.randint(0, n - width)
    c, d = _colour(rng), 0
    d = _colour(rng, (c,))
    block = [d] + [c] * (width - 1)
    return _place(n, [(start, block if rng.random() < 0.5 else block[::-1])])


def _hollow_input(rng, prm):
    n = _n(rng, prm, 8, 31)
    width = rng.randint(3, n - 1)
    return _place(n, [(rng.randint(0, n - width), [_colour(rng)] * width)])


def _distinct(rng, k):
    return rng.sample(COLOURS, k)


def _cmp_input(rng, prm):
    while True:
        x = _blocks_input(rng, prm, 17, 33, list(range(1, 8)), 3, 6, prm["src"])
        lens = sorted((e - s for s, e, _ in _runs(x)), reverse=True)
        if len(lens) >= 2 and lens[0] > lens[1]:
            return x


def _runs(x):
    out, i = [], 0
    while i < len(x):
        if x[i] == 0:
            i += 1
            continue
        j = i
        while j < len(x) and x[j] == x[i]:
            j += 1
        out.append((i, j, x[i]))
        i = j
    return out


def _two(rng, key_a="a", key_b="b"):
    a, b, src = _distinct(rng, 3)
    return {key_a: a, key_b: b, "src": src}


CONCEPTS: list[Concept] = [
    Concept("denoising_1c", "denoise", lambda r: {}, _denoise_input),
    Concept("denoising_mc", "denoise_inside", lambda r: {}, _denoise_mc_input),
    Concept("fill", "fill", lambda r: {}, lambda r, p: _fill_input(r, p, 1, 8, 31)),
    Concept("flip", "flip", lambda r: {}, _flip_input),
    Concept("hollow", "hollow", lambda r: {}, _hollow_input),
    Concept("mirror", "mirror", lambda r: {"p": 9}, _mirror_input),
    Concept("move_1p", "move", lambda r: {"k": 1, "dir": "right"}, _move_input),
    Concept("move_2p", "move", lambda r: {"k": 2, "dir": "right"}, _move_input),
    Concept("move_2p_dp", "move_towards_pivot", lambda r: {"k": 2, "p": 9},
            lambda r, p: _block_with_pivot(r, p, p["p"], 7, 30, 2, 2, r.random() < 0.5)),
    Concept("move_3p", "move", lambda r: {"k": 3, "dir": "right"}, _move_input),
    Concept("move_dp", "move_to_pivot", lambda r: {"p": _colour(r)},
            lambda r, p: _block_with_pivot(r, p, p["p"], 7, 30, 1, 8, r.random() < 0.5)),
    Concept("padded_fill", "fill", lambda r: {}, lambda r, p: _fill_input(r, p, 3, 24, 93)),
    Concept("pcopy_1c", "pattern_copy", lambda r: {}, lambda r, p: _pcopy_input(r, p, False)),
    Concept("pcopy_mc", "pattern_copy", lambda r: {}, lambda r, p: _pcopy_input(r, p, True)),
    Concept("recolor_cmp", "recolour_longest", lambda r: _two(r, "a", "unused"), _cmp_input),
    Concept("recolor_cnt", "recolour_size", lambda r: dict(zip(("a", "b", "c", "src"), _distinct(r, 4), strict=False)),
            lambda r, p: _blocks_input(r, p, 12, 33, [1, 2, 3], 3, 7, p["src"])),
    Concept("recolor_oe", "recolour_parity", _two,
            lambda r, p: _blocks_input(r, p, 13, 33, list(range(1, 8)), 2, 5, p["src"])),
    Concept("scale_dp", "scale_to_pivot", lambda r: {"p": _colour(r)},
            lambda r, p: _block_with_pivot(r, p, p["p"], 7, 30, 1, 8, r.random() < 0.5)),
]


_BY_NAME = {c.name: c for c in CONCEPTS}


def _draw(rng: random.Random, concept: str, max_row: int | None = None):
    c = _BY_NAME[concept]
    template = next(t for t in TEMPLATES if t.name == c.rule)
    params = c.params(rng)
    rule = template.instantiate(NAME, {k: v for k, v in params.items() if k in template.space})
    shape = {**params, "max_row": max_row} if max_row else params
    return rule, lambda r: c.make_input(r, shape)


FAMILY = ListFamily(NAME, TEMPLATES, [c.name for c in CONCEPTS], _draw, n_seen=3, n_unseen=1, must_change=True)
