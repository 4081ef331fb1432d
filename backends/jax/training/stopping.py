"""Stopping a run on a signal: after the current step when it can, within seconds always.

SIGINT or SIGTERM asks the loop to stop after its current step; it saves a checkpoint
and says how to resume.  A second SIGINT interrupts at once.  But a step can be long,
and the first one compiles: while XLA compiles, the main thread runs no Python, so
Python's signal handler (and with it the loop's check) waits until the compile ends,
which can take minutes.  A job scheduler that sends SIGTERM expects the process gone
within seconds.  So a watcher thread listens on the signal wake-up fd (written by the
C-level handler the moment the signal arrives, whatever the main thread is doing); on
SIGTERM it gives the loop :data:`TERM_GRACE_SECONDS` to stop by itself, then ends the
process with exit code 143 (128 + SIGTERM), saying so.  Nothing is lost that a kill
would not lose: checkpoints are renamed into place whole and verified on restore, and
the metrics file can only lose its last line (docs/training.md, "Stopping").
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ..messages import note

TERM_GRACE_SECONDS = 10.0
TERMINATED = 128 + signal.SIGTERM  # the exit code of a run SIGTERM ended before a step did


class StopFlag:
    """What the loop reads after each step: the signal that asked it to stop, if any."""

    requested: int | None = None


@contextmanager
def stop_requests(grace: float = TERM_GRACE_SECONDS) -> Iterator[StopFlag]:
    """SIGINT and SIGTERM set the flag (a second SIGINT raises ``KeyboardInterrupt``); a
    SIGTERM the loop has not acted on within ``grace`` seconds ends the process.

    Signals can only be caught in the main thread; elsewhere the defaults stay."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handle(signum: int, frame: object) -> None:
        if flag.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.requested = signum

    reader, writer = socket.socketpair()
    reader.setblocking(True)
    writer.setblocking(False)
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(reader, done, grace), daemon=True,
                               name="taskdsl-sigterm")
    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher.start()
    try:
        yield flag
    finally:
        done.set()
        signal.set_wakeup_fd(previous_fd)
        for s, handler in previous.items():
            signal.signal(s, handler)
        with suppress(OSError):
            writer.send(b"\0")  # wakes the watcher, which sees `done` and returns
        watcher.join(timeout=1.0)
        reader.close()
        writer.close()


def _watch(reader: socket.socket, done: threading.Event, grace: float) -> None:
    """Wait for SIGTERM's byte on the wake-up fd; then, unless the run ends within
    ``grace`` seconds, end the process."""
    while not done.is_set():
        try:
            data = reader.recv(64)
        except OSError:
            return
        if not data or done.is_set():
            return
        if signal.SIGTERM in data:
            if not done.wait(grace):
                print(note("terminated", seconds=f"{grace:g}"), file=sys.stderr, flush=True)
                os._exit(TERMINATED)
            return
