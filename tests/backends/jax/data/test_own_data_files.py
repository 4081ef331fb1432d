"""A researcher's own files as data (issue 12): ``datasets.images`` (a folder of images, one
sub-folder per class) and ``datasets.csv`` (a table with a header), bound by name, checked
against the wires at the ``data`` line, and trained on through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from taskdsl import cli
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.data import DataError, describe, load, problems
from taskdsl.backends.jax.data.catalogue import rows
from taskdsl.loader import check_text

CLASSES = ("zebra", "ant", "moth")  # sorted: ant 0, moth 1, zebra 2


def make_images(folder: Path, per_class: int = 6, size: tuple[int, int] = (6, 5),
                classes: tuple[str, ...] = CLASSES) -> None:
    """Grey images whose brightness tells the class apart (class i of n: about i/(n-1))."""
    rng = np.random.default_rng(0)
    for index, name in enumerate(sorted(classes)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            level = 40 + 170 * index / max(len(classes) - 1, 1)
            pixels = np.clip(level + rng.normal(0, 10, size), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{k}.png")
    (folder / "README.txt").write_text("not an image, not a class", encoding="utf-8")


# ---------------------------------------------------------------------- datasets.images


def test_each_sub_folder_is_a_class_in_sorted_order(tmp_path: Path) -> None:
    make_images(tmp_path / "pics")
    (tmp_path / "pics" / "ant" / "notes.txt").write_text("skipped", encoding="utf-8")
    dataset = load("images", path=str(tmp_path / "pics"))
    image, label = dataset.fields["image"], dataset.fields["label"]
    assert image.shape == (18, 6, 5, 1) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() <= 1
    assert dataset.extras["class_names"] == sorted(CLASSES)
    assert dataset.classes == {"label": 3}
    # brighter folders have higher indices, so labels follow the folders, not file order
    means = [image[label == k].mean() for k in range(3)]
    assert means == sorted(means)
    spec = describe("images", {"path": str(tmp_path / "pics")})
    assert spec is not None
    assert spec["image"].shape == image.shape[1:] and spec["label"].classes == 3


def test_size_and_channels_resize_and_convert(tmp_path: Path) -> None:
    make_images(tmp_path / "pics")
    dataset = load("images", path=str(tmp_path / "pics"), size=[4, 3], channels=3)
    assert dataset.fields["image"].shape == (18, 4, 3, 3)
    spec = describe("images", {"path": str(tmp_path / "pics"), "size": [4, 3], "channels": 3})
    assert spec is not None and spec["image"].shape == (4, 3, 3)


def test_train_and_test_sub_folders_are_the_split(tmp_path: Path) -> None:
    make_images(tmp_path / "pics" / "train", per_class=4)
    make_images(tmp_path / "pics" / "test", per_class=2)
    train = load("images", path=str(tmp_path / "pics"), split="train")
    test = load("images", path=str(tmp_path / "pics"), split="test")
    assert len(train) == 12 and len(test) == 6
    assert sorted(set(test.fields["label"].tolist())) == [0, 1, 2]


def test_without_sub_folders_a_split_is_a_fixed_disjoint_fraction(tmp_path: Path) -> None:
    make_images(tmp_path / "pics", per_class=10)
    whole = load("images", path=str(tmp_path / "pics")).fields["image"]
    parts = [load("images", path=str(tmp_path / "pics"), split=s, test_fraction=0.3,
                  seed=4).fields["image"] for s in ("train", "test")]
    assert [len(p) for p in parts] == [21, 9]
    rows_of = [{whole_row.tobytes() for whole_row in p} for p in parts]
    assert not rows_of[0] & rows_of[1]
    assert rows_of[0] | rows_of[1] == {row.tobytes() for row in whole}


def test_ragged_sizes_are_an_error_unless_resized(tmp_path: Path) -> None:
    make_images(tmp_path / "pics")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "pics" / "moth" / "big.png")
    with pytest.raises(DataError, match=r"images differ in size.*big.png.*size = \[H, W\]"):
        load("images", path=str(tmp_path / "pics"))
    assert len(load("images", path=str(tmp_path / "pics"), size=[6, 5])) == 19


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: (p / "ant" / "0.png").write_bytes(b"not a png"), "cannot read"),
    (lambda p: [f.unlink() for f in (p / "moth").iterdir()], "holds no image"),
    (lambda p: (p / "train").mkdir() or (p / "test" / "x").mkdir(parents=True),
     "same class sub-folders"),
])
def test_a_bad_folder_is_a_data_error(tmp_path: Path, damage, message: str) -> None:
    make_images(tmp_path / "pics")
    damage(tmp_path / "pics")
    with pytest.raises(DataError, match=message):
        load("images", path=str(tmp_path / "pics"))


def test_a_missing_or_empty_folder_is_an_error_never_a_fall_back(tmp_path: Path) -> None:
    found = problems("images", {"path": str(tmp_path / "nope")})
    assert [p.code for p in found] == ["data-missing-file"]
    assert "nope" in found[0].message
    (tmp_path / "empty").mkdir()
    found = problems("images", {"path": str(tmp_path / "empty")})
    assert [p.code for p in found] == ["data-file-invalid"] and "no sub-folders" in found[0].message
    assert [p.code for p in problems("images", {"path": "x", "size": [0, 3]})] == \
        ["data-option-value"]


# ---------------------------------------------------------------------- datasets.csv


def write_table(file: Path, header: list[str], body: list[list[object]], sep: str = ",") -> Path:
    file.write_text("\n".join(sep.join(str(c) for c in row) for row in [header, *body]) + "\n",
                    encoding="utf-8")
    return file


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(st.floats(-1e6, 1e6, width=32), st.floats(-1e6, 1e6, width=32),
                                 st.sampled_from(["setosa", "virginica", "b", "10"])),
                       min_size=1, max_size=20),
       sep=st.sampled_from([",", "\t"]))
def test_columns_are_fields_by_name(tmp_path: Path, values: list, sep: str) -> None:
    """``x.0, x.1`` form one field ``x``; a label column is classes in sorted order
    (numbers first)."""
    suffix = ".tsv" if sep == "\t" else ".csv"
    file = write_table(tmp_path / f"t{suffix}", ["x.1", "x.0", "kind"],
                       [[b, a, k] for a, b, k in values], sep)
    dataset = load("csv", path=str(file), labels=["kind"])
    x, kind = dataset.fields["x"], dataset.fields["kind"]
    assert x.shape == (len(values), 2) and x.dtype == np.float32
    assert np.array_equal(x, np.array([[a, b] for a, b, _ in values], np.float32))
    names = dataset.extras["class_names"]["kind"]
    assert [names[i] for i in kind] == [k for _, _, k in values]
    assert dataset.classes["kind"] == len(set(names)) == len(names)
    assert names == sorted(names, key=lambda c: (not c.isdigit(), c))  # numbers first
    spec = describe("csv", {"path": str(file), "labels": ["kind"]})
    assert spec is not None and spec["x"].shape == (2,) and spec["kind"].classes == len(names)


def test_labels_option_takes_a_numeric_column_as_classes(tmp_path: Path) -> None:
    file = write_table(tmp_path / "t.csv", ["h", "grade"], [[1.5, 7], [2, 3], [0, 7]])
    dataset = load("csv", path=str(file), labels=["grade"])
    assert dataset.fields["grade"].tolist() == [1, 0, 1]
    assert dataset.extras["class_names"]["grade"] == ["3", "7"]
    assert dataset.fields["h"].shape == (3, 1)
    assert load("csv", path=str(file)).fields["grade"].dtype == np.float32


@pytest.mark.parametrize(("header", "body", "message"), [
    (["a", "b"], [[1, 2], [3, "x"]], r"line 3: column 'b' holds numbers elsewhere but 'x'"),
    (["a", "b"], [[1, 2], [3]], r"line 3: 1 cells, but the header names 2"),
    (["a", "b"], [[1, 2], [3, " "]], r"line 3: column 'b' is empty"),
    (["a"], [], r"needs a header line"),
    (["x.0", "x.2"], [[1, 2]], r"form field 'x'"),
])
def test_a_bad_table_is_an_error_at_its_line(tmp_path: Path, header, body, message) -> None:
    file = write_table(tmp_path / "t.csv", header, body)
    with pytest.raises(DataError, match=message):
        load("csv", path=str(file))
    assert [p.code for p in problems("csv", {"path": str(file)})] == ["data-file-invalid"]


def test_a_missing_table_is_an_error(tmp_path: Path) -> None:
    assert [p.code for p in problems("csv", {"path": str(tmp_path / "no.csv")})] == \
        ["data-missing-file"]


def test_own_data_sets_are_listed() -> None:
    listed = {name: where for name, _, where in rows()}
    assert "folder of images" in listed["datasets.images"]
    assert ".csv" in listed["datasets.csv"]
    assert "--allow-import" in listed["package.module.function(...)"]


# ---------------------------------------------------------------------- in a task file

IMAGE_TASK = """\
type Image = Real[{shape}]
type Label = Class[{classes}]
data pics : -> Image, Label
learner get : Image -> Label

task classify:
    x, y <- pics
    get(x) = y

train classify:
    data pics = {call}
    steps 40
    batch 16
"""
IMAGES_CALL = 'datasets.images(path = "pics", size = [6, 5])'
CSV_CALL = 'datasets.csv(path = "t.csv", fields = ["x", "kind"])'


def checked(text: str) -> list[tuple[str, int | None]]:
    """The backend check's problems as (code, line)."""
    result = check_text(text, "t.task")
    assert result.ok, result.render()
    return [(d.code, d.span.line if d.span else None)
            for d in check_program(result.program, training=True)]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding an image folder and a table, as a user's project would."""
    make_images(tmp_path / "pics", per_class=12)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 2))
    kind = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    write_table(tmp_path / "t.csv", ["x.0", "x.1", "kind"],
                [[a, b, k] for (a, b), k in zip(x, kind, strict=True)])
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("call", "shape", "classes"), [
    (IMAGES_CALL, "6, 5, 1", 3), (CSV_CALL, "2", 2)])
def test_a_binding_is_checked_against_the_wires_at_the_data_line(
        folder: Path, call: str, shape: str, classes: int) -> None:
    assert checked(IMAGE_TASK.format(shape=shape, classes=classes, call=call)) == []
    assert checked(IMAGE_TASK.format(shape=shape, classes=classes + 2, call=call)) == \
        [("data-field-classes", 11)]
    assert checked(IMAGE_TASK.format(shape="7", classes=classes, call=call)) == \
        [("data-field-shape", 11)]
    missing = call.replace('"pics"', '"nope"').replace('"t.csv"', '"nope.csv"')
    assert checked(IMAGE_TASK.format(shape=shape, classes=classes, call=missing)) == \
        [("data-missing-file", 11)]


def train_losses(task: Path, out: Path, capsys: pytest.CaptureFixture[str], *args: str
                 ) -> list[float]:
    """``taskdsl train`` through the command line's ``main``: each logged loss."""
    code = cli.main(["train", str(task), "--quiet", "--set", "log_every=5", "--out", str(out),
                     *args])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["loss"] for line in lines]


@pytest.mark.parametrize(("call", "shape", "classes"), [
    (IMAGES_CALL, "6, 5, 1", 3), (CSV_CALL, "2", 2)])
def test_training_on_own_files_lowers_the_loss(folder: Path, capsys: pytest.CaptureFixture[str],
                                               call: str, shape: str, classes: int) -> None:
    task = folder / "t.task"
    task.write_text(IMAGE_TASK.format(shape=shape, classes=classes, call=call), encoding="utf-8")
    losses = train_losses(task, folder / "run", capsys)
    assert len(losses) >= 5 and losses[-1] < 0.7 * losses[0]


def test_a_wrong_wire_stops_training_with_a_located_message(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = folder / "t.task"
    task.write_text(IMAGE_TASK.format(shape="6, 5, 1", classes=5, call=IMAGES_CALL),
                    encoding="utf-8")
    code = cli.main(["train", str(task), "--quiet", "--out", str(folder / "run")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "t.task:11" in err and "3 classes" in err
