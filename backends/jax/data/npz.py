"""A researcher's own arrays: ``datasets.npz(path = "sprites.npz", fields = ["image", "colour"])``.

Each array of the ``.npz`` file is a field, by its name, with examples along its first
axis; ``fields = [...]`` binds them to a source's outputs by name.  Arrays keep their
values; floating ones become float32 (the wires' precision), and an integer array of
one value per example is taken as class indices 0..K-1 with K = its largest value + 1,
so a ``Class[6]`` wire bound to labels of 4 classes is an error, not labels that
silently mean other classes.

The file is never unpickled (``allow_pickle=False``: an object array is refused).
:func:`npz_fields` answers what the fields are from the arrays' headers alone (and
the label arrays' values, which are one number per example), so ``taskdsl check``
validates a binding without reading images.

``split = "train"`` or ``"test"`` takes a part: the rows a ``split_by`` array marks
(``"train"``/``"test"`` strings, or 0/1, or false/true for test), else a fixed random
``test_fraction`` (seed ``seed``). Without ``split`` every row is used.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import messages
from .base import (
    SPLITS,
    Choice,
    DataError,
    Dataset,
    Description,
    FieldSpec,
    Fraction,
    Text,
    Whole,
    checked,
)

OPTIONS = {
    "path": Text("the path of a .npz file (a string)"),
    "split": Choice(SPLITS, optional=True),
    "split_by": Text("the name of an array of the file (a string)", optional=True),
    "test_fraction": Fraction(),
    "seed": Whole(0),
}
_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}


def load_npz(path: object = None, split: str | None = None, split_by: str | None = None,
             test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The arrays of the ``.npz`` at ``path`` (read from the current directory when
    relative) as fields, in the file's order, less ``split_by``; ``split`` keeps a part."""
    checked(OPTIONS, path=path, split=split, split_by=split_by, test_fraction=test_fraction,
            seed=seed)
    file = npz_file(path)
    specs = npz_fields(path, split, split_by, test_fraction, seed)
    try:
        with np.load(file, allow_pickle=False) as arrays:
            fields = {name: _as_field(arrays[name]) for name in specs}
            marks = arrays[split_by] if split_by is not None else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(messages.unreadable(file, error)) from error
    dataset = Dataset("npz", fields, {k: s.classes for k, s in specs.items()
                                      if s.classes is not None})
    if split is None:
        return dataset
    n = len(dataset)
    rows = _marked_rows(file, split_by, marks, split, n) if marks is not None else \
        _random_rows(n, split, float(test_fraction), int(seed))
    return Dataset("npz", {k: v[rows] for k, v in fields.items()}, dataset.classes)


def npz_file(path: object = None, split: str | None = None, split_by: str | None = None,
             test_fraction: float = 0.2, seed: int = 0) -> Path:
    """The file ``path`` names; one that is not there is a located DataError."""
    checked({"path": OPTIONS["path"]}, path=path)
    file = Path(path).expanduser()  # type: ignore[arg-type]
    if not file.is_file():
        raise DataError(messages.missing_npz(file))
    return file


def npz_fields(path: object = None, split: str | None = None, split_by: str | None = None,
               test_fraction: float = 0.2, seed: int = 0) -> dict[str, FieldSpec]:
    """The fields ``load_npz`` gives, from the arrays' headers (and label values): each
    array's name, one example's shape, the dtype it loads as, and a label's classes."""
    file = npz_file(path)
    stat = file.stat()
    return dict(_fields(file.absolute(), stat.st_mtime_ns, stat.st_size, split_by))


@lru_cache(maxsize=32)
def _fields(file: Path, mtime_ns: int, size: int, split_by: str | None
            ) -> tuple[tuple[str, FieldSpec], ...]:
    """The fields of ``file`` as it is now (its time and size in the key): a check and the
    run after it read the headers and labels once."""
    headers = read_headers(file)
    if split_by is not None and split_by not in headers:
        raise DataError(messages.npz_no_array(file, split_by, list(headers)))
    lengths = {name: shape[0] if shape else None for name, (shape, _) in headers.items()}
    if any(n is None for n in lengths.values()) or len(set(lengths.values())) > 1:
        raise DataError(messages.npz_lengths(file, {k: headers[k][0] for k in headers}))
    fields = {}
    for name, (shape, dtype) in headers.items():
        if name == split_by:
            continue
        loaded = _field_dtype(shape, dtype)
        classes = _classes(file, name) if _is_label(shape, dtype) else None
        fields[name] = FieldSpec(shape[1:], str(loaded), classes)
    if not fields:
        raise DataError(messages.npz_empty(file))
    return tuple(fields.items())


def read_headers(file: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's shape and dtype, in the file's order, reading only the ``.npy`` headers."""
    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    try:
        with zipfile.ZipFile(file) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename.removesuffix(".npy")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    reader = _HEADERS.get(version)
                    if reader is not None:
                        shape, _, dtype = reader(member)
                    else:  # a rare version (3.0): read the array itself
                        array = _member(file, name)
                        shape, dtype = array.shape, array.dtype
                if dtype.hasobject:
                    raise DataError(messages.npz_object(file, name))
                found[name] = (tuple(int(n) for n in shape), dtype)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(messages.unreadable(file, error)) from error
    if not found:
        raise DataError(messages.npz_empty(file))
    return found


def _member(file: Path, name: str) -> np.ndarray:
    with np.load(file, allow_pickle=False) as arrays:
        return arrays[name]


def _field_dtype(shape: tuple[int, ...], dtype: np.dtype) -> np.dtype:
    """Floating arrays load as float32, labels as int32, others as stored (native order)."""
    if np.issubdtype(dtype, np.floating):
        return np.dtype(np.float32)
    if _is_label(shape, dtype):
        return np.dtype(np.int32)
    return dtype.newbyteorder("=")


def _is_label(shape: tuple[int, ...], dtype: np.dtype) -> bool:
    return len(shape) == 1 and np.issubdtype(dtype, np.integer)


def _classes(file: Path, name: str) -> int | None:
    """How many classes a label array has (largest value + 1); ``None`` if it has negative
    values (then no ``Class`` wire can take it, which loading reports)."""
    labels = _member(file, name)
    if labels.size == 0 or labels.min() < 0:
        return None
    return int(labels.max()) + 1


def _as_field(array: np.ndarray) -> np.ndarray:
    return array.astype(_field_dtype(array.shape, array.dtype), copy=False)


def _marked_rows(file: Path, split_by: str | None, marks: np.ndarray, split: str,
                 n: int) -> np.ndarray:
    """The rows ``marks`` puts in ``split``: "train"/"test" strings, 0/1 or false/true."""
    if marks.shape != (n,):
        raise DataError(messages.npz_bad_marks(file, split_by, f"shape {marks.shape}"))
    if marks.dtype.kind in "US":
        values = marks.astype(str)
        test, train = values == "test", values == "train"
    elif marks.dtype.kind in "biu":
        test, train = marks == 1, marks == 0
    else:
        raise DataError(messages.npz_bad_marks(file, split_by, f"dtype {marks.dtype}"))
    if not (test | train).all():
        raise DataError(messages.npz_bad_marks(file, split_by, "other values"))
    return np.flatnonzero(test if split == "test" else train)


def _random_rows(n: int, split: str, test_fraction: float, seed: int) -> np.ndarray:
    """A fixed (``seed``) random ``test_fraction`` of the ``n`` rows for test, the rest for
    train: disjoint, complete, the same on every machine."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(n * test_fraction)
    return np.sort(order[n - n_test:] if split == "test" else order[: n - n_test])


NPZ = Description(OPTIONS, npz_fields, npz_file)
