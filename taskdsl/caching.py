"""The user's own cache folder, trusted only when no one else can write it.

Two caches live there: the parsed grammar (``parsing/grammar.py``) and the JAX
backend's compiled steps.  Both are read back as data that decides what runs,
so a cache folder someone else could write is no cache at all (docs/security.md).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path


def user_cache_folder(*parts: str) -> Path | None:
    """``$XDG_CACHE_HOME/taskdsl/PARTS`` (else ``~/.cache/...``), made with mode 0700.

    Used only when every folder from ``taskdsl`` down is owned by this user and
    writable by no one else (otherwise someone else could plant or swap a cache
    entry).  None (no cache) where there is no such folder, or no notion of owners.
    """
    if not hasattr(os, "getuid"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    folder = Path(base) / "taskdsl"
    if not folder.is_absolute():  # no home folder to be found
        return None
    try:
        for level in (folder, *(folder.joinpath(*parts[:i + 1]) for i in range(len(parts)))):
            level.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not trusted(os.stat(level), stat.S_ISDIR):
                return None
    except (OSError, ValueError):
        return None
    return folder.joinpath(*parts)


def trusted(info: os.stat_result, is_kind: Callable[[int], bool]) -> bool:
    """Of the right kind, owned by this user, and writable by no one else."""
    return (is_kind(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
