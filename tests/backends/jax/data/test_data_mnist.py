"""MNIST: the IDX parser on files written here, the lookup order, and the real files."""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from taskdsl.backends.jax.data import DataError, load, load_mnist, parse_idx, read_idx

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist(folder: Path, n: int, gz: bool = False, dot: bool = False) -> np.ndarray:
    """Small MNIST-shaped IDX files in ``folder``; returns the images written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    sep = "." if dot else "-"
    for stem in ("train", "t10k"):
        for kind, array, ndim in (("images", images, 3), ("labels", labels, 1)):
            data = idx_bytes(array)
            name = f"{stem}-{kind}{sep}idx{ndim}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return images


def test_idx_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a.idx", "a.idx.gz"):
        back = read_idx(tmp_path / name)
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(back, array)


def test_idx_big_endian_types_come_back_native() -> None:
    array = np.array([[1, -2], [300000, 4]], dtype=">i4")
    back = parse_idx(idx_bytes(array, code=0x0C))
    assert back.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(back, [[1, -2], [300000, 4]])


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (idx_bytes(np.zeros((4, 5), np.uint8))[:-1], "but 19 follow"),
        (idx_bytes(np.zeros((4, 5), np.uint8)) + b"\0", "but 21 follow"),
        (b"\0\0\x08\x03\0\0", "announces 3 sizes but is cut short"),
        (b"\x01\x02\x08\x01", "no IDX header"),
        (b"\0\0\x07\x01\0\0\0\0", "dtype byte 0x07"),
    ],
)
def test_corrupt_idx_is_a_data_error(raw: bytes, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        parse_idx(raw, "x.idx")


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"cut\.gz"):
        read_idx(tmp_path / "cut.gz")


def test_truncated_images_file_fails_the_load(tmp_path: Path) -> None:
    write_mnist(tmp_path, 20)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_mnist(path=tmp_path)


@pytest.mark.parametrize(("gz", "dot"), [(False, False), (True, True)])
def test_load_from_path_option(tmp_path: Path, gz: bool, dot: bool) -> None:
    images = write_mnist(tmp_path, 12, gz=gz, dot=dot)
    ds = load_mnist("test", path=str(tmp_path), limit=5)
    assert list(ds.fields) == ["image", "label"]
    assert ds.fields["image"].shape == (5, 28, 28, 1)
    assert ds.fields["image"].dtype == np.float32
    np.testing.assert_allclose(ds.fields["image"][..., 0], images[:5] / 255, rtol=1e-6)
    np.testing.assert_array_equal(ds.fields["label"], [0, 1, 2, 3, 4])
    assert ds.fields["label"].dtype == np.int32
    assert ds.classes == {"label": 10}


def test_mismatched_files_are_a_data_error(tmp_path: Path) -> None:
    write_mnist(tmp_path, 12)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(11, np.uint8)))
    with pytest.raises(DataError, match="do not match"):
        load_mnist(path=tmp_path, limit=3)


def test_data_folder_is_taskdsl_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "env" / "mnist", 7)
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    assert len(load_mnist()) == 7


def test_an_explicit_path_without_the_files_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``path = "/nope/mnist"`` never falls back to another copy, even one that is there."""
    write_mnist(tmp_path / "env" / "mnist", 7)
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as caught:
        load("mnist", path=str(tmp_path / "nowhere"))
    message = str(caught.value)
    assert "train-images-idx3-ubyte" in message
    assert f"in {tmp_path / 'nowhere'} (path = option)" in message
    assert str(tmp_path / "env") not in message
    assert "fix the path" in message
    assert caught.value.problem is not None and caught.value.problem.code == "data-missing-file"


def test_missing_files_say_where_and_which_command_fetches_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        load("mnist")
    message = str(caught.value)
    assert f"in {tmp_path / 'env' / 'mnist'} ($TASKDSL_DATA/mnist)" in message
    assert "`taskdsl data fetch mnist`" in message
    assert "training never downloads anything" in message


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME is the Linux convention")
def test_without_taskdsl_data_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset, the data live in the per-user folder (``platformdirs``), whatever the current
    directory; a checkout's neighbouring folders are never searched."""
    monkeypatch.delenv("TASKDSL_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        load_mnist()
    message = str(caught.value)
    assert f"in {tmp_path / 'xdg' / 'taskdsl' / 'mnist'} (the user data folder)" in message
    write_mnist(tmp_path / "xdg" / "taskdsl" / "mnist", 4)
    assert len(load_mnist("test")) == 4


def test_no_product_code_names_the_test_data_folder() -> None:
    package = Path(__file__).resolve().parents[4] / "backends" / "jax" / "data"
    for source in package.glob("*.py"):
        assert "shared/data" not in source.read_text(encoding="utf-8"), source
        assert '"shared"' not in source.read_text(encoding="utf-8"), source


def test_bad_options_are_data_errors() -> None:
    with pytest.raises(DataError, match="option `limit` must be an integer >= 1"):
        load_mnist(limit=0)
    with pytest.raises(DataError, match='option `split` must be one of "train", "test"'):
        load_mnist(split="validation")


def test_full_mnist_from_taskdsl_data(real_mnist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKDSL_DATA", str(real_mnist.parent))
    train = load("mnist", split="train")
    assert train.fields["image"].shape == (60000, 28, 28, 1)
    assert 0.0 == train.fields["image"].min() < train.fields["image"].max() == 1.0
    assert np.bincount(train.fields["label"]).tolist() == TRAIN_COUNTS
    assert len(load("mnist", split="test")) == 10000
