"""scikit-learn's bundled 8x8 digits: the smallest real image set, always on disk."""

from __future__ import annotations

import numpy as np

from . import messages
from .base import SPLITS, Choice, DataError, Dataset, Description, FieldSpec, checked, split_indices

TEST_PERCENT = 20
OPTIONS = {"split": Choice(SPLITS)}


def load_digits(split: str = "train") -> Dataset:
    """The digits' ``split``: fields ``image`` (N, 8, 8, 1) float32 in [0, 1], ``label`` int32.

    scikit-learn ships no split, so a fixed permutation (seed 0) gives 80% for training
    and the other 20% for testing.
    """
    checked(OPTIONS, split=split)
    try:
        # Imported here so that loading the data package does not pay for scikit-learn.
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise DataError(messages.no_sklearn()) from error
    bunch = sklearn_digits()
    rows = split_indices(len(bunch.target), split, TEST_PERCENT)
    return Dataset(
        name="digits",
        fields={
            "image": np.divide(bunch.images[rows, :, :, None], 16, dtype=np.float32),
            "label": bunch.target[rows].astype(np.int32),
        },
        classes={"label": 10},
    )


def digits_fields(split: str = "train") -> dict[str, FieldSpec]:
    """The fields ``load_digits`` gives, without scikit-learn."""
    return {"image": FieldSpec((8, 8, 1), "float32"), "label": FieldSpec((), "int32", 10)}


DIGITS = Description(OPTIONS, digits_fields)
