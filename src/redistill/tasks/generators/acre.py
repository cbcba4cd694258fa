"""ACRE: blicket-detector tasks, their exact labeller, and the ACRE rule interpreter.

Under the disjunctive rule the detector lights up ("on") when at least one blicket is on it. The
seen panels pin down a rule of this shape, which is all a query's label depends on:

    Blickets: A. Not blickets: B; C. At least one of D; E is a blicket. Every other object is undetermined.

A query is ``on`` if it is on under every blicket assignment the rule allows, ``off`` if off under
all, else ``undetermined``: the published labelling, computed by enumeration.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass

from redistill.tasks.generators.library import Rule, normalise_text
from redistill.tasks.model import Example, Task

NAME = "acre"
COLOURS = ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow")
MATERIALS = ("metal", "rubber")
SHAPES = ("cube", "sphere", "cylinder")
OBJECTS = tuple(f"{c} {m} {s}" for c in COLOURS for m in MATERIALS for s in SHAPES)
TYPE_WEIGHTS = {"direct": 0.375, "indirect": 0.1, "screen_off": 0.26, "potential": 0.265}


@dataclass(frozen=True)
class BlicketRule:
    blickets: frozenset[str]
    not_blickets: frozenset[str]
    clauses: tuple[frozenset[str], ...] = ()
    """Each clause: at least one of these objects is a blicket."""

    def text(self) -> str:
        def names(objs) -> str:
            return "; ".join(sorted(objs)) or "none"

        parts = [f"Blickets: {names(self.blickets)}.", f"Not blickets: {names(self.not_blickets)}."]
        parts += [f"At least one of {names(c)} is a blicket." for c in sorted(self.clauses, key=sorted)]
        parts.append("Every other object is undetermined.")
        return " ".join(parts)

    def program(self) -> str:
        return json.dumps({"blickets": sorted(self.blickets), "not_blickets": sorted(self.not_blickets),
                           "at_least_one": [sorted(c) for c in sorted(self.clauses, key=sorted)]})

    def to_rule(self, name: str = "blicket_rule") -> Rule:
        params = {"blickets": len(self.blickets), "clauses": len(self.clauses)}
        return Rule(NAME, name, params, self.text(), self.program())

    def label(self, query: list[str]) -> str:
        """on / off / undetermined by enumerating the blicket assignments the rule allows."""
        q = set(query)
        if q & self.blickets:
            return "on"
        free = sorted((q | set().union(*self.clauses)) - self.blickets - self.not_blickets)
        clauses = [c - self.not_blickets for c in self.clauses if not c & self.blickets]
        outcomes = set()
        for bits in itertools.product((False, True), repeat=len(free)):
            chosen = {o for o, b in zip(free, bits, strict=False) if b}
            if all(c & chosen for c in clauses):
                outcomes.add(bool(q & chosen))
                if len(outcomes) == 2:
                    return "undetermined"
        if not outcomes:
            return "undetermined"  # the rule contradicts itself
        return "on" if outcomes == {True} else "off"


def derive_rule(panels: list[tuple[list[str], str]]) -> BlicketRule:
    """The rule the panels determine: off panels clear their objects; on panels need a blicket."""
    off = {o for objs, label in panels if label == "off" for o in objs}
    clauses = {frozenset(set(objs) - off) for objs, label in panels if label == "on"}
    blickets = {next(iter(c)) for c in clauses if len(c) == 1}
    # sorted: a set's order follows the per-process string hash, and the order reaches the rule text
    rest = tuple(sorted((c for c in clauses if len(c) > 1 and not c & blickets), key=sorted))
    # a clause that contains another adds nothing
    rest = tuple(c for c in rest if not any(d < c for d in rest))
    return BlicketRule(frozenset(blickets), frozenset(off), rest)


def label_queries(seen: list[Example], queries: list[list[str]]) -> list[str]:
    """The labeller: each query's label from the seen panels alone."""
    rule = derive_rule([(list(e.input), e.output) for e in seen])
    return [rule.label(q) for q in queries]


def parse_rule(text: str) -> BlicketRule | None:
    """A rule in the canonical text form (case and spacing free), else None."""
    sentences = [s.strip() for s in normalise_text(text).split(".") if s.strip()]
    if len(sentences) < 3 or sentences[-1] != "every other object is undetermined":
        return None

    def objs(part: str) -> frozenset[str] | None:
        names = [" ".join(n.split()) for n in part.split(";")]
        if names == ["none"]:
            return frozenset()
        return frozenset(names) if all(n in OBJECTS for n in names) else None

    if not (sentences[0].startswith("blickets:") and sentences[1].startswith("not blickets:")):
        return None
    blickets, not_blickets = objs(sentences[0][9:]), objs(sentences[1][13:])
    clauses = []
    for s in sentences[2:-1]:
        if not (s.startswith("at least one of ") and s.endswith(" is a blicket")):
            return None
        clause = objs(s[16:-13])
        if not clause:
            return None
        clauses.append(clause)
    if blickets is None or not_blickets is None:
        return None
    return BlicketRule(blickets, not_blickets, tuple(clauses))


def _variants(rule: BlicketRule) -> list[BlicketRule]:
    """Near misses of a rule: one object's status changed, or one clause dropped or hardened."""
    out = []
    for o in sorted(rule.blickets):
        out.append(BlicketRule(rule.blickets - {o}, rule.not_blickets | {o}, rule.clauses))
    for o in sorted(rule.not_blickets):
        out.append(BlicketRule(rule.blickets | {o}, rule.not_blickets - {o}, rule.clauses))
    for i, c in enumerate(rule.clauses):
        others = rule.clauses[:i] + rule.clauses[i + 1 :]
        out.append(BlicketRule(rule.blickets, rule.not_blickets, others))
        out.append(BlicketRule(rule.blickets | c, rule.not_blickets, others))
    return out


class AcreFamily:
    name = NAME
    concepts = ["one_blicket", "two_blickets", "three_blickets"]
    n_seen, n_unseen = 6, 4

    def lookup(self, text: str) -> Rule | None:
        rule = parse_rule(text)
        return rule.to_rule() if rule is not None else None

    def apply(self, rule: Rule, value) -> str | None:
        parsed = parse_rule(rule.text)
        if parsed is None or not isinstance(value, list):
            return None
        return parsed.label(value)

    def candidates(self, task: Task) -> list[Rule]:
        exact = derive_rule([(list(e.input), e.output) for e in task.train])
        naive = BlicketRule(frozenset(o for e in task.train if e.output == "on" for o in e.input)
                            - {o for e in task.train if e.output == "off" for o in e.input},
                            frozenset(o for e in task.train if e.output == "off" for o in e.input))
        rules = [exact, *_variants(exact), naive, BlicketRule(exact.blickets, exact.not_blickets)]
        return [r.to_rule() for r in dict.fromkeys(rules)]

    def check(self, task: Task) -> list[str]:
        labels = label_queries(task.train, [list(e.input) for e in task.test])
        return [] if labels == [e.output for e in task.test] else ["unseen labels not determined by the seen panels"]

    def make_task(self, rng: random.Random, concept: str, task_id, novel: bool = False) -> Task | None:
        n_blickets = self.concepts.index(concept) + 1
        objects = rng.sample(OBJECTS, rng.randint(6, 9))
        blickets = set(objects[:n_blickets])
        a, b = objects[0], objects[n_blickets]
        truth = lambda objs: "on" if set(objs) & blickets else "off"  # noqa: E731
        habituation = [[a, b], [a], [b]]
        rng.shuffle(habituation)
        for panel in habituation:
            rng.shuffle(panel)
        rest = objects[1:n_blickets] + objects[n_blickets + 1 :]
        evidence = []
        for _ in range(3):
            pool = rest + [a, b] if rng.random() < 0.3 else rest
            evidence.append(rng.sample(pool, rng.randint(1, min(5, len(pool)))))
        panels = habituation + evidence
        train = [Example(p, truth(p)) for p in panels]
        rule = derive_rule([(p, truth(p)) for p in panels])
        in_panels = sorted({o for p in panels for o in p})
        shown = {frozenset(p) for p in panels}
        test: list[Example] = []
        for _ in range(200):
            if len(test) == self.n_unseen:
                break
            want = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
            size = rng.choices((1, 2, 3, 4, 5), weights=(40, 20, 15, 15, 5))[0]
            query = rng.sample(in_panels, min(size, len(in_panels)))
            label = rule.label(query)
            qtype = query_type(panels, [truth(p) for p in panels], query, label)
            if qtype == want and frozenset(query) not in shown:
                shown.add(frozenset(query))
                test.append(Example(query, label, {"type": qtype}))
        if len(test) < self.n_unseen:
            return None
        meta = {"rule": rule.to_rule().to_json(), "concept": concept,
                "true_blickets": sorted(blickets)}
        return Task(task_id, NAME, train, test, meta)


def query_type(panels: list[list[str]], labels: list[str], query: list[str], label: str) -> str:
    """ACRE's query types: potential (undetermined), screen_off (off, but an object was on a lit
    detector), direct (read off a panel), indirect (on only by elimination)."""
    if label == "undetermined":
        return "potential"
    lit = {o for p, lab in zip(panels, labels, strict=False) if lab == "on" for o in p}
    if label == "off":
        return "screen_off" if set(query) & lit else "direct"
    alone_on = {p[0] for p, lab in zip(panels, labels, strict=False) if lab == "on" and len(p) == 1}
    same = any(set(p) == set(query) for p, lab in zip(panels, labels, strict=False) if lab == "on")
    return "direct" if same or set(query) & alone_on else "indirect"


FAMILY = AcreFamily()
