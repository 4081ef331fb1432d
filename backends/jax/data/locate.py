"""Finding a data set's files on disk, the same way for every file-backed data set.

A data set's files live in one folder, chosen in this order:

1. the ``path =`` option, when given: the files must be there (a path that does not hold
   them is an error, never a silent fall back to another copy);
2. ``$TASKDSL_DATA/<dataset>``, when the variable is set (a lab's shared copy, a test);
3. ``<user data folder>/<dataset>``, e.g. ``~/.local/share/taskdsl/mnist`` on Linux
   (``platformdirs.user_data_dir``), where ``taskdsl data fetch`` stores them.

A run never reaches the network, so a missing file says where it looked and which
command fetches it.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from . import messages
from .base import DataError, Folder, option_problem

ENV_VAR = "TASKDSL_DATA"
APP = "taskdsl"
_GZIP_MAGIC = b"\x1f\x8b"


def data_root() -> tuple[Path, str]:
    """The folder that holds one subfolder per data set, and how it was chosen."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return Path(platformdirs.user_data_dir(APP, appauthor=False)), "the user data folder"


def dataset_folder(dataset: str, path: object = None) -> tuple[Path, str]:
    """The one folder ``dataset``'s files are read from, and how it was chosen."""
    bad = option_problem("path", path, Folder())
    if bad is not None:
        raise DataError(bad)
    if path is not None:
        return Path(path).expanduser(), "path = option"  # type: ignore[arg-type]
    root, how = data_root()
    return root / dataset, f"{how}/{dataset}" if how.startswith("$") else how


def spellings(stem: str) -> tuple[str, str]:
    """The names a file ``stem`` may have on disk: plain or gzipped."""
    return stem, f"{stem}.gz"


def find_file(dataset: str, stems: Sequence[str], path: object, howto: str) -> Path:
    """The file named one of ``stems`` (plain or with ``.gz``) in ``dataset``'s folder.

    Only one folder is searched, so the data a run reads is never a surprise.
    """
    folder, how = dataset_folder(dataset, path)
    for stem in stems:
        for name in spellings(stem):
            if (folder / name).is_file():
                return folder / name
    wanted = " or ".join(f"{stem}[.gz]" for stem in stems)
    raise DataError(messages.missing_file(dataset, wanted, folder, how, howto,
                                          explicit=path is not None))


def read_bytes(path: Path) -> bytes:
    """The contents of ``path``, decompressed if it is gzipped (by its magic, not its name).

    An unreadable file or a broken or truncated gzip stream is a DataError naming the file.
    """
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw.startswith(_GZIP_MAGIC) else raw
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(messages.unreadable(path, error)) from error
