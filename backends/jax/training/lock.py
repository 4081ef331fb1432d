"""One training run at a time per run folder: an exclusive ``flock`` on ``RUN_DIR/.lock``.

Two ``taskdsl train`` into the same folder (a second start, or a ``--resume`` of
a run still going) would interleave their metrics and checkpoints and leave a
``config.json`` that describes neither.  So ``train`` holds an exclusive,
non-blocking :func:`fcntl.flock` on the folder's lock file for the whole run: a
second one is refused at once (``run-dir-busy``, naming the holder's process
id, which the holder writes into the file).  The kernel drops the lock when its
holder's process ends, however it ends (``kill -9`` included), so a killed run
never leaves a stale lock: the file may stay, the lock does not (a run that ends
removes the file, and a run that wrote nothing the folders it made).  Only
``train`` locks; ``eval``, ``report`` and ``load`` read a run without it.

The file is opened with ``O_NOFOLLOW`` (a link planted at its name is refused,
``run-file-symlink``), and the lock is checked to be on the file that is at the
name now: a process that opened the file just before its holder removed it
locks a file no one else can find, notices, and tries again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from . import errors
from .errors import run_file_symlink

LOCK = ".lock"
"""The lock file's name inside a run folder (not one of the run's files)."""


def _holder(path: Path) -> int | None:
    """The process id the lock's holder wrote into ``path``, if it can be read."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _open(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP or path.is_symlink():
            raise run_file_symlink(path) from None
        raise


def _acquire(path: Path) -> int:
    """A descriptor of ``path`` holding its exclusive lock; ``run-dir-busy`` if another
    process holds it."""
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise errors.run_dir_busy(path.parent, _holder(path)) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # locked a file that a finishing run had just removed: try again


def refuse_if_busy(run_dir: str | Path) -> None:
    """``run-dir-busy`` if a process holds ``run_dir``'s lock now; creates nothing.  A shared
    lock, taken and dropped at once, so that several processes may look at the same time
    (the processes of one multi-host run, before they know which of them is the first)."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return  # no lock file (or a link, which `holding` refuses by name): not busy
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise errors.run_dir_busy(path.parent, _holder(path)) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def holding(run_dir: str | Path) -> Iterator[Path]:
    """Hold ``run_dir``'s lock (creating the folder) while the block runs; yields the lock
    file, which is removed again at the end, as are the folders this call created if
    the run wrote nothing into them."""
    run_dir = Path(run_dir)
    created = [p for p in (run_dir, *run_dir.parents) if not p.exists()]  # deepest first
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK
    fd = _acquire(path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        try:  # still holding the lock: whoever opened this file meanwhile will try again
            path.unlink()
            for folder in created if not any(run_dir.iterdir()) else ():
                folder.rmdir()
        except OSError:
            pass  # something appeared meanwhile: leave the folders as they are
        finally:
            os.close(fd)


def only_lock(names: Iterator[Path]) -> bool:
    """Whether a folder's entries are at most the lock file: a folder no run has written to."""
    return all(p.name == LOCK for p in names)
