"""What ``taskdsl data list`` shows: each data set, its fields, and where its files are.

Read from the same descriptions ``taskdsl check`` uses, so the list cannot drift
from what a binding gets; nothing is loaded.
"""

from __future__ import annotations

from .base import FieldSpec
from .fetch import REMOTES, present
from .locate import dataset_folder

ORIGINS = {
    "digits": "shipped with taskdsl (1,797 8x8 digits, UCI ML repository, CC BY 4.0)",
    "sprites": "generated on the fly, nothing to fetch",
    "npz": "the user's own .npz file, named by `path = \"FILE.npz\"`",
    "images": "the user's own folder of images, one sub-folder per class, `path = \"FOLDER\"`",
    "csv": "the user's own .csv/.tsv file with a header line, `path = \"FILE.csv\"`",
}


USER_LOADER = "package.module.function(...)"
"""How ``data list`` shows a user's loader by dotted path (``data/user.py``)."""


def spec_text(name: str, spec: FieldSpec) -> str:
    """One field as ``label: () int32, 10 classes``."""
    text = f"{name} {spec.shape} {spec.dtype}"
    if spec.classes is not None:
        text += f", ids < {spec.classes}" if spec.vocabulary else f", {spec.classes} classes"
    return text


def rows() -> list[tuple[str, str, str]]:
    """Each data set as (name, fields with default options, where its files are)."""
    from . import LOADERS, describe

    found = []
    for name in LOADERS:
        fields = describe(name, {})
        shown = "; ".join(spec_text(k, s) for k, s in fields.items()) if fields else "yours"
        if name in REMOTES:
            folder, _ = dataset_folder(name)
            where = (f"present in {folder}" if present(name, folder) else
                     f"not fetched (taskdsl data fetch {name} stores them in {folder})")
        else:
            where = ORIGINS.get(name, "")
        found.append((f"datasets.{name}", shown, where))
    found.append((USER_LOADER, "the arrays it returns, by name",
                  "your own Python function, imported once allowed (--allow-import PACKAGE)"))
    return found


def table() -> list[str]:
    """The rows as aligned lines under a header."""
    lines = [("data set", "fields (default options)", "files"), *rows()]
    width = max(len(row[0]) for row in lines)
    return [f"{a:<{width}}  {b}\n{'':<{width}}  {c}" if i else f"{a:<{width}}  {b} / {c}"
            for i, (a, b, c) in enumerate(lines)]
