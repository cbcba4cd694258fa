"""MiniSCAN: pseudoword grammars to colour tokens, their generator and the exact interpreter.

A rule is a word -> colour mapping plus function words with a template over their arguments and a
precedence, in this canonical text (the published grammar, with its words):

    pioff means RED. ... x mcneilt means x x x. x voinn y means x y x. x mcnams y means y x.
    mcneilt binds tighter than voinn, and voinn binds tighter than mcnams.

The published suite is one grammar: unary ``x x x`` binding tightest, then ``x y x``, then ``y x``.
``novel`` tasks draw other templates and binary precedences, so training is not a renaming of it.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass

from redistill.tasks.generators.library import Rule, normalise_text
from redistill.tasks.model import Example, Task

NAME = "scan"
COLOURS = ("RED", "BLUE", "GREEN", "YELLOW")
UNARY = ("x x", "x x x", "x x x x")
BINARY = ("x y", "y x", "x y x", "y x y", "x x y", "x y y", "y y x", "y x x")
PUBLISHED = ("x x x", "x y x", "y x")  # unary, higher binary, lower binary
# Role templates of the published items: P primitive, U unary, H higher binary, L lower binary.
SEEN = ["P", "P", "P", "P", "P U", "P U", "P H P", "P H P", "P L P", "P L P", "P U L P", "P L P H P", "P L P U",
        "P H P L P"]
UNSEEN = ["P U", "P H P", "P H P", "P L P", "P L P", "P U L P", "P L P U", "P L P H P", "P H P L P U",
          "P H P L P U"]
_ONSETS = ("p", "s", "sch", "mc", "v", "d", "k", "t", "bl", "fr", "gl", "wh", "qu", "h", "z", "l", "n", "r", "dr")
_NUCLEI = ("i", "u", "o", "a", "e", "ie", "oi", "ua", "oo", "ea", "ue", "ia")
_CODAS = ("ff", "n", "ks", "lt", "nn", "ms", "ss", "rr", "ps", "ck", "", "x", "ts", "m")


@dataclass(frozen=True)
class Grammar:
    words: tuple[tuple[str, str], ...]
    """(pseudoword, colour) pairs."""
    functions: tuple[tuple[str, str], ...]
    """(function word, template over x / y): arity 1 when the template has no y."""
    precedence: tuple[str, ...]
    """Function words, tightest binding first."""

    def text(self) -> str:
        parts = [f"{w} means {c}." for w, c in self.words]
        for w, t in self.functions:
            parts.append(f"x {w} y means {t}." if "y" in t.split() else f"x {w} means {t}.")
        p = self.precedence
        parts.append(", and ".join(f"{a} binds tighter than {b}" for a, b in zip(p, p[1:], strict=False)) + ".")
        return " ".join(parts)

    def program(self) -> str:
        return json.dumps({"words": dict(self.words), "functions": dict(self.functions),
                           "precedence": list(self.precedence)})

    def to_rule(self) -> Rule:
        templates = dict(self.functions)
        params = {"templates": [templates[w] for w in self.precedence]}
        return Rule(NAME, "grammar", params, self.text(), self.program())

    def run(self, sentence: str) -> str | None:
        """The colour tokens of a sentence, or None when it does not parse."""
        out = self._eval(sentence.split())
        return " ".join(out) if out else None

    def _eval(self, tokens: list[str]) -> list[str] | None:
        templates = dict(self.functions)
        ops = [i for i, t in enumerate(tokens) if t in templates]
        if not ops:
            colours = dict(self.words)
            return [colours[tokens[0]]] if len(tokens) == 1 and tokens[0] in colours else None
        rank = {w: r for r, w in enumerate(self.precedence)}
        i = max(ops, key=lambda j: (rank[tokens[j]], j))  # loosest binding, last occurrence
        template = templates[tokens[i]].split()
        x = self._eval(tokens[:i])
        if "y" in template:
            y = self._eval(tokens[i + 1 :])
            if x is None or y is None:
                return None
            return [c for s in template for c in (x if s == "x" else y)]
        if x is None or i != len(tokens) - 1:
            return None
        return [c for _ in template for c in x]


def parse_grammar(text: str) -> Grammar | None:
    """A grammar in the canonical text form (case and spacing free), else None."""
    words, functions, precedence = [], [], None
    for s in (s.strip() for s in normalise_text(text).split(".")):
        if not s:
            continue
        if m := re.fullmatch(r"(\S+) means ([a-z]+)", s):
            words.append((m[1], m[2].upper()))
        elif m := re.fullmatch(r"x (\S+) y means ([xy ]+)", s):
            functions.append((m[1], " ".join(m[2].split())))
        elif m := re.fullmatch(r"x (\S+) means ([x ]+)", s):
            functions.append((m[1], " ".join(m[2].split())))
        elif "binds tighter than" in s:
            pairs = [re.fullmatch(r"(\S+) binds tighter than (\S+)", p.strip()) for p in s.split(", and ")]
            if not all(pairs):
                return None
            precedence = [pairs[0][1]] + [p[2] for p in pairs]
        else:
            return None
    if not words or not functions:
        return None
    names = [w for w, _ in functions]
    if precedence is None and len(names) == 1:
        precedence = names
    if precedence is None or sorted(precedence) != sorted(names):
        return None
    return Grammar(tuple(words), tuple(functions), tuple(precedence))


def _pseudoword(rng: random.Random) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS) for _ in range(rng.randint(1, 2)))


def _sentence(rng: random.Random, roles: str, prims: list[str], u: str, h: str, lo: str) -> str:
    names = {"U": u, "H": h, "L": lo}
    return " ".join(rng.choice(prims) if r == "P" else names[r] for r in roles.split())


class ScanFamily:
    name = NAME
    concepts = ["miniscan"]
    n_seen, n_unseen = len(SEEN), len(UNSEEN)

    def lookup(self, text: str) -> Rule | None:
        g = parse_grammar(text)
        return g.to_rule() if g is not None else None

    def apply(self, rule: Rule, value) -> str | None:
        g = parse_grammar(rule.text)
        return g.run(str(value)) if g is not None else None

    def _options(self, task: Task, word: str, arity_known: bool) -> list[str]:
        """Templates for a function word, those fitting its short seen examples first."""
        short = [e for e in task.train if e.input.split()[1:2] == [word] and len(e.input.split()) <= 3]
        colours = {e.input: e.output for e in task.train if len(e.input.split()) == 1}

        def fits(t: str) -> bool:
            g = Grammar(tuple(colours.items()), ((word, t),), (word,))
            return all(g.run(e.input) == e.output for e in short)

        options = UNARY + BINARY
        good = [t for t in options if fits(t)]  # all of them when no short item shows the word
        return good if arity_known else good + [t for t in options if t not in good]

    def grammars(self, task: Task, exact_only: bool = False) -> list[Grammar]:
        colours = tuple((e.input, e.output) for e in task.train if len(e.input.split()) == 1)
        known = {w for w, _ in colours}
        fwords = sorted({w for e in task.train for w in e.input.split() if w not in known})
        per_word = [self._options(task, w, exact_only)[: None if exact_only else 2] for w in fwords]
        out = []
        for templates in itertools.product(*per_word):
            for order in itertools.permutations(fwords):
                out.append(Grammar(colours, tuple(zip(fwords, templates, strict=False)), order))
        return out

    def candidates(self, task: Task) -> list[Rule]:
        return [g.to_rule() for g in self.grammars(task)]

    def check(self, task: Task) -> list[str]:
        """Every unseen word was seen, and every grammar fitting all seen items agrees on the unseen ones."""
        seen_words = {w for e in task.train for w in e.input.split()}
        if any(w not in seen_words for e in task.test for w in e.input.split()):
            return ["an unseen item uses a word no seen item shows"]
        fitting = [g for g in self.grammars(task, exact_only=True)
                   if all(g.run(e.input) == e.output for e in task.train)]
        answers = {tuple(g.run(e.input) for e in task.test) for g in fitting}
        return [] if len(answers) == 1 else ["unseen outputs not determined by the seen items"]

    def make_task(self, rng: random.Random, concept: str, task_id, novel: bool = False) -> Task | None:
        vocab: list[str] = []
        while len(vocab) < 7:
            w = _pseudoword(rng)
            if w not in vocab and len(w) >= 3:
                vocab.append(w)
        prims, (u, h, lo) = vocab[:4], vocab[4:]
        templates = PUBLISHED
        if novel:
            while templates == PUBLISHED:
                templates = (rng.choice(UNARY), *rng.sample(BINARY, 2))
        g = Grammar(tuple(zip(prims, rng.sample(COLOURS, 4), strict=False)), ((u, templates[0]), (h, templates[1]), (lo, templates[2])),
                    (u, h, lo))
        seen_prims = list(prims)
        train: list[Example] = []
        inputs: set[str] = set()
        for roles in SEEN:
            for _ in range(50):
                s = seen_prims.pop(0) if roles == "P" else _sentence(rng, roles, prims, u, h, lo)
                # two-primitive items use distinct primitives, so the template is visible
                if s not in inputs and len(set(s.split())) == len(s.split()):
                    break
            inputs.add(s)
            train.append(Example(s, g.run(s)))
        test: list[Example] = []
        for roles in UNSEEN:
            for _ in range(50):
                s = _sentence(rng, roles, prims, u, h, lo)
                if s not in inputs:
                    break
            else:
                return None
            inputs.add(s)
            test.append(Example(s, g.run(s)))
        rule = g.to_rule()
        return Task(task_id, NAME, train, test, {"rule": rule.to_json(), "concept": concept, "novel": novel})


FAMILY = ScanFamily()
