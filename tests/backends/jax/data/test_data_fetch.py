"""``taskdsl data fetch``/``list``: downloads from a local HTTP server (127.0.0.1), verified by
SHA-256, stored atomically; corrupted downloads refused with nothing left behind."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from taskdsl.backends.jax.data import fetch as fetching
from taskdsl.backends.jax.data import load
from taskdsl.backends.jax.data.fetch import REMOTES, Archive, FetchError, Remote, Source, fetch
from taskdsl.cli import build_parser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTP server on 127.0.0.1 serving a fresh folder: (base URL, folder, paths asked)."""
    root = tmp_path / "server"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=root))
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def remote(name: str, contents: bytes, urls: tuple[str, ...] = (), **more: object) -> Remote:
    return Remote(name, hashlib.sha256(contents).hexdigest(), len(contents), urls, **more)


A, B = b"alpha " * 1000, b"beta " * 300


def patch(monkeypatch: pytest.MonkeyPatch, *files: Remote, archive: Archive | None = None,
          name: str = "toy") -> None:
    monkeypatch.setitem(REMOTES, name, Source(tuple(files), "test data", archive))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_downloads_verifies_and_stores_once(
    served: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root, asked = served
    (root / "a.bin.gz").write_bytes(gzip.compress(A))
    (root / "b.bin").write_bytes(B)
    patch(monkeypatch, remote("a.bin", A, (f"{base}/missing/a.bin.gz", f"{base}/a.bin.gz")),
          remote("b.bin", B, (f"{base}/b.bin",)))
    folder = tmp_path / "data" / "toy"
    done = fetch("toy", folder)
    assert [(f.path.name, f.downloaded) for f in done] == [("a.bin.gz", True), ("b.bin", True)]
    assert gzip.decompress((folder / "a.bin.gz").read_bytes()) == A  # kept as served
    assert (folder / "b.bin").read_bytes() == B
    assert leftovers(folder) == ["a.bin.gz", "b.bin"]  # no temporary file left
    if sys.platform != "win32":  # readable as any file the user writes, not private
        assert (folder / "b.bin").stat().st_mode & 0o777 == fetching._file_mode()
    assert asked == ["/missing/a.bin.gz", "/a.bin.gz", "/b.bin"]  # the 404 was passed over
    again = fetch("toy", folder)
    assert [f.downloaded for f in again] == [False, False]
    assert len(asked) == 3  # intact files are not downloaded twice


@pytest.mark.parametrize("served_bytes", [
    A[:-1] + b"!",                        # same size, one byte changed
    A + b"more",                          # too long
    gzip.compress(A)[:-20],               # a cut gzip stream
    gzip.compress(A + A),                 # a gzip expanding past the file's size
])
def test_a_corrupted_download_is_refused_and_leaves_nothing(
    served: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    served_bytes: bytes,
) -> None:
    base, root, _ = served
    (root / "a.bin").write_bytes(served_bytes)
    patch(monkeypatch, remote("a.bin", A, (f"{base}/a.bin",)))
    folder = tmp_path / "toy"
    with pytest.raises(FetchError) as caught:
        fetch("toy", folder)
    message = str(caught.value)
    assert f"{base}/a.bin:" in message
    assert any(word in message for word in ("corrupted", "gzip", "more than"))
    assert leftovers(folder) == []


def test_a_corrupted_file_already_there_is_replaced(
    served: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root, _ = served
    (root / "a.bin").write_bytes(A)
    patch(monkeypatch, remote("a.bin", A, (f"{base}/a.bin",)))
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "a.bin.gz").write_bytes(gzip.compress(b"not it"))
    assert [f.downloaded for f in fetch("toy", folder)] == [True]
    assert leftovers(folder) == ["a.bin"]  # the bad other form is gone
    assert (folder / "a.bin").read_bytes() == A


def test_from_a_folder_or_file_url_under_any_usual_name(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.idx.bin.gz").write_bytes(gzip.compress(A))  # the other spelling, gzipped
    patch(monkeypatch, remote("a-idx.bin", A, ("https://example.invalid/a",),
                              aliases=("a.idx.bin",)))
    assert fetch("toy", tmp_path / "one", str(mirror))[0].path.name == "a-idx.bin.gz"
    assert fetch("toy", tmp_path / "two", mirror.as_uri())[0].path.name == "a-idx.bin.gz"
    with pytest.raises(FetchError, match="only http://, https://, file://"):
        fetch("toy", tmp_path / "three", "ftp://example.invalid/")
    (mirror / "a.idx.bin.gz").unlink()
    with pytest.raises(FetchError) as caught:
        fetch("toy", tmp_path / "four", str(mirror))
    assert str(caught.value).count("no such file") == 4  # every usual name, briefly


def test_a_failure_lists_only_the_files_still_missing(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.bin.gz").write_bytes(gzip.compress(A))  # found under its second name
    patch(monkeypatch, remote("a.bin", A), remote("b.bin", B))
    with pytest.raises(FetchError) as caught:
        fetch("toy", tmp_path / "toy", str(mirror))
    assert "  b.bin:" in str(caught.value) and "  a.bin:" not in str(caught.value)
    assert leftovers(tmp_path / "toy") == ["a.bin.gz"]  # what verified is kept


def test_files_taken_out_of_a_verified_archive(
    served: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root, _ = served
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        for name, data in (("pack/a.txt", A), ("pack/b.txt", B)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (root / "pack.tar.gz").write_bytes(packed.getvalue())
    archive = Archive(f"{base}/pack.tar.gz", hashlib.sha256(packed.getvalue()).hexdigest())
    patch(monkeypatch, remote("a.txt", A, member="pack/a.txt"),
          remote("b.txt", B, member="pack/b.txt"), archive=archive)
    folder = tmp_path / "toy"
    assert sorted(f.path.name for f in fetch("toy", folder)) == ["a.txt", "b.txt"]
    assert (folder / "b.txt").read_bytes() == B
    assert leftovers(folder) == ["a.txt", "b.txt"]
    # An archive that is not the published one is refused before anything is taken out.
    patch(monkeypatch, remote("a.txt", A, member="pack/a.txt"),
          archive=Archive(archive.url, "0" * 64))
    with pytest.raises(FetchError, match="corrupted"):
        fetch("toy", tmp_path / "other")
    assert leftovers(tmp_path / "other") == []


def test_registry_sums_are_well_formed() -> None:
    for name, source in REMOTES.items():
        assert source.licence, name
        for file in source.files:
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0, file.name
            assert file.size > 0 and (file.urls or (file.member and source.archive)), file.name
            assert all(u.startswith("https://") for u in file.urls), file.name


def test_real_mnist_over_http_then_loaded_offline(
    served: tuple[str, Path, list[str]], real_mnist: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real registry's sums verify the real files (as a mirror spells them), and a run
    then reads them from the data folder with no network."""
    base, root, _ = served
    for file in real_mnist.glob("*-ubyte*"):
        shutil.copy(file, root / file.name)
    folder = tmp_path / "data" / "mnist"
    done = fetch("mnist", folder, base)
    assert sorted(f.path.name for f in done) == sorted(
        f"{r.name}.gz" for r in REMOTES["mnist"].files)
    assert fetching.verify("mnist", folder) == {r.name: None for r in REMOTES["mnist"].files}
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "data"))
    assert len(load("mnist", split="test")) == 10000


def test_real_sentiment_from_a_folder(real_sentiment: Path, tmp_path: Path) -> None:
    done = fetch("sentiment", tmp_path / "sentiment", str(real_sentiment))
    assert len(done) == 2 and all(f.downloaded for f in done)


# ---------------------------------------------------------------------- the command


def cli(*args: str) -> int:
    parsed = build_parser().parse_args(["data", *args])
    return parsed.handler(parsed)


def test_fetch_command(served: tuple[str, Path, list[str]], tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    base, root, _ = served
    (root / "a.bin").write_bytes(A)
    patch(monkeypatch, remote("a.bin", A, (f"{base}/a.bin",)))
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path / "default"))
    assert cli("fetch", "toy", "--quiet") == 0
    assert f"a.bin: fetched from {base}/a.bin" in capsys.readouterr().out
    assert (tmp_path / "default" / "toy" / "a.bin").read_bytes() == A
    assert cli("fetch", "datasets.toy", "--dir", str(tmp_path / "elsewhere"), "--quiet") == 0
    out = capsys.readouterr().out
    assert f"TASKDSL_DATA={tmp_path / 'elsewhere'}" in out
    (root / "a.bin").write_bytes(B)
    assert cli("fetch", "toy", "--dir", str(tmp_path / "third"), "--quiet") == 1
    err = capsys.readouterr().err
    assert "could not fetch data set `toy`" in err and "corrupted" in err
    assert "a.bin:" in err
    assert leftovers(tmp_path / "third" / "toy") == []


def test_fetch_command_refuses_what_it_cannot_fetch(capsys: pytest.CaptureFixture) -> None:
    assert cli("fetch", "mnsit", "--quiet") == 2
    assert "unknown data set 'mnsit'" in capsys.readouterr().err
    assert cli("fetch", "digits", "--quiet") == 2
    assert "shipped with taskdsl" in capsys.readouterr().err


def test_list_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("TASKDSL_DATA", str(tmp_path))
    (tmp_path / "sentiment").mkdir()
    for file in REMOTES["sentiment"].files:
        (tmp_path / "sentiment" / f"{file.name}.gz").write_bytes(b"")
    assert cli("list") == 0
    out = capsys.readouterr().out
    assert "datasets.mnist" in out and "image (28, 28, 1) float32; label () int32, 10 classes" in out
    assert f"not fetched (taskdsl data fetch mnist stores them in {tmp_path / 'mnist'})" in out
    assert f"present in {tmp_path / 'sentiment'}" in out
    assert "datasets.digits" in out and "shipped with taskdsl" in out
    assert "datasets.npz" in out


def test_training_never_reaches_the_network() -> None:
    """Only ``fetch`` may open a URL: no other data module names a network module, and
    loading every shipped data set imports none."""
    package = Path(fetching.__file__).parent
    for source in package.glob("*.py"):
        if source.name not in ("fetch.py", "catalogue.py"):
            text = source.read_text(encoding="utf-8")
            assert not any(m in text for m in ("urllib", "http.client", "socket")), source
    code = ("import sys; from taskdsl.backends.jax import data; data.load('digits'); "
            "data.load('sprites', n=2); from taskdsl.backends.jax.training import feed; "
            "print(sorted(m for m in ('urllib.request', 'http.client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
