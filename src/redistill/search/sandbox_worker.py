"""Sandbox supervisor: runs model-written ``transform`` functions, one fresh child process per program.

Started by ``redistill.search.sandbox`` as ``python -I -S -c <this file's text> TIMEOUT MEMORY_MB UNSAFE``,
normally as PID 1 of a bubblewrap sandbox. It never imports redistill: it runs with the stdlib only.

Protocol (lockstep): the parent writes one job per line on stdin, ``{"nonce", "source", "inputs"}``
(one program, the inputs to run it on), and sends the next only after reading ``NONCE {"out": [...]}``
on stdout. Model code never runs here: each program runs in a child forked from this pristine process
(a fresh namespace per input), which first drops everything it could
misuse (stdin/stdout become /dev/null, every other descriptor is closed), caps address space, CPU time
and file size, and loads a seccomp filter that refuses new processes and threads and the kernel
objects that would outlive it (SysV IPC, message queues, keys). The child reports on a pipe of its
own; this process is made non-dumpable so a child can neither trace it nor open its descriptors
through /proc, so nothing a program does reaches the parent's channel or the next job (whose nonce
the parent has not even sent yet). After each job every other process in the sandbox is killed and
the scratch folder emptied.

``UNSAFE=1`` (``--unsafe-sandbox``, outside bubblewrap) is the old guard instead: every job runs in
this one process under rlimits and an audit hook; known to leak (see issue 11), kept as an opt-out.
"""

import ast
import ctypes
import errno
import gc
import io
import json
import os
import platform
import resource
import select
import signal
import struct
import sys
import time

MAX_OUT = 20000
SCRATCH = "/tmp" if os.getpid() == 1 else None  # inside bubblewrap: the private tmpfs
GRACE_S = 0.5  # past the job's timeout before the child is killed from here

# --- seccomp: the syscalls a child may not make (see the module docstring) -------------------------
_ARCH = {  # AUDIT_ARCH_*, then syscall numbers
    "x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435, "unshare": 272, "setns": 308,
                            "shmget": 29, "semget": 64, "msgget": 68, "mq_open": 240, "add_key": 248,
                            "request_key": 249, "keyctl": 250}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435, "unshare": 97, "setns": 268, "shmget": 194,
                             "semget": 190, "msgget": 186, "mq_open": 180, "add_key": 217, "request_key": 218,
                             "keyctl": 219}),
}


def _seccomp_filter() -> bytes:
    """A classic BPF program: other architectures (x32, i386 entry points) are killed, the denied
    syscalls fail with EAGAIN (what a process limit would give), everything else is allowed."""
    arch, numbers = _ARCH[platform.machine()]
    deny = sorted(numbers.values())
    ld_w_abs, jeq_k, jge_k, ret_k = 0x20, 0x15, 0x35, 0x06
    kill_process, allow, errno_ret = 0x80000000, 0x7FFF0000, 0x00050000 | errno.EAGAIN

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    n = len(deny)  # jump offsets count from the next instruction
    prog = [op(ld_w_abs, 4), op(jeq_k, arch, 1, 0), op(ret_k, kill_process),  # [0-2] wrong arch: kill
            op(ld_w_abs, 0), op(jge_k, 0x40000000, n + 2, 0)]  # [3-4] x32 numbers: to the last kill
    prog += [op(jeq_k, nr, n - i, 0) for i, nr in enumerate(deny)]  # [5..] denied: to ret errno
    prog += [op(ret_k, allow), op(ret_k, errno_ret), op(ret_k, kill_process)]
    return b"".join(prog)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_LIBC = ctypes.CDLL(None, use_errno=True)
_FILTER = _seccomp_filter() if platform.machine() in _ARCH else b""
_PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 4, 38, 22, 2


def _prctl(*args: object) -> None:
    if _LIBC.prctl(*args) != 0:
        raise OSError(ctypes.get_errno(), f"prctl{args[:1]} failed")


def _load_seccomp() -> None:
    buf = ctypes.create_string_buffer(_FILTER)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_Fprog(len(_FILTER) // 8, ctypes.addressof(buf))),
           0, 0)


# --- the old guard's audit hook (--unsafe-sandbox only) ---------------------------------------------------------
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_BLOCKED_PREFIXES = ("socket.", "subprocess.", "ctypes.", "os.exec", "os.spawn", "os.posix_spawn", "pty.")
_BLOCKED = {
    "os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.rmdir", "os.rename",
    "os.mkdir", "os.chmod", "os.chown", "os.link", "os.symlink", "os.truncate", "os.utime", "os.chdir",
    "os.chroot", "os.putenv", "os.unsetenv", "shutil.rmtree", "shutil.move", "resource.setrlimit",
    "resource.prlimit", "signal.pthread_kill", "sys.setprofile", "sys.settrace", "os.startfile",
    "webbrowser.open", "urllib.Request", "http.client.connect", "ftplib.connect", "smtplib.connect",
}


def _install_audit_hook(root: str) -> None:
    root = os.path.realpath(root)

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True
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


# --- one job, in the child ---------------------------------------------------------------------------
class CallTimeout(BaseException):
    """BaseException so that ``except Exception`` in a program does not swallow it."""


def _on_alarm(signum, frame):
    raise CallTimeout()


def _confine(result_fd: int, timeout: float, n_inputs: int, memory_mb: int, scratch: str) -> None:
    """Everything the child does before the first line of model code."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 1 << 16)
    os.chdir(scratch)
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(timeout * n_inputs) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no effect for root outside a sandbox: seccomp is the lock
    _load_seccomp()
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(2000)


def _run_one(source: str, raw_input, timeout: float) -> str:
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        value = ast.literal_eval(raw_input) if isinstance(raw_input, str) else raw_input
        namespace = {"__name__": "__rule__"}
        exec(compile(source, "<rule>", "exec"), namespace)
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


def _child(result_fd: int, source: str, inputs: list, timeout: float, memory_mb: int, scratch: str) -> None:
    """Run one program on its inputs (a fresh namespace each), one result line per input."""
    try:
        _confine(result_fd, timeout, len(inputs), memory_mb, scratch)
        for value in inputs:
            os.write(result_fd, json.dumps({"out": _run_one(source, value, timeout)}).encode() + b"\n")
    finally:
        os._exit(0)


def _program(source: str, inputs: list, timeout: float, memory_mb: int, scratch: str) -> list[str]:
    """The responses of one program: a fresh child for it (and a new one after an input kills a child)."""
    responses: list[str] = []
    while len(responses) < len(inputs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(w, source, inputs[len(responses):], timeout, memory_mb, scratch)
        os.close(w)
        try:
            responses += _read_results(r, pid, timeout, len(inputs) - len(responses))
        finally:
            os.close(r)
        _clean_up(scratch)
    return responses


def _read_results(fd: int, pid: int, timeout: float, n: int) -> list[str]:
    """Up to ``n`` result lines from a child; the last is why it stopped early. The child is dead on return."""
    out: list[str] = []
    buf, timed_out = b"", False
    deadline = time.monotonic() + timeout + GRACE_S
    while len(out) < n:
        while b"\n" in buf and len(out) < n:
            line, buf = buf.split(b"\n", 1)
            out.append(_parse(line))
            deadline = time.monotonic() + timeout + GRACE_S  # the next input starts now
        if len(out) == n:
            break
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            timed_out = True
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk or len(buf) > MAX_OUT + 100:
            break
        buf += chunk
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if len(out) < n:
        xcpu = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU
        out.append(f"error: timed out after {timeout:g}s" if timed_out or xcpu
                   else "error: the program crashed the sandbox process")
    return out


def _parse(line: bytes) -> str:
    try:
        out = json.loads(line)["out"]
    except (ValueError, KeyError, TypeError):
        return "error: the program's result is malformed"
    return out if isinstance(out, str) and len(out) <= MAX_OUT else "error: the program's result is malformed"


def _clean_up(scratch: str) -> None:
    """No process (inside the sandbox, where this is PID 1) and no file of one job is left for the next.

    Whatever cannot be removed ends this worker (the parent starts a fresh sandbox) rather than stay.
    """
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)  # every process of this PID namespace but this one
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    try:
        for name in os.listdir(scratch):
            _remove(os.path.join(scratch, name))
    except (OSError, RecursionError):
        pass
    if os.listdir(scratch):
        raise SystemExit("the scratch folder could not be emptied")


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)  # a program may have locked its own folder (the files are ours: same uid)
        for name in os.listdir(path):
            _remove(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


def _self_test() -> str:
    """Check in a throwaway child that the filter loads and refuses a fork: 'ok' or what failed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            _load_seccomp()
            try:
                os.fork()
                msg = "the seccomp filter did not refuse fork()"
            except BlockingIOError:
                msg = "ok"
        except BaseException as e:  # noqa: BLE001
            msg = f"cannot load the seccomp filter: {e}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    msg = os.read(r, 1000).decode() or "the self-test child died"
    os.close(r)
    os.waitpid(pid, 0)
    return msg


def _old_guard(out, timeout: float, memory_mb: int) -> None:
    """``--unsafe-sandbox``: every job in this one process under the audit hook (no OS isolation)."""
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(2000)
    _install_audit_hook(os.getcwd())
    out.write(b"ready\n")
    for line in sys.stdin.buffer:
        job = json.loads(line)
        sys.stdout = sys.stderr = io.StringIO()  # what the program prints is not the protocol
        try:
            responses = [_run_one(job["source"], value, timeout) for value in job["inputs"]]
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        out.write(job["nonce"].encode() + json.dumps({"out": responses}).encode() + b"\n")


def main() -> None:
    timeout, memory_mb, unsafe = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    if unsafe:
        return _old_guard(out, timeout, memory_mb)
    _prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # children may not trace us nor open /proc/1/fd/*
    scratch = SCRATCH or os.getcwd()
    status = _self_test() if platform.machine() in _ARCH else f"no seccomp filter for {platform.machine()}"
    out.write(b"ready\n" if status == "ok" else f"fatal: {status}\n".encode())
    if status != "ok":
        return
    gc.freeze()  # the children's garbage collector leaves these objects alone: fewer copy-on-write pages
    for line in sys.stdin.buffer:
        job = json.loads(line)
        responses = _program(job["source"], job["inputs"], timeout, memory_mb, scratch)
        out.write(job["nonce"].encode() + json.dumps({"out": responses}).encode() + b"\n")


if __name__ == "__main__":
    main()
