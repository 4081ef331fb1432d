"""``datasets.npz``: a researcher's own arrays, bound by name, checked from the file's headers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taskdsl.backends.jax import data
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.data import DataError, FieldSpec, describe, load, problems
from taskdsl.backends.jax.data import npz as npz_module
from taskdsl.loader import check_text

N = 40


@pytest.fixture
def mine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's file in the current directory: labels first, images float64, a split mark."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "mine.npz", colour=np.arange(N) % 4,
             image=rng.random((N, 6, 6, 3)),
             raw=rng.integers(0, 256, (N, 2), dtype=np.uint8),
             part=np.where(np.arange(N) % 4 == 0, "test", "train"))
    return tmp_path / "mine.npz"


def test_each_array_is_a_field_by_name(mine: Path) -> None:
    ds = load("npz", path="mine.npz")
    assert list(ds.fields) == ["colour", "image", "raw", "part"]
    assert ds.fields["image"].dtype == np.float32 and ds.fields["image"].shape == (N, 6, 6, 3)
    assert ds.fields["colour"].dtype == np.int32 and ds.classes == {"colour": 4}
    assert ds.fields["raw"].dtype == np.uint8  # kept as stored
    described = describe("npz", {"path": "mine.npz", "split_by": "part"})
    assert described == {"colour": FieldSpec((), "int32", 4),
                         "image": FieldSpec((6, 6, 3), "float32"),
                         "raw": FieldSpec((2,), "uint8")}


def test_describing_reads_headers_and_labels_only(mine: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    """A check reads each array's header and the labels (one number per example), never
    an image: ``np.load`` is unavailable, and only ``colour`` is read."""
    labels = np.load(mine)["colour"]
    read: list[str] = []

    def member(file: Path, name: str) -> np.ndarray:
        read.append(name)
        return labels

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the check loaded arrays")

    monkeypatch.setattr(npz_module, "_member", member)
    monkeypatch.setattr(np, "load", refuse)
    assert describe("npz", {"path": str(mine)})["colour"].classes == 4  # type: ignore[index]
    assert read == ["colour"]


@pytest.mark.parametrize("marks", [
    np.where(np.arange(N) % 4 == 0, "test", "train"),
    (np.arange(N) % 4 == 0),
    (np.arange(N) % 4 == 0).astype(np.int8),
])
def test_split_by_a_named_array(tmp_path: Path, marks: np.ndarray) -> None:
    np.savez(tmp_path / "m.npz", x=np.arange(N, dtype=np.float64)[:, None], part=marks)
    test = load("npz", path=str(tmp_path / "m.npz"), split="test", split_by="part")
    train = load("npz", path=str(tmp_path / "m.npz"), split="train", split_by="part")
    assert list(test.fields) == ["x"]  # the mark is not a field
    assert test.fields["x"][:, 0].tolist() == list(range(0, N, 4))
    assert len(train) == N - len(test)


def test_split_by_a_fraction_is_fixed_disjoint_and_complete(mine: Path) -> None:
    def ids(split: str, seed: int = 0) -> list[int]:
        ds = load("npz", path="mine.npz", split=split, test_fraction=0.25, seed=seed)
        return sorted(int(v * 1e6) for v in ds.fields["image"][:, 0, 0, 0])

    train, test = ids("train"), ids("test")
    assert len(test) == N // 4 and len(train) == N - N // 4
    assert not set(train) & set(test)
    assert ids("test") == test and ids("test", seed=1) != test


@pytest.mark.parametrize(("arrays", "options", "fragment"), [
    ({"x": np.zeros((3, 2)), "y": np.zeros(4)}, {}, "must share their first axis"),
    ({"x": np.zeros(3)}, {"split": "test", "split_by": "part"}, "no array 'part'"),
    ({"x": np.zeros(3), "part": np.array([0, 1, 2])}, {"split": "test", "split_by": "part"},
     "cannot split the rows"),
    ({"x": np.array([{}, {}], dtype=object)}, {}, "never unpickled"),
    ({"x": np.float64(3.0)}, {}, "must share their first axis"),
])
def test_a_bad_file_is_a_data_error(tmp_path: Path, arrays: dict, options: dict,
                                    fragment: str) -> None:
    np.savez(tmp_path / "bad.npz", **arrays)  # object arrays are pickled: never read back
    with pytest.raises(DataError, match=fragment):
        load("npz", path=str(tmp_path / "bad.npz"), **options)
    if "split" not in options or "no array" in fragment:  # found without loading, too
        assert [p.code for p in problems("npz", {"path": str(tmp_path / "bad.npz"),
                                                 **options})] == ["data-file-invalid"]


def test_a_missing_or_unnamed_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load("npz", path=str(tmp_path / "nope.npz"))
    assert caught.value.problem is not None and caught.value.problem.code == "data-missing-file"
    assert f"cannot find {tmp_path / 'nope.npz'}" in str(caught.value)
    found = problems("npz", {})
    assert [p.code for p in found] == ["data-option-value"]
    assert "option `path` must be the path of a .npz file" in found[0].message
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        load("npz", path=str(tmp_path / "junk.npz"))


# ---------------------------------------------------------------------- bound in a task file

TASK = """\
type Image = Real[6, 6, 3]
type Colour = Class[{classes}]
data sprites : -> Image, Colour
learner get : Image -> Colour

task classify:
    x, y <- sprites
    get(x) = y

train classify:
    data sprites = datasets.npz(path = "mine.npz"{more})
    steps 1
"""


def check(classes: int = 4, more: str = "") -> list[tuple[str, str]]:
    result = check_text(TASK.format(classes=classes, more=more), "t.task")
    assert result.ok, result.render()
    return [(d.code, d.message) for d in check_program(result.program, training=True)]


def test_bound_by_the_types_names(mine: Path) -> None:
    """``Image, Colour`` take the fields ``image`` and ``colour``, though ``colour`` is
    first in the file."""
    assert check() == []
    assert check(more=', fields = ["image", "colour"]') == []


def test_a_class_wire_of_another_count_is_an_error(mine: Path) -> None:
    found = check(classes=6)
    assert [code for code, _ in found] == ["data-field-classes"]
    assert "field `colour` of data set `npz`, with 4 classes, but the wire has 6" in found[0][1]


def test_fields_by_name_are_checked(mine: Path) -> None:
    found = check(more=', fields = ["image", "raw"]')
    assert [code for code, _ in found] == ["data-field-shape"]
    found = check(more=', fields = ["image", "colur"]')
    assert [code for code, _ in found] == ["data-field-unknown"]


def test_a_run_binds_the_same_fields(mine: Path) -> None:
    from taskdsl.backends.jax.training.feed import bind
    from taskdsl.queries import data_requests

    result = check_text(TASK.format(classes=4, more=""), "t.task")
    program = result.program
    bindings = {"sprites": program.trainings["classify"].data["sprites"]}
    bound = bind(data_requests(program, program.objective("classify")), bindings, "classify")
    image, colour = bound["sprites"].arrays
    assert image.shape == (N, 6, 6, 3) and colour.tolist() == (np.arange(N) % 4).tolist()


def test_npz_is_listed(mine: Path) -> None:
    assert "npz" in data.LOADERS and "npz" in data.DESCRIPTIONS


def test_types_named_after_fields_bind_by_name_for_every_data_set() -> None:
    """``data s : -> Image, Colour`` on the sprites takes ``image`` and ``colour`` (the
    first two fields would be ``image`` and ``shape``, with 4 classes, not 6); a type not
    named after a field keeps the first fields."""
    from taskdsl.backends.jax.training.feed import by_type_names
    from taskdsl.types import WireType

    image, colour = WireType("Real", (8, 8, 3), "Image"), WireType("Class", (6,), "Colour")
    fields = list(describe("sprites", {"size": 8}) or {})
    assert by_type_names([image, colour], fields) == ["image", "colour"]
    assert by_type_names([image, WireType("Class", (6,))], fields) is None
    assert by_type_names([image, image], fields) is None  # one field cannot feed two outputs
    text = TASK.replace("Real[6, 6, 3]", "Real[8, 8, 3]").format(classes=6, more="")
    text = text.replace('datasets.npz(path = "mine.npz")', "datasets.sprites(size = 8)")
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    assert check_program(result.program, training=True) == []
