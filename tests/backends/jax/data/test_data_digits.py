"""scikit-learn's digits: shapes, scaling and a fixed, disjoint 80/20 split."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from taskdsl.backends.jax.data import load


def rows(images: np.ndarray) -> set[bytes]:
    return {image.astype(np.float32).tobytes() for image in images}


def test_digits_shapes_and_scaling() -> None:
    train = load("digits")
    assert list(train.fields) == ["image", "label"]
    assert train.fields["image"].shape == (1438, 8, 8, 1)
    assert train.fields["image"].dtype == np.float32
    assert train.fields["image"].min() == 0.0
    assert train.fields["image"].max() == 1.0
    assert train.fields["label"].dtype == np.int32
    assert set(train.fields["label"].tolist()) == set(range(10))
    assert train.classes == {"label": 10}


def test_digits_split_is_disjoint_complete_and_fixed() -> None:
    train, test = load("digits", split="train"), load("digits", split="test")
    assert (len(train), len(test)) == (1438, 359)
    # The 1,797 digits are pairwise distinct, so images identify rows.
    train_rows, test_rows = rows(train.fields["image"]), rows(test.fields["image"])
    assert not train_rows & test_rows
    assert train_rows | test_rows == rows(load_digits().images[..., None] / 16)
    np.testing.assert_array_equal(
        load("digits", split="test").fields["image"], test.fields["image"]
    )
