"""A scripted teacher behind ``FakeOpenAIServer``: rules with known scores, applications with known answers.

Task ``t`` has seen inputs ``[t, i]`` with outputs ``[i, t]``. Its rule-generation request (``n``
choices) answers with ``SCRIPT[t]`` cycled to ``n``. A rule ``"rule k NAME"`` applied to seen input
``i`` answers right (``[i, t]``) when ``i < k`` and ``[-1]`` otherwise, so its score is ``min(k, 4)``.

``answered`` logs every request the server really answered as (body without ``n``, choices): the
request log keyed by body + sample slot. ``hold_after`` makes every request after that many
block until ``release()``; requests released after ``drop()`` are not logged as answered (their
client is gone).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from redistill.jsonl import read_jsonl
from tests.cli_runner import run
from tests.openai_server import FakeOpenAIServer

SCRIPT = {
    0: ["rule 4 a", "rule 0 b", "rule 1 c", "rule 4 a"],
    1: ["rule 2 a", "rule 2 b"],
    2: ["rule 4 a", "rule 0 b", "rule 0 c", "rule 3 d"],
    3: ["rule 0 a"],
    4: ["rule 4 x", "rule 4 y", "rule 0 z", "rule 1 w"],
}
N_SEEN = 4
_INPUT = re.compile(r"^Input: \[(\d+), (\d+)\]$", re.M)


def write_tasks(path: Path) -> Path:
    """The scripted tasks as a list_func JSONL file (published layout)."""
    rows = [{"idx": t, "train": [{"input": f"[{t}, {i}]", "output": f"[{i}, {t}]"} for i in range(N_SEEN)],
             "test": [{"input": f"[{t}, 9]", "output": f"[9, {t}]"}]} for t in SCRIPT]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def body_key(body: dict) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "n"}, sort_keys=True)


class ScriptedTeacher:
    def __init__(self, hold_after: int | None = None):
        self.hold_after = hold_after
        self.answered: list[tuple[str, int]] = []
        self.held = 0
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self._dropped = False

    def __call__(self, body: dict) -> list[str]:
        with self._lock:
            hold = self.hold_after is not None and len(self.answered) + self.held >= self.hold_after
            self.held += hold
        if hold:
            self._gate.wait(60)
        texts = self.respond(body)
        with self._lock:
            if not (hold and self._dropped):
                self.answered.append((body_key(body), len(texts)))
        return texts

    @staticmethod
    def respond(body: dict) -> list[str]:
        content = body["messages"][-1]["content"]
        if "Reply with the rule only." in content:  # rule generation: n scripted rules
            task = int(_INPUT.search(content).group(1))
            rules = SCRIPT[task]
            return [rules[i % len(rules)] for i in range(int(body.get("n") or 1))]
        rule, line = content.rstrip("\n").split("\n")[-2:]  # rule application: "...\n\nRULE\nInput: [t, i]"
        task, i = map(int, _INPUT.match(line).groups())
        return [f"[{i}, {task}]" if i < int(rule.split()[1]) else "[-1]"]

    def drop(self) -> None:
        """The client died: requests still held are released unanswered."""
        with self._lock:
            self._dropped = True
        self._gate.set()

    def answered_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key, n in self.answered:
            counts[key] = counts.get(key, 0) + n
        return counts


def augment_args(url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["augment", "--teacher", f"openai:teacher@{url}", "--suite", "list_func", "--data", str(data),
            "--split", "all", "--hypotheses", "4", "--rule-temperature", "0.8", "--apply-temperature", "0.3",
            "--max-tokens", "40", "--chunk-size", "1", "--concurrency", "2", "--out", str(out), *extra]


def without_usage(rows: list[dict]) -> list[dict]:
    """Records minus ``usage``: the spend of the run that wrote them (cache hits are free), not of the data."""
    return [{k: v for k, v in r.items() if k != "usage"} for r in rows]


def serve(server: FakeOpenAIServer, teacher: ScriptedTeacher) -> ScriptedTeacher:
    server.responder = teacher
    server.requests.clear()
    return teacher


def reference_run(server: FakeOpenAIServer, tmp: Path) -> dict:
    """One uninterrupted augment into ``tmp``: its records and the server's request log."""
    data = write_tasks(tmp / "tasks.jsonl")
    teacher = serve(server, ScriptedTeacher())
    assert run(augment_args(server.url, data, tmp / "run", "--cache-dir", str(tmp / "cache"))) == 0
    return {"data": data, "run": tmp / "run", "cache": tmp / "cache", "teacher": teacher,
            "bodies": list(server.requests), "rows": read_jsonl(tmp / "run" / "augment" / "list_func.jsonl")}
