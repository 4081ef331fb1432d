"""The 8x8 digits shipped as package data: exactly scikit-learn's, with a fixed, disjoint 80/20 split."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from taskdsl.backends.jax.data import load
from taskdsl.backends.jax.data.digits import FILE, digits_arrays

# Of scikit-learn 1.9.1's load_digits(): images as uint8 bytes, and the label counts.
IMAGES_SHA256 = "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3"
LABEL_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def rows(images: np.ndarray) -> set[bytes]:
    return {image.astype(np.float32).tobytes() for image in images}


def test_the_shipped_file_is_the_digits() -> None:
    images, labels = digits_arrays()
    assert FILE.stat().st_size < 64_000
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 16
    assert hashlib.sha256(images.tobytes()).hexdigest() == IMAGES_SHA256
    assert np.bincount(labels).tolist() == LABEL_COUNTS
    assert not images.flags.writeable  # shared by every load, so nobody may change it


def test_the_shipped_file_is_scikit_learns() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = datasets.load_digits()
    images, labels = digits_arrays()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(labels, bunch.target)


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
    assert train_rows | test_rows == rows(digits_arrays()[0][..., None] / 16)
    np.testing.assert_array_equal(
        load("digits", split="test").fields["image"], test.fields["image"]
    )
