"""The python follower's sandbox: every way a program can misbehave is a miss, never a failed run.

The hostile programs of issue 11, run through ``redistill eval``, are in ``tests/eval/test_hostile_programs.py``.
"""

from __future__ import annotations

import socket

import pytest

from redistill.errors import RedistillError
from redistill.search import sandbox
from redistill.search.followers import PythonFollower, extract_program, make_follower
from redistill.search.sandbox import UnsafeSandboxWarning, require_sandbox, run_programs
from redistill.search.types import ApplyRequest, Hypothesis
from redistill.tasks.model import Example, Task


def prog(body: str, imports: str = "") -> str:
    return imports + "def transform(x):\n" + "".join("    " + line + "\n" for line in body.splitlines())


def test_misbehaving_programs_are_misses_and_good_ones_still_run(tmp_path):
    outside = tmp_path / "escape.txt"
    cases = {
        "good": (prog("return x[::-1]"), "[2, 1, 3]"),
        "loop": (prog("while True:\n    pass"), "error: timed out"),
        "loop_swallowing_timeouts": (prog("while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass"), "error: timed out"),
        "c_level_loop": (prog("return [sum(range(10**13))]"), "error: timed out"),
        "memory_bomb": (prog("return [0] * (10**10)"), "error: memory limit"),
        # growth that touches its pages may hit the time limit first on a loaded machine: a miss either way
        "memory_growth": (prog("a = []\nwhile True:\n    a.append(bytearray(10**8))"), ("error: memory limit", "error: timed out")),
        "hard_crash": (prog("os._exit(3)", "import os\n"), "error: the program crashed"),
        "raises": (prog("return x[99]"), "error: IndexError"),
        "wrong_type": (prog("return 5"), "error: transform returned int"),
        "tuple": (prog("return tuple(x)"), "error: transform returned tuple"),
        "no_transform": ("def f(x):\n    return x\n", "error: the program defines no transform"),
        "syntax": ("def transform(x) return x", "error: SyntaxError"),
        "recursion": (prog("return transform(x)"), "error: recursion"),
        # the host's folders are not in the sandbox at all
        "write_outside": (prog(f"open({str(outside)!r}, 'w').write('x')\nreturn x"), "error: FileNotFoundError"),
        "delete_outside": (prog(f"os.remove({str(tmp_path / 'keep.txt')!r})\nreturn x", "import os\n"), "error: FileNotFoundError"),
        "write_root": (prog("open('/escape.txt', 'w').write('x')\nreturn x"), "error: OSError: [Errno 30] Read-only"),
        "write_inside": (prog("open('scratch.txt', 'w').write('ok')\nreturn sorted(x)"), "[1, 2, 3]"),
        "subprocess": (prog("subprocess.run(['true'])\nreturn x", "import subprocess\n"), "error: BlockingIOError"),
        "prints": (prog("print('noise', x)\nreturn sorted(x)"), "[1, 2, 3]"),
    }
    (tmp_path / "keep.txt").write_text("keep")
    results = run_programs([(src, "[3, 1, 2]") for src, _ in cases.values()], timeout_s=0.5, memory_mb=256)
    for (name, (_, expected)), got in zip(cases.items(), results):
        assert got.startswith(expected), (name, got)
    assert not outside.exists()
    assert (tmp_path / "keep.txt").read_text() == "keep"


def test_no_network_even_to_localhost():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    programs = [
        prog(f"socket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn x", "import socket\n"),
        prog(f"s = _socket.socket()\ns.connect(('127.0.0.1', {port}))\nreturn x", "import _socket\n"),
        prog(f"urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=1)\nreturn x", "import urllib.request\n"),
    ]
    results = run_programs([(p, "[1]") for p in programs], timeout_s=1.5)
    server.setblocking(False)  # a connection that got through would wait in the backlog
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()
    # the sandbox has its own network namespace: its 127.0.0.1 has no listener
    assert [r.split(":")[1].strip() for r in results] == ["ConnectionRefusedError"] * 2 + ["URLError"], results


def test_many_calls_are_batched_and_in_order():
    calls = [(prog("return [len(x)] + x"), str(list(range(i % 7)))) for i in range(500)]
    calls += [(prog("return [v * 2 for v in x]"), "[1, 2]")] * 50
    results = run_programs(calls, workers=2)
    assert results[:7] == [str([i] + list(range(i))) for i in range(7)]
    assert results[-1] == "[2, 4]" and len(results) == 550


def test_extract_program_forms():
    fenced = "Sure.\n```python\ndef helper(v):\n    return v\n\ndef transform(x):\n    return x\n```\nDone."
    assert extract_program(fenced).startswith("def helper")
    assert extract_program("def transform(x):\n    return x[1:]\n") == "def transform(x):\n    return x[1:]\n"
    assert extract_program("```\nprint(1)\n```") == "print(1)\n"
    assert extract_program("the rule is: reverse the list") is None


def _task(answer_type: str = "list", suite: str = "list_func") -> Task:
    return Task(0, suite, [Example("[1, 2]", "[2, 1]")], [], answer_type=answer_type)


def test_python_follower_uses_program_or_text_and_misses_without_one():
    follower = PythonFollower(timeout_s=1.0)
    task = _task()
    reqs = [
        ApplyRequest(task, Hypothesis("ignored text", program="def transform(x):\n    return x[::-1]\n"), "[1, 2]"),
        ApplyRequest(task, Hypothesis("```python\ndef transform(x):\n    return sorted(x)\n```"), "[2, 1, 3]"),
        ApplyRequest(task, Hypothesis("reverse the list"), "[1, 2]"),
    ]
    out = follower.apply(reqs)
    assert [a.response for a in out] == ["[2, 1]", "[1, 2, 3]", "error: no python program in the rule"]
    assert follower.usage().prompt_tokens == 0


def test_python_follower_refuses_label_suites_with_a_hint():
    with pytest.raises(RedistillError, match="--follower llm"):
        PythonFollower().apply([ApplyRequest(_task("label", "acre"), Hypothesis("x"), ["a"])])


def test_make_follower_names():
    assert make_follower("python", timeout_s=1.0).name == "python"
    with pytest.raises(RedistillError, match="unknown follower"):
        make_follower("prolog")
    with pytest.raises(RedistillError, match="needs a model backend"):
        make_follower("llm")


def test_no_state_passes_from_one_program_to_the_next():
    """Poison the interpreter, the scratch folder and a module, then run an honest program after it in
    the same worker; the old guard (``unsafe``) is the control that shows the poisoning is real."""
    poison = prog("import builtins, math\nbuiltins.sorted = lambda *a, **k: [999]\nmath.pi = 3\n"
                  "open('left.txt', 'w').write('x')\nreturn x")
    honest = prog("return sorted(x) + [os.path.exists('left.txt'), math.pi == 3]", "import math, os\n")
    locked = prog("os.makedirs('d/e')\nopen('d/e/x', 'w').write('x')\nos.chmod('d/e', 0)\nos.chmod('d', 0)\n"
                  "return x", "import os\n")
    finds = prog("return [os.path.exists('d')]", "import os\n")
    calls = [(poison, "[2, 1]"), (honest, "[2, 1]"), (locked, "[1]"), (finds, "[1]")]
    assert run_programs(calls, timeout_s=1.0, workers=1) == ["[2, 1]", "[1, 2, False, False]", "[1]", "[False]"]
    assert run_programs(calls[:2], timeout_s=1.0, workers=1, unsafe=True)[1] == "[999, True, True]"


def test_a_program_runs_each_input_in_a_fresh_namespace_and_a_hang_costs_one_input():
    counter = prog("global n\ntry:\n    n += 1\nexcept NameError:\n    n = 1\nreturn [n]")
    hang_on_2 = prog("while x == [2]:\n    pass\nreturn x")
    results = run_programs([(counter, "[0]")] * 3 + [(hang_on_2, f"[{i}]") for i in (1, 2, 3)], timeout_s=0.5,
                           workers=1)
    assert results == ["[1]"] * 3 + ["[1]", "error: timed out after 0.5s", "[3]"]


def test_without_bubblewrap_programs_are_refused_with_the_install_command(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox._bwrap_args.cache_clear()
    sandbox._probe.cache_clear()
    try:
        with pytest.raises(RedistillError, match="apt-get install bubblewrap") as e:
            run_programs([(prog("return x"), "[1]")])
        assert "\n" not in str(e.value)
        with pytest.warns(UnsafeSandboxWarning, match="WITHOUT an OS sandbox"):
            require_sandbox(unsafe=True)
        assert run_programs([(prog("return x[::-1]"), "[1, 2]")], unsafe=True) == ["[2, 1]"]
    finally:
        sandbox._bwrap_args.cache_clear()
        sandbox._probe.cache_clear()


def test_a_sandbox_that_cannot_start_is_refused_with_its_reason(monkeypatch):
    monkeypatch.setattr(sandbox, "_bwrap_args", lambda: ("bwrap", "--no-such-option"))
    sandbox._probe.cache_clear()
    try:
        with pytest.raises(RedistillError, match="could not start the program sandbox: bwrap: Unknown option --no-such-option"):
            require_sandbox()
    finally:
        sandbox._probe.cache_clear()
