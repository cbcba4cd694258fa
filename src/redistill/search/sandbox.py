"""Run model-written python programs on many inputs in sandboxed worker processes.

Programs are never executed in-process. Jobs are split into a few chunks, one worker process per
chunk (``python -I``, cwd in a fresh temp dir, resource limits and an audit hook: see
``sandbox_worker.py``). A worker streams one result line per job; when it dies or misses a job's
deadline it is killed, that job becomes an error response and a new worker resumes after it.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

WORKER_SOURCE = (Path(__file__).parent / "sandbox_worker.py").read_text(encoding="utf-8")
STARTUP_S = 10.0
"""Allowance for a worker's interpreter start before its first job's deadline begins."""


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _run_chunk(programs: list[str], jobs: list[tuple[int, Any]], timeout_s: float, memory_mb: int) -> list[str]:
    """Results of one chunk of jobs, restarting the worker after each crash or timeout."""
    results: list[str | None] = [None] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="redistill-sandbox-") as tmp:
        jobs_path = Path(tmp) / "jobs.json"
        jobs_path.write_text(json.dumps({"programs": programs, "jobs": jobs}), encoding="utf-8")
        work = Path(tmp) / "work"
        work.mkdir()
        nxt = 0
        while nxt < len(jobs):
            nxt = _run_worker(jobs_path, work, nxt, len(jobs), results, timeout_s, memory_mb)
    return [r if r is not None else "error: no result" for r in results]


def _run_worker(
    jobs_path: Path, cwd: Path, start: int, total: int, results: list, timeout_s: float, memory_mb: int
) -> int:
    """Run one worker from job ``start``; returns the index where the next worker must start."""
    nonce = secrets.token_hex(8)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    proc = subprocess.Popen(
        [sys.executable, "-I", "-c", WORKER_SOURCE, str(jobs_path), str(start), nonce, str(timeout_s),
         str(memory_mb)],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    prefix = nonce.encode()
    nxt, buf = start, b""
    deadline = time.monotonic() + STARTUP_S + timeout_s + 1.0
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    fd = proc.stdout.fileno()
    try:
        while nxt < total:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                results[nxt] = f"error: timed out after {timeout_s:g}s"
                return nxt + 1
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the worker died (crash, CPU limit, os._exit...)
                results[nxt] = "error: the program crashed the sandbox process"
                return nxt + 1
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if not line.startswith(prefix):
                    continue  # something the program wrote to the real stdout
                try:
                    msg = json.loads(line[len(prefix):])
                except json.JSONDecodeError:
                    continue
                if msg.get("i") == nxt:
                    results[nxt] = str(msg.get("out", ""))
                    nxt += 1
                    deadline = time.monotonic() + timeout_s + 1.0
        return nxt
    finally:
        sel.close()
        _kill(proc)
        proc.stdout.close()


def run_programs(
    calls: list[tuple[str, Any]], timeout_s: float = 2.0, memory_mb: int = 512, workers: int | None = None
) -> list[str]:
    """For each ``(program source, input)`` the response: ``str(output list)`` or ``"error: ..."``.

    The input is a python value or its literal text (``"[1, 2]"``); the program must define ``transform``.
    """
    if not calls:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(calls)))
    size = -(-len(calls) // workers)
    chunks = [calls[i : i + size] for i in range(0, len(calls), size)]

    def run(chunk: list[tuple[str, Any]]) -> list[str]:
        index: dict[str, int] = {}
        jobs = [(index.setdefault(src, len(index)), value) for src, value in chunk]
        return _run_chunk(list(index), jobs, timeout_s, memory_mb)

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        return [r for part in pool.map(run, chunks) for r in part]
