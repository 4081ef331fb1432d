"""Downloading a data set's files once, verified, for ``taskdsl data fetch``.

Training never reaches the network: this module is the only one that does, and only
when a user asks.  Each file of a data set is listed in :data:`REMOTES` with the
SHA-256 and size of its *uncompressed* contents (the canonical sums, the same whether a
mirror serves it gzipped or not), and the public URLs it is published at.  A download
is streamed into a temporary file beside its destination, hashed as it arrives, and
renamed into place only when size and hash match: an interrupted or corrupted download
leaves nothing that a run could read.

``source`` (``--from``) replaces the canonical URLs by a mirror: a base URL
(``https://...``, ``file://...``) or a local folder, holding the files under any of
their usual names, plain or gzipped (or, for a data set published as an archive, that
archive).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import messages
from .locate import spellings

CHUNK = 1 << 16
TIMEOUT_S = 60
SCHEMES = ("http", "https", "file")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Remote:
    """One file of a data set: its name on disk, what its uncompressed contents hash to,
    where it is published, and the other names mirrors give it."""

    name: str
    sha256: str
    size: int
    urls: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    member: str | None = None  # its path inside the data set's archive, if it comes in one

    def names(self) -> list[str]:
        """Every name the file may have in a folder or on a mirror, plain or gzipped."""
        return [spelled for stem in (self.name, *self.aliases) for spelled in spellings(stem)]


@dataclass(frozen=True)
class Archive:
    """A tar archive (gzipped or not) that several of a data set's files come in."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Source:
    """Where a data set's files come from, and under which terms."""

    files: tuple[Remote, ...]
    licence: str
    archive: Archive | None = None


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)


def _mnist(name: str, sha256: str, size: int) -> Remote:
    return Remote(name, sha256, size, tuple(f"{base}{name}.gz" for base in _MNIST_MIRRORS),
                  aliases=(name.replace("-idx", ".idx"),))


_VADER = ("https://raw.githubusercontent.com/cjhutto/vaderSentiment/"
          "fb3a8a5d899a8e71cd4872110c28f0d8783bdd4a/additional_resources/hutto_ICWSM_2014.tar.gz")

REMOTES: dict[str, Source] = {
    "mnist": Source(
        files=(
            _mnist("train-images-idx3-ubyte",
                   "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
            _mnist("train-labels-idx1-ubyte",
                   "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
            _mnist("t10k-images-idx3-ubyte",
                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
            _mnist("t10k-labels-idx1-ubyte",
                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
        ),
        licence="MNIST (LeCun, Cortes and Burges), usually cited under CC BY-SA 3.0",
    ),
    "sentiment": Source(
        files=(
            Remote("movieReviewSnippets_GroundTruth.txt",
                   "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350", 1383098,
                   member="hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"),
            Remote("amazonReviewSnippets_GroundTruth.txt",
                   "11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2", 373157,
                   member="hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"),
        ),
        licence="Hutto and Gilbert, ICWSM 2014 (vaderSentiment, MIT licence)",
        archive=Archive(_VADER,
                        "d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa"),
    ),
}
"""Every data set that has files to fetch; the others are shipped or generated."""

Progress = Callable[[str, int | None], Callable[[int], None]]
"""``progress(label, total_bytes)`` gives a callback taking each chunk's size."""


class FetchError(Exception):
    """A file could not be fetched from anywhere; the message says every place tried."""


@dataclass(frozen=True)
class Fetched:
    """What fetching one file did: ``stored`` (downloaded now) or found already there."""

    path: Path
    downloaded: bool
    origin: str


def local_file(folder: Path, remote: Remote) -> Path | None:
    """The copy of ``remote`` in ``folder`` (any of its names), or ``None``."""
    for name in remote.names():
        if (folder / name).is_file():
            return folder / name
    return None


def present(dataset: str, folder: Path) -> bool:
    """Whether ``folder`` holds every file of ``dataset`` (by name; not re-hashed)."""
    return all(local_file(folder, r) is not None for r in REMOTES[dataset].files)


def fetch(dataset: str, folder: Path, source: str | None = None,
          progress: Progress | None = None) -> list[Fetched]:
    """Every file of ``dataset`` in ``folder``: those already there and intact are kept,
    the others downloaded from ``source`` (default: their canonical URLs) and verified.

    Raises :class:`FetchError` saying every place tried when a file cannot be had; the
    files already stored stay (each is whole and verified).
    """
    spec = REMOTES[dataset]
    folder.mkdir(parents=True, exist_ok=True)
    done: list[Fetched] = []
    waiting: list[Remote] = []
    for remote in spec.files:
        existing = local_file(folder, remote)
        if existing is not None and _verify_file(existing, remote) is None:
            done.append(Fetched(existing, False, str(existing)))
        else:
            waiting.append(remote)
    failures: dict[str, list[str]] = {r.name: [] for r in waiting}
    for remote in list(waiting):
        for url in _candidates(remote, source):
            try:
                done.append(Fetched(_download(url, remote, folder, progress), True, url))
                waiting.remove(remote)
                break
            except FetchError as error:
                failures[remote.name].append(f"{url}: {error}")
    if waiting and spec.archive is not None:
        done += _from_archive(spec.archive, waiting, folder, source, progress, failures)
    if waiting:
        raise FetchError(messages.fetch_failed(dataset, {r.name: failures[r.name]
                                                         for r in waiting}))
    return done


def _candidates(remote: Remote, source: str | None) -> list[str]:
    if source is None:
        return list(remote.urls)
    return [_join(source, name) for name in remote.names()]


def _join(source: str, name: str) -> str:
    """``name`` under ``source``: a URL, or a local folder (made a ``file://`` URL)."""
    if "://" in source:  # a URL; one of a scheme not in SCHEMES is refused when opened
        return source.rstrip("/") + "/" + urllib.parse.quote(name)
    return (Path(source).expanduser().absolute() / name).as_uri()


@contextmanager
def _opened(url: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """The response body at ``url`` and its length when known; any failure a FetchError."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise FetchError(messages.fetch_scheme(url, SCHEMES))
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            yield response, int(length) if length and length.isdigit() else None
    except urllib.error.HTTPError as error:
        raise FetchError(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        missing = isinstance(error.reason, FileNotFoundError)
        raise FetchError("no such file" if missing else str(error.reason)) from None
    except (OSError, ValueError) as error:
        raise FetchError(str(error)) from None


def _download(url: str, remote: Remote, folder: Path, progress: Progress | None) -> Path:
    """``remote`` from ``url`` into ``folder``, kept as served (gzipped or not), once its
    uncompressed contents match; nothing is left behind otherwise."""
    with _opened(url) as (body, length):
        tick = progress(remote.name, length) if progress else None
        return _store(body, remote, folder, tick)


def _store(body: BinaryIO, remote: Remote, folder: Path,
           tick: Callable[[int], None] | None = None) -> Path:
    """Copy ``body`` into a temporary file in ``folder``, checking it as it goes, and rename
    it into place (atomically) only if it is ``remote``'s contents."""
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{remote.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            check = _Checker(remote)
            while chunk := body.read(CHUNK):
                out.write(chunk)
                check.feed(chunk)
                if tick is not None:
                    tick(len(chunk))
            why = check.finish()
        if why is not None:
            raise FetchError(why)
        final = folder / (remote.name + (".gz" if check.gzipped else ""))
        os.chmod(temporary, _file_mode())  # a temporary file is private; the data are not
        os.replace(temporary, final)
        for other in remote.names():  # another form of the same file is now redundant
            if other != final.name and (folder / other).is_file():
                (folder / other).unlink()
        return final
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _file_mode() -> int:
    """The mode a new file gets here (``0o666`` less the umask), as ``open`` would give."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class _Checker:
    """Hashes a file's uncompressed contents as its (maybe gzipped) bytes arrive, refusing
    more than its size (so a gzip bomb stops early)."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.hash = hashlib.sha256()
        self.size = 0
        self.gzipped: bool | None = None
        self.inflate = zlib.decompressobj(wbits=31)
        self.error: str | None = None

    def feed(self, chunk: bytes) -> None:
        if self.error is not None:
            return
        if self.gzipped is None:
            self.gzipped = chunk.startswith(_GZIP_MAGIC)
        try:
            data = self.inflate.decompress(chunk, self.remote.size + 1 - self.size) \
                if self.gzipped else chunk
        except zlib.error as error:
            self.error = messages.fetch_bad_gzip(str(error))
            return
        self._count(data)

    def _count(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.remote.size:
            self.error = messages.fetch_too_big(self.remote.size)
        else:
            self.hash.update(data)

    def finish(self) -> str | None:
        """Why the bytes are not the file, or ``None`` if they are."""
        if self.error is None and self.gzipped and not self.inflate.eof:
            self.error = messages.fetch_bad_gzip("the stream is cut short")
        if self.error is not None:
            return self.error
        digest = self.hash.hexdigest()
        if self.size != self.remote.size or digest != self.remote.sha256:
            return messages.fetch_mismatch(self.size, digest, self.remote.size,
                                           self.remote.sha256)
        return None


def _verify_file(path: Path, remote: Remote) -> str | None:
    """Why the file at ``path`` is not ``remote`` (``None`` if it is)."""
    check = _Checker(remote)
    try:
        with path.open("rb") as body:
            while chunk := body.read(CHUNK):
                check.feed(chunk)
    except OSError as error:
        return str(error)
    return check.finish()


def verify(dataset: str, folder: Path) -> dict[str, str | None]:
    """Each file of ``dataset`` in ``folder``: why it is missing or wrong, ``None`` if intact."""
    found: dict[str, str | None] = {}
    for remote in REMOTES[dataset].files:
        path = local_file(folder, remote)
        found[remote.name] = "missing" if path is None else _verify_file(path, remote)
    return found


def _from_archive(archive: Archive, waiting: list[Remote], folder: Path, source: str | None,
                  progress: Progress | None, failures: dict[str, list[str]]) -> list[Fetched]:
    """The ``waiting`` files taken out of ``archive`` (downloaded to a temporary file and
    verified first); each one left is listed in ``failures``."""
    url = archive.url if source is None else _join(source, archive.filename)
    done: list[Fetched] = []
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch.") as scratch:
        whole = Remote(archive.filename, archive.sha256, 1 << 40)
        try:
            with _opened(url) as (body, length):
                tick = progress(archive.filename, length) if progress else None
                saved = _save_archive(body, whole, Path(scratch), tick)
            with tarfile.open(saved) as tar:
                for remote in list(waiting):
                    member = tar.extractfile(remote.member) if remote.member else None
                    if member is None:
                        raise FetchError(messages.fetch_no_member(remote.member, archive.filename))
                    with member:
                        path = _store(member, remote, folder)
                    done.append(Fetched(path, True, f"{url} ({remote.member})"))
                    waiting.remove(remote)
        except (FetchError, tarfile.TarError, KeyError) as error:
            for remote in waiting:
                failures[remote.name].append(f"{url}: {error}")
    return done


def _save_archive(body: BinaryIO, whole: Remote, scratch: Path,
                  tick: Callable[[int], None] | None) -> Path:
    """The archive in ``scratch``, once its bytes (as served) hash to ``whole.sha256``."""
    digest = hashlib.sha256()
    path = scratch / whole.name
    with path.open("wb") as out:
        while chunk := body.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            if tick is not None:
                tick(len(chunk))
    if digest.hexdigest() != whole.sha256:
        raise FetchError(messages.fetch_mismatch(path.stat().st_size, digest.hexdigest(),
                                                 None, whole.sha256))
    return path
