"""The registry: names, options and their errors, as a task file's train block meets them."""

from __future__ import annotations

import numpy as np
import pytest

from taskdsl.backends.jax.data import LOADERS, DataError, Dataset, load


def test_names() -> None:
    assert sorted(LOADERS) == ["digits", "mnist", "sentiment", "sprites"]


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(DataError) as caught:
        load("mnsit")
    message = str(caught.value)
    assert "did you mean 'mnist'?" in message
    for name in LOADERS:
        assert repr(name) in message


def test_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(DataError) as caught:
        load("sprites", sead=1)
    message = str(caught.value)
    assert "'sead'" in message
    assert "did you mean 'seed'?" in message
    assert "'split', 'n', 'seed', 'size'" in message


@pytest.mark.parametrize(
    "options",
    [{"split": "val"}, {"split": None}, {"n": 2.5}, {"n": True}, {"seed": -1}, {"size": "32"}],
)
def test_invalid_values_are_data_errors(options: dict) -> None:
    with pytest.raises(DataError, match="must be"):
        load("sprites", **options)


def test_options_reach_the_loader() -> None:
    ds = load("sprites", split="test", n=3, seed=np.int64(2), size=16)
    assert isinstance(ds, Dataset)
    assert ds.fields["image"].shape == (3, 16, 16, 3)


def test_dataset_checks_its_fields() -> None:
    with pytest.raises(DataError, match="same first axis"):
        Dataset("x", {"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(DataError, match="not a field"):
        Dataset("x", {"a": np.zeros(3)}, classes={"b": 2})
    assert len(Dataset("x", {"a": np.zeros(3)})) == 3
