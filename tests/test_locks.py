"""One writer per folder: a second holder is refused with the first one's PID; a killed holder never blocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redistill.errors import RedistillError
from redistill.locks import lock_path, stage_lock

SRC = Path(__file__).resolve().parents[1] / "src"


def test_second_holder_is_refused_with_the_pid(tmp_path):
    with stage_lock(tmp_path, "build", "a build"):
        with pytest.raises(RedistillError, match=rf"PID {os.getpid()}.*already running a build"):
            with stage_lock(tmp_path, "build", "a build"):
                pass
        with stage_lock(tmp_path, "eval"):  # another stage's lock is another lock
            pass
    with stage_lock(tmp_path, "build"):  # released on exit
        pass


def test_a_killed_holder_never_blocks(tmp_path):
    code = (f"from redistill.locks import stage_lock\nimport time\nwith stage_lock({str(tmp_path)!r}, 'augment-x'):\n"
            "    print('held', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(RedistillError, match=f"PID {proc.pid}"):
        with stage_lock(tmp_path, "augment-x"):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert lock_path(tmp_path, "augment-x").exists()  # the file stays behind...
    start = time.perf_counter()
    with stage_lock(tmp_path, "augment-x"):  # ...and does not block
        pass
    assert time.perf_counter() - start < 1
