"""The 8x8 handwritten digits, shipped with taskdsl: the smallest real image set, always on disk.

``digits.npz`` holds ``images`` (1797, 8, 8) uint8 in 0..16 and ``labels`` (1797,) uint8,
exactly scikit-learn's ``load_digits()`` (scikit-learn 1.9.1), written once with
``np.savez_compressed`` so that this data set needs no scikit-learn (45 KB).

Provenance and licence: the test set of "Optical Recognition of Handwritten Digits"
(E. Alpaydin and C. Kaynak, 1998), UCI Machine Learning Repository,
https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits,
licensed CC BY 4.0 (cite the creators when redistributing); 32x32 bitmaps counted in
non-overlapping 4x4 blocks into 8x8 images of values 0..16.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from . import messages
from .base import SPLITS, Choice, DataError, Dataset, Description, FieldSpec, checked, split_indices

TEST_PERCENT = 20
OPTIONS = {"split": Choice(SPLITS)}
FILE = Path(__file__).with_name("digits.npz")


@lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The shipped images (1797, 8, 8) uint8 and labels (1797,) uint8, read once."""
    try:
        with np.load(FILE, allow_pickle=False) as shipped:
            images, labels = shipped["images"], shipped["labels"]
    except (OSError, KeyError, ValueError) as error:
        raise DataError(messages.unreadable(FILE, error)) from error
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def load_digits(split: str = "train") -> Dataset:
    """The digits' ``split``: fields ``image`` (N, 8, 8, 1) float32 in [0, 1], ``label`` int32.

    The data come without a split, so a fixed permutation (seed 0) gives 80% for
    training and the other 20% for testing.
    """
    checked(OPTIONS, split=split)
    images, labels = digits_arrays()
    rows = split_indices(len(labels), split, TEST_PERCENT)
    return Dataset(
        name="digits",
        fields={
            "image": np.divide(images[rows, :, :, None], 16, dtype=np.float32),
            "label": labels[rows].astype(np.int32),
        },
        classes={"label": 10},
    )


def digits_fields(split: str = "train") -> dict[str, FieldSpec]:
    """The fields ``load_digits`` gives, without reading the file."""
    return {"image": FieldSpec((8, 8, 1), "float32"), "label": FieldSpec((), "int32", 10)}


DIGITS = Description(OPTIONS, digits_fields)
