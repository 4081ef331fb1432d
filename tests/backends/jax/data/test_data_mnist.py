"""MNIST: the IDX parser on files written here, the lookup order, and the real files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from taskdsl.backends.jax.data import DataError, load, load_mnist, parse_idx, read_idx

ROOT = Path(__file__).resolve().parents[4]
SHARED = ROOT.parent / "shared" / "data"
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


def test_env_var_is_searched_after_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "env" / "mnist", 7)
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    assert len(load_mnist(path=tmp_path / "empty")) == 7


def test_missing_files_list_every_place_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as caught:
        load("mnist", path=str(tmp_path / "nowhere"))
    message = str(caught.value)
    assert "train-images-idx3-ubyte" in message
    assert str(tmp_path / "nowhere") in message
    assert str(tmp_path / "env" / "mnist") in message
    assert str(tmp_path.parent / "shared" / "data" / "mnist") in message
    assert "mnist-dir" in message


def test_unset_places_are_said_to_be_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKDSL_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"\$TASKDSL_DATA/mnist: not set"):
        load_mnist()


def test_bad_options_are_data_errors() -> None:
    with pytest.raises(DataError, match="option `limit` must be an integer >= 1"):
        load_mnist(limit=0)
    with pytest.raises(DataError, match='option `split` must be one of "train", "test"'):
        load_mnist(split="validation")


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="no ../shared/data/mnist")
def test_full_mnist_from_the_default_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKDSL_DATA", raising=False)
    monkeypatch.chdir(ROOT)
    train = load("mnist", split="train")
    assert train.fields["image"].shape == (60000, 28, 28, 1)
    assert 0.0 == train.fields["image"].min() < train.fields["image"].max() == 1.0
    assert np.bincount(train.fields["label"]).tolist() == TRAIN_COUNTS
    assert len(load("mnist", split="test")) == 10000
