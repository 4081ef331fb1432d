"""The registry: names, options and their errors, as a task file's train block meets them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taskdsl.backends.jax.data import (
    LOADERS,
    DataError,
    Dataset,
    FieldSpec,
    describe,
    load,
    problems,
)


def test_names() -> None:
    assert sorted(LOADERS) == ["csv", "digits", "images", "mnist", "npz", "sentiment", "sprites"]


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(DataError) as caught:
        load("mnsit")
    message = str(caught.value)
    assert message.startswith("unknown data set `datasets.mnsit`")
    assert "did you mean `datasets.mnist`?" in message
    for name in LOADERS:
        assert f"`datasets.{name}`" in message


def test_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(DataError) as caught:
        load("sprites", sead=1)
    message = str(caught.value)
    assert "data set `sprites` has no option `sead`" in message
    assert "did you mean `seed`?" in message
    assert "`split`, `n`, `seed`, `size`, `colour`" in message


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


def _described(dataset: Dataset) -> dict[str, FieldSpec]:
    return {name: FieldSpec(array.shape[1:], str(array.dtype), dataset.classes.get(name))
            for name, array in dataset.fields.items()}


@pytest.mark.parametrize(("name", "options"), [
    ("digits", {}), ("digits", {"split": "test"}), ("sprites", {"n": 4, "size": 12}),
    ("sprites", {"n": 2, "colour": "red"}),
    ("mnist", {"limit": 3, "path": "real_mnist"}),
    ("sentiment", {"length": 7, "max_vocab": 50, "path": "real_sentiment"}),
    ("npz", {"path": "npz"}), ("npz", {"path": "npz", "split": "test", "split_by": "part"}),
])
def test_a_description_is_what_loading_gives(name: str, options: dict,
                                              request: pytest.FixtureRequest,
                                              tmp_path: Path) -> None:
    """What checks read instead of loading (``describe``) is exactly what a run gets: the
    fields in order, their shapes, dtypes and classes (a vocabulary: at most that many)."""
    if options.get("path") == "npz":
        rng = np.random.default_rng(0)
        options = {**options, "path": str(tmp_path / "mine.npz")}
        np.savez(options["path"], image=rng.random((9, 4, 4, 3)), label=np.arange(9) % 3,
                 part=np.arange(9) % 2, tokens=rng.integers(0, 7, (9, 5)).astype(np.int16))
    elif "path" in options:
        options = {**options, "path": str(request.getfixturevalue(options["path"]))}
    described = describe(name, options)
    loaded = _described(load(name, **options))
    assert described is not None and list(described) == list(loaded)
    for field, spec in described.items():
        if spec.vocabulary:
            assert loaded[field].classes is not None and loaded[field].classes <= spec.classes
            spec = FieldSpec(spec.shape, spec.dtype, loaded[field].classes)
        assert spec == loaded[field], field


def test_problems_are_all_found_without_loading() -> None:
    found = problems("sprites", {"sead": 1, "split": "val", "n": 0})
    assert [p.code for p in found] == ["data-option", "data-option-value", "data-option-value"]
    assert describe("sprites", {"split": "val"}) is None  # nothing is guessed for bad options
    assert [p.code for p in problems("mnist", {"path": "nowhere"})] == ["data-missing-file"]
