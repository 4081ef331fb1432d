"""A text table: ``datasets.csv(path = "iris.csv", fields = ["x", "species"])``.

The first line names the columns; each later line is one example.  The delimiter is a
tab for ``.tsv``/``.tab`` files and a comma otherwise (``delimiter = ";"`` overrides).
Columns become fields by their header name:

- a column of numbers is a ``Real`` field of one value, shape ``(1,)``;
- columns named ``NAME.0``, ``NAME.1``, … form one ``Real`` field ``NAME`` of shape
  ``(k,)`` (in index order), so a ``Real[4]`` wire can take four columns;
- a column of text, or one named in ``labels = [...]``, is a ``Class`` field: its
  distinct values, sorted (numerically for numbers), are classes 0..n-1, and the names
  are kept in ``extras["class_names"][NAME]`` so an evaluation can name them.

A column that mixes numbers and text, or an empty cell, is an error naming the line;
so is a row with the wrong number of cells.  The file is parsed once per version (its
time and size key a cache), so ``taskdsl check`` and the run after it agree.
``split`` works as for ``datasets.npz``: a fixed random ``test_fraction`` (seed ``seed``).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import messages
from .base import SPLITS, Choice, DataError, Dataset, Description, FieldSpec, Fraction, Text, Whole
from .base import checked as _checked
from .npz import _random_rows


@dataclass(frozen=True)
class Names:
    """An option that takes a list of column names (or nothing)."""

    expected: str = "a list of column names (strings)"

    def fits(self, value: object) -> bool:
        return value is None or (isinstance(value, list | tuple)
                                 and all(isinstance(n, str) for n in value))


OPTIONS = {
    "path": Text("the path of a .csv or .tsv file (a string)"),
    "delimiter": Text("one character (a string)", optional=True),
    "labels": Names(),
    "split": Choice(SPLITS, optional=True),
    "test_fraction": Fraction(),
    "seed": Whole(0),
}
_GROUPED = re.compile(r"^(?P<name>.+)\.(?P<index>\d+)$")


@dataclass(frozen=True)
class Parsed:
    """A table as fields: arrays by name, and each label field's class names."""

    fields: dict[str, np.ndarray]
    class_names: dict[str, list[str]]


def table_file(path: object = None, **_: object) -> Path:
    """The file ``path`` names; one that is not there is a located DataError."""
    _checked({"path": OPTIONS["path"]}, path=path)
    file = Path(path).expanduser()  # type: ignore[arg-type]
    if not file.is_file():
        raise DataError(messages.missing_table(file))
    return file


def parse(path: object, delimiter: object = None, labels: object = None) -> Parsed:
    """The fields of the table at ``path``, from a cache keyed by its time and size."""
    file = table_file(path)
    stat = file.stat()
    return _parse(file.absolute(), stat.st_mtime_ns, stat.st_size,
                  None if delimiter is None else str(delimiter), tuple(labels or ()))


@lru_cache(maxsize=16)
def _parse(file: Path, mtime_ns: int, size: int, delimiter: str | None,
           labels: tuple[str, ...]) -> Parsed:
    if delimiter is None:
        delimiter = "\t" if file.suffix.lower() in {".tsv", ".tab"} else ","
    if len(delimiter) != 1:
        raise DataError(messages.table_delimiter(delimiter))
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(messages.unreadable(file, error)) from error
    rows = [(line, row) for line, row in enumerate(rows, 1) if any(c.strip() for c in row)]
    if len(rows) < 2:
        raise DataError(messages.table_empty(file))
    (_, header), body = rows[0], rows[1:]
    header = [h.strip() for h in header]
    for name in labels:
        if name not in header:
            raise DataError(messages.table_no_column(file, name, header))
    columns: dict[str, list[str]] = {h: [] for h in header}
    for line, row in body:
        if len(row) != len(header):
            raise DataError(messages.table_cells(file, line, len(row), len(header)))
        for name, cell in zip(header, row, strict=True):
            if not cell.strip():
                raise DataError(messages.table_empty_cell(file, line, name))
            columns[name].append(cell.strip())
    lines = [line for line, _ in body]
    fields: dict[str, np.ndarray] = {}
    class_names: dict[str, list[str]] = {}
    groups: dict[str, dict[int, np.ndarray]] = {}
    for name, cells in columns.items():
        numbers = [_number(c) for c in cells]
        is_label = name in labels or all(n is None for n in numbers)
        grouped = _GROUPED.match(name)
        if is_label and grouped is None:
            order = sorted(set(cells), key=lambda c: (_number(c) is None, _number(c) or 0, c))
            index = {c: i for i, c in enumerate(order)}
            fields[name] = np.array([index[c] for c in cells], dtype=np.int32)
            class_names[name] = order
            continue
        bad = next((i for i, n in enumerate(numbers) if n is None), None)
        if bad is not None:
            raise DataError(messages.table_not_numeric(file, lines[bad], name, cells[bad]))
        values = np.array(numbers, dtype=np.float32)
        if grouped is not None:
            groups.setdefault(grouped["name"], {})[int(grouped["index"])] = values
        else:
            fields[name] = values[:, None]
    for name, parts in groups.items():
        if name in fields or sorted(parts) != list(range(len(parts))):
            raise DataError(messages.table_group(file, name, sorted(parts)))
        fields[name] = np.stack([parts[i] for i in range(len(parts))], axis=1)
    return Parsed(fields, class_names)


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def table_fields(path: object = None, delimiter: object = None, labels: object = None,
                 split: object = None, test_fraction: object = 0.2, seed: object = 0
                 ) -> dict[str, FieldSpec]:
    """The fields ``load_csv`` gives: each (grouped) numeric column as float32 ``(k,)``,
    each label column as int32 with its number of classes."""
    parsed = parse(path, delimiter, labels)
    return {name: FieldSpec(array.shape[1:], str(array.dtype),
                            len(parsed.class_names[name]) if name in parsed.class_names
                            else None)
            for name, array in parsed.fields.items()}


def load_csv(path: object = None, delimiter: object = None, labels: object = None,
             split: object = None, test_fraction: object = 0.2, seed: object = 0) -> Dataset:
    """The columns of the table at ``path`` (read from the current directory when
    relative) as fields; ``split`` keeps a part."""
    _checked(OPTIONS, path=path, delimiter=delimiter, labels=labels, split=split,
             test_fraction=test_fraction, seed=seed)
    parsed = parse(path, delimiter, labels)
    fields = {k: v.copy() for k, v in parsed.fields.items()}  # the cache's stay as read
    if split is not None:
        n = len(next(iter(fields.values())))
        rows = _random_rows(n, str(split), float(test_fraction), int(seed))  # type: ignore[arg-type]
        fields = {k: v[rows] for k, v in fields.items()}
    return Dataset("csv", fields, {k: len(v) for k, v in parsed.class_names.items()},
                   {"class_names": parsed.class_names})


CSV = Description(OPTIONS, table_fields, table_file)
