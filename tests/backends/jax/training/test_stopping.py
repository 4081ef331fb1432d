"""SIGTERM stops a run within seconds even while the main thread is busy outside Python
(a long XLA compile or step), and a loop that stops by itself is left to do so."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from taskdsl.backends.jax.training.stopping import TERMINATED

BUSY = """
import time
from taskdsl.backends.jax.training.stopping import stop_requests
with stop_requests(grace={grace}) as flag:
    print("ready", flush=True)
    time.sleep(60)  # busy: the flag is set, but nothing reads it
"""

POLITE = """
import time
from taskdsl.backends.jax.training.stopping import stop_requests
with stop_requests(grace=30) as flag:
    print("ready", flush=True)
    while flag.requested is None:
        time.sleep(0.01)
print("stopped after", flag.requested, flush=True)
"""


def _started(script: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def test_a_busy_run_ends_with_143_soon_after_sigterm() -> None:
    process = _started(BUSY.format(grace=0.5))
    start = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == TERMINATED == 143
    assert time.monotonic() - start < 10
    assert "terminated: SIGTERM" in err and "--resume" in err and "Traceback" not in err


def test_a_loop_that_stops_by_itself_is_not_cut_short() -> None:
    process = _started(POLITE)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.strip() == f"stopped after {int(signal.SIGTERM)}"
    assert "terminated" not in err
