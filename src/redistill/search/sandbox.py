"""Run model-written python programs on many inputs inside a bubblewrap sandbox.

Programs never run in this process. The programs of a batch (each with its inputs) are split into a
few chunks, one sandboxed worker per chunk: ``bwrap`` with every namespace unshared (no network, its
own PIDs), an empty environment, uid/gid 65534, read-only binds of ``/usr`` and the Python
installation, and a private size-capped tmpfs as the only writable place. Inside, the worker
(``sandbox_worker.py``) forks a fresh child per program (seccomp and rlimits: no processes or
threads, capped memory, CPU time and file size), so one sandbox start serves many programs while no
state passes from one program to the next.

Programs go one at a time: the next (and its random nonce) is sent only after the previous results
came back, so nothing a program does can forge another's result. A worker that dies or misses a
deadline is killed; that program's inputs become error responses and a new worker takes the rest.

Without bubblewrap, running programs is refused; ``unsafe=True`` (``--unsafe-sandbox``) runs the old
guard instead (every program in one unsandboxed process under an audit hook), and warns.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from redistill.errors import RedistillError

WORKER_SOURCE = (Path(__file__).parent / "sandbox_worker.py").read_text(encoding="utf-8")
STARTUP_S = 10.0
"""Allowance for a worker's start (bubblewrap, interpreter, self-test) before it must say ready."""
GRACE_S = 2.0
"""Past a job's timeout before the parent gives up on the worker (the worker itself kills at +0.5 s)."""
TMPFS_BYTES = 64 << 20
SANDBOX_UID = 65534
INSTALL_HINT = "apt-get install bubblewrap"


class UnsafeSandboxWarning(UserWarning):
    """Programs are about to run without an OS sandbox (``--unsafe-sandbox``)."""


warnings.simplefilter("always", UnsafeSandboxWarning)  # every run says so, not only the first


def _python_dirs() -> list[str]:
    """Folders of the running Python installation that the worker needs, outside /usr."""
    dirs = {sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    dirs = {os.path.realpath(d) for d in dirs}
    outside = sorted(d for d in dirs if d != "/usr" and not d.startswith("/usr/"))
    return [d for d in outside if not any(d.startswith(o + os.sep) for o in outside if o != d)]


@functools.cache
def _bwrap_args() -> tuple[str, ...]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RedistillError(
            "the python follower runs model-written programs inside bubblewrap, which is not installed: "
            f"{INSTALL_HINT} (or pass --unsafe-sandbox to run them unisolated, at your own risk)"
        )
    helptext = subprocess.run([bwrap, "--help"], capture_output=True, text=True).stdout
    args = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--as-pid-1",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--clearenv", "--setenv", "LC_ALL", "C.UTF-8"]
    if "--disable-userns" in helptext:  # bubblewrap >= 0.8: no nested user namespaces
        args.append("--disable-userns")
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for d in _python_dirs():
        args += ["--ro-bind", d, d]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--size", str(TMPFS_BYTES),
             "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp"]
    return tuple(args)


def _command(timeout_s: float, memory_mb: int, unsafe: bool) -> list[str]:
    worker = [os.path.realpath(sys.executable), "-I", "-S", "-c", WORKER_SOURCE, f"{timeout_s:g}", str(memory_mb),
              "1" if unsafe else "0"]
    return worker if unsafe else [*_bwrap_args(), "--", *worker]


class _Worker:
    """One sandboxed worker process and its lockstep protocol (see the module docstring)."""

    def __init__(self, cmd: list[str], cwd: str, capture_stderr: bool = False):
        env = {"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}  # never the caller's environment (API keys)
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture_stderr else subprocess.DEVNULL, start_new_session=True,
        )
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        first = self._line(STARTUP_S, b"")
        if first != b"ready":
            self.close()
            why = (first or b"").decode(errors="replace").removeprefix("fatal: ")
            if not why and capture_stderr:
                why = self.proc.stderr.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
                why = why[0]
            raise RedistillError(f"bubblewrap could not start the program sandbox: {why or 'no reason given'} (it "
                                 "needs unprivileged user namespaces; --unsafe-sandbox runs programs unisolated, "
                                 "at your own risk)")

    def _line(self, timeout: float, prefix: bytes) -> bytes | None:
        """The next line starting with ``prefix`` (without it), or None if the worker died or is late."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(prefix):
                    return line[len(prefix):]
            left = deadline - time.monotonic()
            if left <= 0 or len(self.buf) > 1 << 20 or not self.sel.select(timeout=left):
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk

    def run(self, source: str, inputs: list[Any], timeout_s: float) -> list[str] | None:
        """One program's responses on its inputs, or None when the worker must be replaced."""
        nonce = secrets.token_hex(16)
        try:
            self.proc.stdin.write(json.dumps({"nonce": nonce, "source": source, "inputs": inputs}).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        line = self._line(len(inputs) * (timeout_s + 0.5) + GRACE_S, nonce.encode())
        try:
            out = json.loads(line)["out"] if line is not None else None
        except (ValueError, KeyError, TypeError):
            return None
        ok = isinstance(out, list) and len(out) == len(inputs) and all(isinstance(o, str) for o in out)
        return out if ok else None

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.sel.close()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


@functools.cache
def _probe() -> None:
    """Start one sandboxed worker (once per process): a clear error here beats every program missing."""
    with tempfile.TemporaryDirectory(prefix="redistill-sandbox-") as tmp:
        _Worker(_command(1.0, 256, unsafe=False), tmp, capture_stderr=True).close()


def require_sandbox(unsafe: bool = False) -> None:
    """Refuse to go on unless programs can run in bubblewrap; with ``unsafe``, warn instead."""
    if unsafe:
        warnings.warn("--unsafe-sandbox: model-written programs run WITHOUT an OS sandbox (only an in-process "
                      "guard); they can read your files and environment. Install bubblewrap "
                      f"({INSTALL_HINT}) and drop the flag.", UnsafeSandboxWarning, stacklevel=2)
        return
    _probe()


def _run_chunk(programs: list[tuple[str, list[Any]]], timeout_s: float, memory_mb: int, unsafe: bool) -> list[list[str]]:
    results: list[list[str]] = []
    cmd = _command(timeout_s, memory_mb, unsafe)
    with tempfile.TemporaryDirectory(prefix="redistill-sandbox-") as tmp:
        worker: _Worker | None = None
        try:
            for source, inputs in programs:
                if worker is None:
                    worker = _Worker(cmd, tmp)
                out = worker.run(source, inputs, timeout_s)
                if out is None:  # the worker itself died or hung (the old guard; or a sandbox failure)
                    late = worker.proc.poll() is None
                    worker.close()
                    worker = None
                    out = [f"error: timed out after {timeout_s:g}s" if late else
                           "error: the program crashed the sandbox process"] * len(inputs)
                results.append(out)
        finally:
            if worker is not None:
                worker.close()
    return results


def run_programs(
    calls: list[tuple[str, Any]], timeout_s: float = 2.0, memory_mb: int = 512, workers: int | None = None,
    unsafe: bool = False,
) -> list[str]:
    """For each ``(program source, input)`` the response: ``str(output list)`` or ``"error: ..."``.

    The input is a python value or its literal text (``"[1, 2]"``); the program must define ``transform``.
    ``unsafe`` runs without bubblewrap (see the module docstring); callers warn via ``require_sandbox``.
    """
    if not calls:
        return []
    if not unsafe:
        require_sandbox()
    by_source: dict[str, list[int]] = {}
    for i, (source, _) in enumerate(calls):
        by_source.setdefault(source, []).append(i)
    programs = [(source, [calls[i][1] for i in idx]) for source, idx in by_source.items()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(programs)))
    size = -(-len(programs) // workers)
    chunks = [programs[i : i + size] for i in range(0, len(programs), size)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        parts = pool.map(lambda c: _run_chunk(c, timeout_s, memory_mb, unsafe), chunks)
        responses = [r for part in parts for r in part]
    results = [""] * len(calls)
    for idx, outs in zip(by_source.values(), responses):
        for i, out in zip(idx, outs):
            results[i] = out
    return results
