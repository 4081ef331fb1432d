"""Writing and naming the files of a run folder, safely (docs/security.md).

A run folder may be shared, copied from someone else, or left half-written by a
killed run.  So every file written into it is written whole or not at all
(:func:`write_text`: a temporary file in the same folder, then ``os.replace``),
and never through a symbolic link planted at its name: a link there is refused,
not followed, so a run cannot be made to overwrite a file elsewhere.  Appends
(:func:`append_text`, ``metrics.jsonl``) open with ``O_NOFOLLOW``.

What a run's ``config.json`` names is read only from inside the run
(:func:`inside`): an absolute path, a ``..`` out of the folder or a symbolic
link leading out of it is refused.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from ..errors import BackendError
from ..messages import phrase
from .errors import RunFileError as RunFileError
from .errors import run_file_outside, run_file_symlink

__all__ = ["append_text", "inside", "write_text"]


def _refuse_link(path: Path) -> None:
    """Refuse ``path`` if it is a symbolic link (checked with ``lstat``, not followed)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise run_file_symlink(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: to a temporary file in the same folder,
    flushed to disk, then renamed over ``path`` (the rename replaces a name, it follows
    no link).  A symbolic link at ``path`` is refused; on any failure nothing is left."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, as :func:`write_text` does."""
    path = Path(path)
    _refuse_link(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def append_text(path: str | Path, text: str) -> Path:
    """Append ``text`` to ``path``, creating it (mode 0644 less the umask), never through a
    symbolic link (``O_NOFOLLOW``: a link at ``path`` is refused)."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    _refuse_link(path)  # where O_NOFOLLOW is missing, and for the clear message
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if Path(path).is_symlink():
            raise run_file_symlink(path) from None
        raise error
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(text)
    return path


def inside(directory: str | Path, name: str, error: type[BackendError] = BackendError
           ) -> Path:
    """``directory / name`` for a file a run's config.json names, if it is inside the run
    folder: ``name`` relative, without ``..``, and not a symbolic link (its or a parent
    folder's) that leads out of it.  Otherwise ``error`` (code ``run-file-outside``)."""
    directory = Path(directory)
    pure = PurePath(name)
    why = ("file-absolute" if pure.is_absolute() or pure.drive or pure.root
           else "file-escapes" if ".." in pure.parts
           else None)
    path = directory / pure
    if why is None:
        real, home = path.resolve(), directory.resolve()
        if real != home and not real.is_relative_to(home):
            why = "file-symlink"
    if why is not None:
        raise run_file_outside(directory, name, phrase(why), error)
    return path


def imported_texts(config: Mapping[str, Any]) -> dict[str, str]:
    """The recorded texts of the files the run's source imports, by resolved absolute path
    (none for a run recorded before they were: its imports are read from disk).
    ``TypeError`` when config.json's ``imported`` is not an object of texts."""
    imported = config.get("imported")
    if imported is None:
        return {}
    if not isinstance(imported, dict) or not all(isinstance(t, str) for t in imported.values()):
        raise TypeError(phrase("config-imported"))
    return imported
