"""Binding sources to data sets, the checks on fields, and batches as a function of (seed, step)."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskdsl.backends.jax import data
from taskdsl.backends.jax.lowering.lower import DataRequest
from taskdsl.backends.jax.training import feed as feeding
from taskdsl.backends.jax.training.errors import PROGRAM, TrainError
from taskdsl.backends.jax.training.feed import Feed, bind
from taskdsl.ir import Call, Name
from taskdsl.types import WireType

IMAGE = WireType("Real", (2, 2, 1), "Img")
DIGIT = WireType("Class", (3,))
N = 10


def toy(n: int = N, classes: int = 3) -> data.Dataset:
    """Rows numbered 0..n-1 in every field, so a batch shows which rows it took."""
    rows = np.arange(n)
    return data.Dataset(
        name="toy",
        fields={
            "image": np.repeat(rows, 4).reshape(n, 2, 2, 1).astype(np.float32),
            "label": (rows % classes).astype(np.int32),
            "onehot": np.eye(3, dtype=np.float32)[rows % 3],
        },
        classes={"label": classes},
    )


def unlabelled(n: int = N, classes: int = 3) -> data.Dataset:
    """``toy`` without the number of classes of its labels: only their range is known."""
    ds = toy(n, classes)
    return data.Dataset(ds.name, ds.fields)


@pytest.fixture(autouse=True)
def toy_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(data.LOADERS, "toy", toy)
    monkeypatch.setitem(data.LOADERS, "unlabelled", unlabelled)


def request(key: str = "0/1", types: tuple[WireType, ...] = (IMAGE, DIGIT)) -> DataRequest:
    return DataRequest(key, "pairs", types)


def bound(call: object, types: tuple[WireType, ...] = (IMAGE, DIGIT)):
    return bind([request(types=types)], {"pairs": call}, "classify")["pairs"]


def test_outputs_take_the_first_fields_by_default() -> None:
    source = bound(Call("datasets.toy"))
    assert [a.shape for a in source.arrays] == [(N, 2, 2, 1), (N,)]
    assert source.binding == "datasets.toy()"


def test_fields_choose_and_order_the_outputs() -> None:
    source = bound(Call("datasets.toy", (), {"fields": ("onehot", "label")}), (DIGIT, DIGIT))
    assert source.arrays[0].dtype == np.float32 and source.arrays[0].shape == (N, 3)
    assert source.arrays[1].dtype == np.int32


def test_a_source_named_like_a_data_set_binds_to_it_by_default() -> None:
    sources = bind([DataRequest("0/1", "toy", (IMAGE,))], {}, "classify")
    assert sources["toy"].binding == "datasets.toy()"


def program_error(call: object, types: tuple[WireType, ...] = (IMAGE, DIGIT)) -> str:
    with pytest.raises(TrainError) as caught:
        bound(call, types)
    assert caught.value.exit_code == PROGRAM
    return str(caught.value)


@pytest.mark.parametrize(("call", "types", "expected"), [
    (None, (IMAGE,), "data source `pairs` of `classify` is not bound to a data set"),
    (Name("toy"), (IMAGE,), "`data pairs = toy` does not name a data set"),
    (Call("datasets.toy", (5,)), (IMAGE,), "gives options by position"),
    (Call("datasets.toi"), (IMAGE,), "unknown data set `datasets.toi`"),
    (Call("datasets.toi"), (IMAGE,), "did you mean `datasets.toy`?"),
    (Call("datasets.toy", (), {"n": 0}), (IMAGE,), "data set `toy` has no examples"),
    (Call("datasets.toy", (), {"fields": "image"}), (IMAGE,), "`fields` must be a list"),
    (Call("datasets.toy", (), {"fields": ("imag",)}), (IMAGE,),
     "has no field `imag`; expected one of: `image`, `label`, `onehot`; did you mean `image`?"),
    (Call("datasets.toy", (), {"fields": ("image",)}), (IMAGE, DIGIT),
     "declares 2 outputs (Img (Real[2, 2, 1]), Class[3]) but `fields` names 1"),
    (Call("datasets.toy"), (IMAGE,) * 4, "data set `toy` has only 3"),
    (Call("datasets.toy"), (WireType("Real", (4,)), DIGIT),
     "output 1 (Real[4]) gets field `image` of data set `toy`, whose examples are float32 "
     "of shape (2, 2, 1); a Real[4] wire takes arrays of shape (4,)"),
    (Call("datasets.toy", (), {"fields": ("image", "image")}), (IMAGE, DIGIT),
     "a Class[3] wire takes class indices (integers) of shape () or arrays of shape (3,)"),
    (Call("datasets.toy", (), {"classes": 5}), (IMAGE, DIGIT),
     "with 5 classes, but the wire has 3 classes"),
    (Call("datasets.toy", (), {"classes": 2}), (IMAGE, DIGIT),  # fewer: silently wrong labels
     "with 2 classes, but the wire has 3 classes; declare the wire Class[2]"),
    (Call("datasets.unlabelled", (), {"classes": 5}), (IMAGE, DIGIT),
     "with class indices 0..4, but the wire has 3 classes"),
])
def test_a_binding_that_does_not_fit_says_why(call: object, types: tuple, expected: str) -> None:
    assert expected in program_error(call, types)


def feed(requests: list[DataRequest], batch: int = 4, seed: int = 0, **kw: int) -> Feed:
    sources = bind(requests, {"pairs": Call("datasets.toy")}, "classify")
    return Feed(requests, sources, batch, seed, **kw)


def rows(batch: dict, key: str = "0/1") -> list[int]:
    return batch[key][0][:, 0, 0, 0].astype(int).tolist()


def test_a_batch_depends_only_on_the_seed_and_the_step() -> None:
    first, again = feed([request()]), feed([request()])
    assert rows(first.batch(7)) == rows(again.batch(7))
    for step in (7, 2, 7):  # order of calls does not matter
        np.testing.assert_array_equal(first.batch(step)["0/1"][1], again.batch(step)["0/1"][1])
    assert rows(feed([request()], seed=1).batch(7)) != rows(first.batch(7))


def test_each_epoch_visits_every_row_once_in_a_new_order() -> None:
    f = feed([request()], batch=5)  # two steps per epoch of 10 rows
    epochs = [rows(f.batch(0)) + rows(f.batch(1)), rows(f.batch(2)) + rows(f.batch(3))]
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(N))
    assert epochs[0] != epochs[1]


def test_a_batch_may_span_epochs() -> None:
    f = feed([request()], batch=25)
    assert sorted(rows(f.batch(0))[:20]) == sorted(list(range(N)) * 2)


def test_two_draws_of_one_source_are_independent() -> None:
    f = feed([request("0/1"), request("1/4")], batch=N)
    batch = f.batch(0)
    assert rows(batch, "0/1") != rows(batch, "1/4")
    assert sorted(rows(batch, "0/1")) == sorted(rows(batch, "1/4"))


def test_fields_of_one_draw_stay_aligned() -> None:
    batch = feed([request()]).batch(3)["0/1"]
    np.testing.assert_array_equal(batch[0][:, 0, 0, 0].astype(int) % 3, batch[1])


def test_processes_split_the_global_batch() -> None:
    whole = rows(feed([request()], batch=6).batch(5))
    parts = [rows(feed([request()], batch=6, process=p, processes=3).batch(5)) for p in range(3)]
    assert [r for part in parts for r in part] == whole


def test_rows_gathered_anywhere_are_the_batch() -> None:
    """``rows`` is what the loop gathers on the device: the same arrays as ``batch``."""
    f = feed([request("0/1"), request("1/4")], batch=7, seed=3)
    for step in (0, 1, 5):
        batch = f.batch(step)
        for key, rows_ in f.rows(step).items():
            for array, gathered in zip(f.sources[f.source_of[key]].arrays, batch[key],
                                       strict=True):
                np.testing.assert_array_equal(array[rows_], gathered)
    assert f.nbytes == sum(a.nbytes for a in f.sources["pairs"].arrays)


# -- prefetching -------------------------------------------------------------------------


@given(st.lists(st.integers(0, 40), min_size=1, max_size=30))
def test_a_prefetched_batch_is_the_one_its_step_would_make(steps: list[int]) -> None:
    """Whatever order the steps are asked in (in turn, a resume, a repeat), each batch is
    ``make(step)``; the one made ahead is made on the background thread."""
    made: list[tuple[int, str]] = []

    def make(step: int) -> tuple[int, np.ndarray]:
        made.append((step, threading.current_thread().name))
        return step, np.full(3, step)

    prefetch = feeding.Prefetch(make)
    try:
        for step in steps:
            got, array = prefetch(step)
            assert got == step and (array == step).all()
    finally:
        prefetch.close()
    ahead = [name for step, name in made if name.startswith("taskdsl-prefetch")]
    assert len(ahead) >= sum(1 for a, b in itertools.pairwise(steps) if b == a + 1)


def test_steps_in_turn_are_each_made_once_and_ahead() -> None:
    made: list[tuple[int, str]] = []
    prefetch = feeding.Prefetch(
        lambda step: made.append((step, threading.current_thread().name)) or step)
    assert [prefetch(s) for s in range(5)] == list(range(5))
    prefetch.close()
    # Step 5 was asked ahead and dropped at close (made or not, as the thread got to it).
    assert sorted(s for s, _ in made)[:5] == list(range(5)) and len(made) <= 6
    assert all(name.startswith("taskdsl-prefetch") for s, name in made if s > 0)
