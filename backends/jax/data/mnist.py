"""MNIST from its original IDX files, with a small checked IDX parser.

IDX layout: two zero bytes, a dtype byte, a byte with the number of dimensions n,
n big-endian uint32 sizes, then the data in row-major order. Checking the header
against the file size turns a truncated download into a clear error rather than a
reshape failure deep in training.
"""

from __future__ import annotations

import math
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
    Folder,
    Fraction,
    Whole,
    checked,
)
from .locate import find_file, read_bytes

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

OPTIONS = {"split": Choice(SPLITS), "path": Folder(), "limit": Whole(1, optional=True),
           "binarize": Fraction(optional=True)}

_FILES = {
    "train": ("train-images", "train-labels"),
    "test": ("t10k-images", "t10k-labels"),
}


def parse_idx(raw: bytes, source: object = "<bytes>") -> np.ndarray:
    """The array stored in IDX bytes ``raw``, in native byte order.

    ``source`` names the file in error messages.
    """
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise DataError(messages.idx_no_header(source))
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise DataError(messages.idx_dtype(source, code, IDX_DTYPES))
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataError(messages.idx_short_header(source, ndim))
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataError(messages.idx_size(source, shape, expected, len(raw) - offset))
    data = np.frombuffer(raw, dtype, count=expected // dtype.itemsize, offset=offset)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """The array in the IDX file at ``path``, gzipped or not."""
    return parse_idx(read_bytes(path), path)


def _find_idx(stem: str, path: object) -> Path:
    # Mirrors spell the files either "train-images-idx3-ubyte" or "train-images.idx3-ubyte".
    ndim = 3 if stem.endswith("images") else 1
    spellings = [f"{stem}{sep}idx{ndim}-ubyte" for sep in ("-", ".")]
    return find_file("mnist", spellings, path, messages.MNIST_HOWTO)


def load_mnist(split: str = "train", path: object = None, limit: int | None = None,
               binarize: float | None = None) -> Dataset:
    """MNIST's ``split``: fields ``image`` (N, 28, 28, 1) float32 in [0, 1], ``label`` int32.

    With ``binarize = t`` each pixel is 1 where its grey level is above ``t`` and 0
    elsewhere (binarised MNIST, for a ``Binary[28, 28, 1]`` wire); without it a Binary
    wire gets the grey levels, which ``nll`` and ``bce`` read as probabilities.

    The files are read from ``path`` when given, else from the data folder
    (``$TASKDSL_DATA/mnist`` or the user data folder, see :mod:`.locate`), where
    ``taskdsl data fetch mnist`` puts them; ``limit`` keeps only the first ``limit``
    examples (all of them if there are fewer).
    """
    checked(OPTIONS, split=split, path=path, limit=limit, binarize=binarize)
    keep = None if limit is None else int(limit)
    images_file, labels_file = mnist_files(split, path)
    images = read_idx(images_file)
    labels = read_idx(labels_file)
    if (
        images.ndim != 3
        or images.shape[1:] != (28, 28)
        or labels.shape != images.shape[:1]
        or (labels.size > 0 and not 0 <= labels.min() <= labels.max() <= 9)
    ):
        raise DataError(messages.mnist_mismatch(split, images.shape, labels.shape))
    images, labels = images[:keep], labels[:keep]
    grey = np.divide(images[..., None], 255, dtype=np.float32)
    return Dataset(
        name="mnist",
        fields={
            "image": grey if binarize is None else (grey > binarize).astype(np.float32),
            "label": labels.astype(np.int32),
        },
        classes={"label": 10},
    )


def mnist_files(split: str = "train", path: object = None, limit: int | None = None,
                binarize: float | None = None) -> tuple[Path, Path]:
    """The image and label files of ``split``; a missing one is a DataError saying where
    it looked."""
    images_stem, labels_stem = _FILES[split]
    return _find_idx(images_stem, path), _find_idx(labels_stem, path)


def mnist_fields(split: str = "train", path: object = None, limit: int | None = None,
                 binarize: float | None = None) -> dict[str, FieldSpec]:
    """The fields ``load_mnist`` gives, without reading a file."""
    return {"image": FieldSpec((28, 28, 1), "float32"), "label": FieldSpec((), "int32", 10)}


MNIST = Description(OPTIONS, mnist_fields, mnist_files)
