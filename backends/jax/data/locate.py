"""Finding a data set's files on disk, the same way for every file-backed data set.

A run never reaches the network, so a missing file must say every place that was
searched and how to get the file.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

from .. import messages as wording
from . import messages
from .base import DataError, Folder, option_problem

ENV_VAR = "TASKDSL_DATA"
_GZIP_MAGIC = b"\x1f\x8b"


def _search_folders(dataset: str, path: object) -> list[tuple[str, Path | None]]:
    """Where ``dataset``'s files are looked for, in order, each with how it was chosen.

    The ``path=`` option first, then ``$TASKDSL_DATA/<dataset>``, then
    ``../shared/data/<dataset>`` from the current directory (a checkout's test data).
    A place that does not apply (option not given, variable unset) has the folder None.
    """
    bad = option_problem("path", path, Folder())
    if bad is not None:
        raise DataError(bad)
    env = os.environ.get(ENV_VAR)
    return [
        ("path= option", None if path is None else Path(path)),
        (f"${ENV_VAR}/{dataset}", Path(env) / dataset if env else None),
        (
            f"../shared/data/{dataset} from the current directory",
            Path.cwd().parent / "shared" / "data" / dataset,
        ),
    ]


def find_file(dataset: str, stems: Sequence[str], path: object, howto: str) -> Path:
    """The first existing file named one of ``stems``, plain or with ``.gz``, in the folders.

    Each folder is tried with every spelling before moving to the next folder, so a file
    the user points at with ``path=`` always wins.
    """
    places = []
    for how, folder in _search_folders(dataset, path):
        if folder is None:
            places.append(f"{how}: not set")
            continue
        for stem in stems:
            for name in (stem, f"{stem}.gz"):
                if (folder / name).is_file():
                    return folder / name
        places.append(f"{how}: {folder}")
    wanted = " or ".join(f"{stem}[.gz]" for stem in stems)
    looked = "\n".join(f"  - {place}" for place in places)
    raise DataError(wording.problem("data-missing-file", dataset=dataset, filename=wanted,
                                    looked=looked, howto=howto))


def read_bytes(path: Path) -> bytes:
    """The contents of ``path``, decompressed if it is gzipped (by its magic, not its name).

    An unreadable file or a broken or truncated gzip stream is a DataError naming the file.
    """
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw.startswith(_GZIP_MAGIC) else raw
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(messages.unreadable(path, error)) from error
