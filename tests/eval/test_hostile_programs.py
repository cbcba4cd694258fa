"""Issue 11: a hostile teacher answers rule prompts with crafted programs; ``redistill eval --follower
python`` runs them with ``OPENAI_API_KEY`` set. Nothing may escape the sandbox, each attack is a miss,
and honest programs score exactly as under the old guard.

The eval runs as a real subprocess (so ``/proc/<pid>/environ`` of the redistill process holds the
key), against a loopback OpenAI-compatible teacher. A control run with ``--unsafe-sandbox`` (the old
in-process guard) shows that the escaping attacks are real: there they succeed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redistill.eval.report import label_of
from redistill.jsonl import read_jsonl
from tests.openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
REVERSE = "return x[::-1]"


def attacks(host: Path, home: Path, victim: int, port: int) -> dict[str, str]:
    """Hostile programs: each attacks, then (had the attack worked) answers the task right. In this order,
    with two workers, the loops fall to different ones and the poisoning of ``sorted`` to its victim's."""
    return {
        # the escapes from the old guard ----------------------------------------------------
        "fork_exec_sh": f"""
            import _posixsubprocess, os, sys
            def transform(x):
                r, w = os.pipe()
                argv = [b"/bin/sh", b"-c", b"touch {host}/fork_exec"]
                since_311 = (-1,) if sys.version_info >= (3, 11) else ()  # process_group (and allow_vfork below)
                pid = _posixsubprocess.fork_exec(argv, [b"/bin/sh"], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                                 r, w, True, False, *since_311, None, None, None, -1, None,
                                                 *(True,) * len(since_311))
                os.waitpid(pid, 0)
                {REVERSE}""",
        "parent_environ": """
            import os
            def transform(x):
                found = []
                for pid in [str(os.getppid())] + os.listdir("/proc"):
                    try:
                        data = open(f"/proc/{pid}/environ", "rb").read()
                    except OSError:
                        continue
                    found += [v.decode() for v in data.split(b"\\0") if v.startswith(b"OPENAI_API_KEY=")]
                if not found:
                    raise LookupError("no key found")
                return found""",
        "dir_fd_write": f"""
            import os
            def transform(x):
                fd = os.open("{host}", os.O_RDONLY | os.O_DIRECTORY)
                os.close(os.open("dir_fd", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
                {REVERSE}""",
        "sqlite_write": f"""
            import sqlite3
            def transform(x):
                sqlite3.connect("{host}/sqlite.db").execute("create table t (a)")
                {REVERSE}""",
        "mkfifo": f"""
            import os
            def transform(x):
                os.mkfifo("{host}/fifo")
                {REVERSE}""",
        "pidfd_kill": f"""
            import os, signal
            def transform(x):
                signal.pidfd_send_signal(os.pidfd_open({victim}), signal.SIGKILL)
                {REVERSE}""",
        "honest_reverse": f"""
            def transform(x):
                {REVERSE}""",
        "forge_next_result": """
            import gc, json, os, sys
            def transform(x):
                nonces = [o["nonce"] for o in gc.get_objects() if isinstance(o, dict) and "nonce" in o]
                nonces += [a for a in sys.argv if len(a) >= 16]  # the old worker's token was an argument
                forged = b"".join(b"\\n" + n.encode() + json.dumps({"i": i, "out": ["[999]"] * 9}).encode() + b"\\n"
                                  for n in nonces for i in range(20))
                os.write(1, forged)
                with open("/proc/1/fd/1", "wb") as parent_channel:
                    parent_channel.write(forged)
                return [999]""",
        "honest_sorted": """
            def transform(x):
                return sorted(x, key=x.index, reverse=True)""",
        "infinite_loop": f"""
            def transform(x):
                while True:
                    pass
                {REVERSE}""",
        "replace_sorted": """
            import builtins
            def transform(x):
                builtins.sorted = lambda *a, **k: [999]
                return sorted(x)""",
        "honest_sorted_after": """
            def transform(x):
                return sorted(x, key=x.index, reverse=True)""",
        "thread": f"""
            import threading
            def transform(x):
                threading.Thread(target=lambda: None).start()
                {REVERSE}""",
        # beyond the list ------------------------------------------------------------------
        "read_home": f"""
            def transform(x):
                return [open("{home}/secret.txt").read()]""",
        "network_loopback": f"""
            import socket
            def transform(x):
                socket.create_connection(("127.0.0.1", {port}), timeout=1).sendall(b"escaped")
                {REVERSE}""",
        "fork_loop": f"""
            import os, time
            def transform(x):
                for _ in range(16):
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                {REVERSE}""",
        "alloc_4gb": f"""
            def transform(x):
                block = bytearray(4 << 30)
                {REVERSE}""",
        "honest_scratch_file": """
            def transform(x):
                open("scratch.txt", "w").write(repr(x))
                return eval(open("scratch.txt").read())[::-1]""",
        "swallows_timeout": f"""
            def transform(x):
                while True:
                    try:
                        while True:
                            pass
                    except BaseException:
                        pass
                {REVERSE}""",
        "honest_wrong": """
            def transform(x):
                return list(x)""",
    }


HONEST = {"honest_reverse": 1.0, "honest_sorted": 1.0, "honest_sorted_after": 1.0, "honest_scratch_file": 1.0,
          "honest_wrong": 0.0}
ESCAPES_OLD_GUARD = ["fork_exec_sh", "parent_environ", "dir_fd_write", "sqlite_write", "mkfifo", "pidfd_kill"]


def write_tasks(path: Path, ids: list[int]) -> Path:
    """Task t: reverse the list; its inputs start with t, so the teacher knows which program to send."""
    rows = [{"idx": t, "train": [{"input": f"[{t}, 1, 2]", "output": f"[2, 1, {t}]"}],
             "test": [{"input": f"[{t}, 5]", "output": f"[5, {t}]"}]} for t in ids]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class HostileTeacher:
    """Answers the program prompt of task t with ``programs[names[t]]``."""

    def __init__(self, names: list[str]):
        self.names, self.programs = names, {}

    def __call__(self, body: dict) -> list[str]:
        t = int(re.search(r"Input: \[(\d+),", body["messages"][-1]["content"]).group(1))
        src = textwrap.dedent(self.programs[self.names[t]]).strip()
        return [f"```python\n{src}\n```"] * int(body.get("n") or 1)


def run_eval(url: str, tasks: Path, out: Path, home: Path, key: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    env |= {"OPENAI_API_KEY": key, "HOME": str(home), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    cmd = [sys.executable, "-m", "redistill", "eval", "--model", f"openai:teacher@{url}", "--suite", "list_func",
           "--data", str(tasks), "--split", "all", "--follower", "python", "--hypotheses", "1", "--no-cache",
           "--out", str(out), *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)


def outcomes(out: Path, names: list[str]) -> dict[str, dict]:
    """Each program's eval row (task t ran program ``names[t]``)."""
    rows = read_jsonl(out / "list_func.jsonl")
    return {names[int(r["task"])]: r for r in rows}


def score(row: dict) -> float:
    """Share right over the seen example and the unseen one."""
    rule = row["rules"][0]
    return (rule["score"] + sum(row["correct"])) / (row["seen"] + len(row["correct"]))


@pytest.fixture
def victims():
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        procs.append(subprocess.Popen(["sleep", "300"]))
        return procs[-1]

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_hostile_programs_escape_nothing_and_miss(tmp_path, victims):
    key = "sk-test-" + secrets.token_hex(20)
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("the user's secret")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    host, victim = tmp_path / "host", victims()
    host.mkdir()
    names = list(attacks(host, home, victim.pid, 0))
    teacher = HostileTeacher(names)
    teacher.programs = attacks(host, home, victim.pid, listener.getsockname()[1])
    tasks = write_tasks(tmp_path / "tasks.jsonl", list(range(len(names))))

    with FakeOpenAIServer(responder=teacher) as server:
        out = tmp_path / "sandboxed"
        done = run_eval(server.url, tasks, out, home, key)
        assert done.returncode == 0, done.stderr[-3000:]

        # nothing escaped
        assert sorted(p.name for p in host.iterdir()) == []
        assert victim.poll() is None, "the victim process was killed"
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
        for path in out.rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                assert key not in text, path
                assert "the user's secret" not in text, path
        assert key not in done.stdout + done.stderr

        # every attack is a miss; honest programs score as they should
        results = outcomes(out, names)
        assert set(results) == set(names)
        for name, row in results.items():
            assert score(row) == HONEST.get(name, 0.0), (name, row["rules"][0])
        for name in ("infinite_loop", "swallows_timeout"):
            assert "timed out" in json.dumps(results[name]), name
        assert "memory limit" in json.dumps(results["alloc_4gb"])

        # the old guard scores the honest programs the same (run alone: there the attacks leak into them)
        honest = [t for t, n in enumerate(names) if n in HONEST]
        old = run_eval(server.url, write_tasks(tmp_path / "honest.jsonl", honest), tmp_path / "old-guard", home, key,
                       "--unsafe-sandbox")
        assert old.returncode == 0, old.stderr[-3000:]
        assert "--unsafe-sandbox" in old.stderr  # the warning, on every run
        old_results = outcomes(tmp_path / "old-guard", names)
        assert set(old_results) == set(HONEST)
        for name in HONEST:
            assert old_results[name]["rules"] == results[name]["rules"], name
            assert old_results[name]["predictions"] == results[name]["predictions"], name
        config = json.loads((tmp_path / "old-guard" / "config.json").read_text())
        assert config["unsafe_sandbox"] is True
        assert json.loads((tmp_path / "old-guard" / "summary.json").read_text())["list_func"]["unsafe_sandbox"] is True
        assert label_of(config) == "search/python · teacher (unsafe sandbox)"
        assert json.loads((out / "config.json").read_text())["unsafe_sandbox"] is False

        # control: under the old guard the attacks do escape, so the checks above are real
        control_host, control_victim = tmp_path / "control-host", victims()
        control_host.mkdir()
        teacher.programs = attacks(control_host, home, control_victim.pid, 0)
        control = run_eval(server.url, write_tasks(tmp_path / "control.jsonl", [names.index(n) for n in ESCAPES_OLD_GUARD]),
                           tmp_path / "control", home, key, "--unsafe-sandbox")
        assert control.returncode == 0, control.stderr[-3000:]
        assert {"fork_exec", "dir_fd", "sqlite.db", "fifo"} <= {p.name for p in control_host.iterdir()}
        assert control_victim.wait(timeout=10) == -9
        assert key in (tmp_path / "control" / "list_func.jsonl").read_text()
