"""Test doubles implementing the search protocols: scripted rules with known scores.

A rule text ``"rule k ..."`` is followed correctly on the first ``k`` seen examples of its task and
wrongly on the rest, so every rule's score is known in advance.
"""

from __future__ import annotations

from redistill.llm.types import Usage
from redistill.search.types import Answer, ApplyRequest, Hypothesis, Proposal
from redistill.tasks.model import Example, Task


def make_task(task_id: int, n_seen: int = 4, suite: str = "list_func", answer_type: str = "list") -> Task:
    train = [Example(f"[{task_id}, {i}]", f"[{i}, {task_id}]") for i in range(n_seen)]
    return Task(task_id, suite, train, [Example("[9]", "[9]")], answer_type=answer_type)


def rule_level(text: str) -> int:
    return int(text.split()[1])


class ScriptedProposer:
    """Proposes ``script[task_id]`` (cycled to n samples); counts calls and tokens like a real backend."""

    name = "scripted"

    def __init__(self, script: dict[int, list[str]]):
        self.script = script
        self.calls: list[list[object]] = []
        self._usage = Usage()

    def propose(self, tasks: list[Task], n: int) -> list[Proposal]:
        self.calls.append([t.id for t in tasks])
        out = []
        for t in tasks:
            texts = self.script[t.id]
            out.append(Proposal([Hypothesis(texts[i % len(texts)]) for i in range(n)], usage=Usage(20, 5 * n), calls=1))
            self._usage = self._usage + Usage(20, 5 * n)
        return out

    def usage(self) -> Usage:
        return self._usage


class ScriptedFollower:
    """Answers correctly for ``rule k`` on the first k seen examples; 10 prompt + 3 completion tokens each."""

    name = "scripted"

    def __init__(self) -> None:
        self.requests: list[tuple[object, str, object]] = []
        self._usage = Usage()

    def apply(self, requests: list[ApplyRequest]) -> list[Answer]:
        out = []
        for r in requests:
            self.requests.append((r.task.id, r.hypothesis.text, r.input))
            index = next(i for i, ex in enumerate(r.task.train) if ex.input == r.input)
            gold = r.task.train[index].output
            response = gold if index < rule_level(r.hypothesis.text) else "[-1]"
            prompt = [{"role": "user", "content": f"{r.hypothesis.text}\nInput: {r.input}"}]
            out.append(Answer(response, prompt, Usage(10, 3), calls=1))
            self._usage = self._usage + Usage(10, 3)
        return out

    def usage(self) -> Usage:
        return self._usage


def scored_record(task_id: int, suite: str, rules: list[str], n_seen: int = 4, answer_type: str = "list") -> dict:
    """An augment line as augment writes it, with the scripted follower's known scores."""
    from redistill.distill.augment import AugmentParams, rule_prompt, task_record
    from redistill.prompts import Prompts
    from redistill.search.scoring import propose_and_score

    task = make_task(task_id, n_seen, suite, answer_type)
    scored = propose_and_score([task], ScriptedProposer({task_id: rules}), ScriptedFollower(), len(rules))[0]
    params = AugmentParams(hypotheses=len(rules))
    usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    return task_record(task, scored, "test:teacher", params, rule_prompt(Prompts(), task, "llm"), usage)
