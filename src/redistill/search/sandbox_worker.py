"""Sandbox worker: runs model-written ``transform`` functions on inputs, one result line per job.

Started by ``redistill.search.sandbox`` as ``python -I -c <this file's text> JOBS START NONCE TIMEOUT MEMORY_MB``
with its cwd in a fresh temp dir. It never imports redistill: it must run with nothing but the stdlib.

Defences, from outside in: the parent kills the whole process on a wall deadline per job; here the
address space, CPU time and file sizes are capped (``resource.setrlimit``); an audit hook refuses
sockets, subprocesses, ctypes, signals to other processes and any write outside the temp dir; an
interval timer interrupts a slow call. Whatever the program does, the result is a line, or the line
is missing and the parent counts the job as a miss.
"""

import ast
import io
import json
import os
import resource
import signal
import sys

MAX_OUT = 20000


class CallTimeout(BaseException):
    """BaseException so that ``except Exception`` in a program does not swallow it."""


def _limit(jobs_left: int, timeout: float, memory_mb: int) -> None:
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(timeout * jobs_left + 5)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
    if hasattr(resource, "RLIMIT_NPROC"):
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no new processes or threads


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_BLOCKED_PREFIXES = ("socket.", "subprocess.", "ctypes.", "os.exec", "os.spawn", "os.posix_spawn", "pty.")
_BLOCKED = {
    "os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.rmdir", "os.rename",
    "os.mkdir", "os.chmod", "os.chown", "os.link", "os.symlink", "os.truncate", "os.utime", "os.chdir",
    "os.chroot", "os.putenv", "os.unsetenv", "shutil.rmtree", "shutil.move", "resource.setrlimit",
    "resource.prlimit", "signal.pthread_kill", "sys.setprofile", "sys.settrace", "os.startfile",
    "webbrowser.open", "urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect",
}


def _install_hook(root: str) -> None:
    root = os.path.realpath(root)

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        full = os.path.realpath(os.path.join(root, str(path)))
        return full == root or full.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event in _BLOCKED or event.startswith(_BLOCKED_PREFIXES):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} outside the temp dir is not allowed")

    sys.addaudithook(hook)


def _on_alarm(signum, frame):
    raise CallTimeout()


def _run_one(code_cache: dict, source: str, value, timeout: float) -> str:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        code = code_cache.get(source)
        if code is None:
            code = code_cache[source] = compile(source, "<rule>", "exec")
        namespace = {"__name__": "__rule__"}
        exec(code, namespace)
        fn = namespace.get("transform")
        if not callable(fn):
            return "error: the program defines no transform(x) function"
        result = fn(value)
        if not isinstance(result, list):
            return f"error: transform returned {type(result).__name__}, expected list"
        text = str(result)
        return text if len(text) <= MAX_OUT else "error: output too long"
    except CallTimeout:
        return f"error: timed out after {timeout:g}s"
    except MemoryError:
        return "error: memory limit exceeded"
    except RecursionError:
        return "error: recursion too deep"
    except BaseException as e:  # noqa: BLE001 - anything a program raises is a miss
        if isinstance(e, CallTimeout):
            return f"error: timed out after {timeout:g}s"
        return f"error: {type(e).__name__}: {str(e)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main() -> None:
    jobs_path, start, nonce, timeout, memory_mb = sys.argv[1:6]
    start, timeout, memory_mb = int(start), float(timeout), int(memory_mb)
    with open(jobs_path, encoding="utf-8") as f:
        payload = json.load(f)
    programs, jobs = payload["programs"], payload["jobs"]
    out = sys.stdout
    _limit(len(jobs) - start, timeout, memory_mb)
    signal.signal(signal.SIGALRM, _on_alarm)
    _install_hook(os.getcwd())
    sys.setrecursionlimit(2000)
    code_cache: dict = {}
    for i in range(start, len(jobs)):
        program_index, raw_input = jobs[i]
        sys.stdout = sys.stderr = io.StringIO()  # what the program prints is not the protocol
        try:
            value = ast.literal_eval(raw_input) if isinstance(raw_input, str) else raw_input
            response = _run_one(code_cache, programs[program_index], value, timeout)
        except BaseException as e:  # noqa: BLE001
            response = f"error: {type(e).__name__}"
        finally:
            sys.stdout = sys.stderr = sys.__stderr__
        line = "\n" + nonce + json.dumps({"i": i, "out": response}) + "\n"
        out.write(line)
        out.flush()


if __name__ == "__main__":
    main()
