"""Every message the data sets can show a user, kept in one place so wording stays consistent.

Each function returns the text of a :class:`~taskdsl.backends.jax.data.base.DataError`
about a file's contents.  What a check can find before loading (names, options, missing
files) is worded with the other checks in ``backends/jax/messages.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from .. import messages as wording
from ..messages import Problem, show


def _choices(choices: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in choices)


MNIST_HOWTO = (
    "MNIST is the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzipped or not, '-idx' or '.idx' "
    "in the name)."
)

SENTIMENT_HOWTO = (
    "The sentiment data are Hutto and Gilbert's (ICWSM 2014) ground-truth files "
    "movieReviewSnippets_GroundTruth.txt and amazonReviewSnippets_GroundTruth.txt "
    "(gzipped or not)."
)


def missing_file(dataset: str, filename: str, folder: Path, how: str, howto: str, *,
                 explicit: bool) -> Problem:
    """No ``filename`` in ``folder``: where that folder came from, and how to fill it.

    A folder the task file names (``explicit``) is the user's to fix; the default one is
    filled once by ``taskdsl data fetch``, since training never downloads anything.
    """
    found = wording.problem("data-missing-file", dataset=dataset, filename=filename,
                            looked="", howto=howto)
    message = f"cannot find {filename} for data set `{dataset}` in {folder} ({how})"
    if explicit:
        help = (f"`path = {show(str(folder))}` names a folder without them: fix the path, "
                f"or leave it out to read the copy `taskdsl data fetch {dataset}` stores. "
                f"{howto}")
    else:
        help = (f"fetch them once with `taskdsl data fetch {dataset}` (it stores them "
                f"there), or copy them there, pass `path = FOLDER`, or set $TASKDSL_DATA to "
                f"a folder holding {dataset}/; training never downloads anything. {howto}")
    return replace(found, message=message, help=help)


def corrupt_file(path: object, why: str) -> str:
    return f"{path} is corrupt or truncated: {why}"


def idx_no_header(path: object) -> str:
    return corrupt_file(path, "no IDX header (an IDX file starts with two zero bytes)")


def idx_short_header(path: object, ndim: int) -> str:
    return corrupt_file(path, f"the header announces {ndim} sizes but is cut short")


def idx_dtype(path: object, code: int, known: Iterable[int]) -> str:
    return corrupt_file(
        path,
        f"unknown IDX dtype byte 0x{code:02x} (known: {', '.join(f'0x{k:02x}' for k in known)})",
    )


def idx_size(path: object, shape: tuple[int, ...], expected: int, found: int) -> str:
    return corrupt_file(
        path, f"header says shape {shape}, i.e. {expected} bytes of data, but {found} follow"
    )


def mnist_mismatch(split: str, images: tuple[int, ...], labels: tuple[int, ...]) -> str:
    return (
        f"MNIST {split} files do not match: images have shape {images}, labels {labels}; "
        "expected (N, 28, 28) images and N labels in 0..9"
    )


def _bad_line(path: object, line: int, why: str) -> str:
    return corrupt_file(path, f"line {line}: {why}; expected 'id<TAB>score<TAB>text'")


def bad_columns(path: object, line: int, columns: int) -> str:
    return _bad_line(path, line, f"{columns} columns")


def bad_score(path: object, line: int, score: str) -> str:
    return _bad_line(path, line, f"score {score!r} is not a number")


def unreadable(path: object, error: BaseException) -> str:
    return f"cannot read {path}: {error}"


def unequal_lengths(lengths: dict[str, int]) -> str:
    sizes = ", ".join(f"{k}: {n}" for k, n in lengths.items())
    return f"every field of a data set must have the same first axis; got {sizes}"


def unknown_class_field(key: str, fields: Sequence[str]) -> str:
    return f"classes names {key!r}, which is not a field (fields: {_choices(fields)})"


def missing_attributes(missing: Sequence[str], needed: Sequence[str]) -> str:
    return f"sprites need the attributes {_choices(needed)}; missing: {_choices(missing)}"


def bad_values(field: str, shape: tuple[int, ...], n: int, classes: int) -> str:
    return (
        f"{field!r} must be {n} integers in 0..{classes - 1} "
        f"(one per sprite); got an array of shape {shape} or values outside that"
    )


def bad_geometry(field: str, shape: tuple[int, ...], n: int, width: int) -> str:
    return (
        f"{field!r} must be {n} rows of {width} finite, non-negative numbers "
        f"(one row per sprite); got an array of shape {shape} or values outside that"
    )


def bad_tokenizer_json(why: str) -> str:
    return f"not a saved taskdsl tokenizer: {why}"


def bad_vocabulary(specials: Sequence[str]) -> str:
    return f"a vocabulary must be distinct words starting with {_choices(specials)}"


# ---------------------------------------------------------------------- taskdsl data fetch


def fetch_failed(dataset: str, failures: dict[str, list[str]]) -> str:
    tried = "\n".join(f"  {name}:\n" + "\n".join(f"    - {why}" for why in whys or ["nowhere"])
                      for name, whys in failures.items() if whys is not None)
    return (f"could not fetch data set `{dataset}`; tried:\n{tried}\n"
            "Nothing half-written was kept. Try again, or fetch from a mirror or a folder "
            f"holding the files: taskdsl data fetch {dataset} --from URL_OR_FOLDER")


def fetch_scheme(url: str, schemes: Sequence[str]) -> str:
    return f"cannot fetch {url}: only {', '.join(s + '://' for s in schemes)} or a folder"


def fetch_bad_gzip(why: str) -> str:
    return f"not a whole gzip file ({why})"


def fetch_too_big(size: int) -> str:
    return f"more than the {size:,} bytes the file has"


def fetch_mismatch(size: int, digest: str, expected_size: int | None, expected: str) -> str:
    sizes = f"{size:,} bytes" + (f" (expected {expected_size:,})" if expected_size else "")
    return f"corrupted: {sizes}, SHA-256 {digest}, expected {expected}; refused"


def fetch_no_member(member: str | None, archive: str) -> str:
    return f"{archive} has no {member}"


def unknown_dataset(name: str, known: Sequence[str], fetchable: Sequence[str]) -> str:
    return (f"unknown data set {name!r}; data sets: {_choices(known)} "
            f"(with files to fetch: {_choices(fetchable)})")


def nothing_to_fetch(name: str, how: str) -> str:
    return f"data set {name!r} has no files to fetch: {how}"


# ---------------------------------------------------------------------- datasets.npz


def missing_npz(file: Path) -> Problem:
    """``path =`` names no file: a located error, never a fall back to other data."""
    found = wording.problem("data-missing-file", dataset="npz", filename=str(file), looked="",
                            howto="")
    return replace(found, message=f"cannot find {file} for data set `npz`: no such file",
                   help="`path` names a .npz file, read from the current directory when "
                        "relative; write one with numpy.savez(\"FILE.npz\", image=..., "
                        "label=...)")


def npz_no_array(file: object, name: str, names: Sequence[str]) -> str:
    return f"{file} has no array {name!r} to split by (arrays: {_choices(names)})"


def npz_lengths(file: object, shapes: dict[str, tuple[int, ...]]) -> str:
    shown = ", ".join(f"{k}: {v}" for k, v in shapes.items())
    return (f"the arrays of {file} must share their first axis (one row per example); "
            f"got {shown}")


def npz_empty(file: object) -> str:
    return f"{file} holds no array to use as a field"


def npz_object(file: object, name: str) -> str:
    return (f"array {name!r} of {file} holds Python objects, which are never unpickled; "
            "save numbers or strings")


def npz_bad_marks(file: object, name: str | None, what: str) -> str:
    return (f"array {name!r} of {file} cannot split the rows: it has {what}; expected one "
            "value per row, \"train\"/\"test\", 0/1 or false/true (true: test)")


# ---------------------------------------------------------------------- datasets.images


def missing_folder(dataset: str, folder: Path) -> Problem:
    """``path =`` names no folder: a located error, never a fall back to other data."""
    found = wording.problem("data-missing-file", dataset=dataset, filename=str(folder),
                            looked="", howto="")
    return replace(found, message=f"cannot find folder {folder} for data set `{dataset}`",
                   help="`path` names a folder holding one sub-folder of images per class "
                        "(or train/ and test/ holding those), read from the current "
                        "directory when relative")


def images_no_classes(folder: object) -> str:
    return (f"{folder} has no sub-folders: put each class's images in a sub-folder named "
            "after the class")


def images_empty_class(folder: object) -> str:
    return f"class folder {folder} holds no image Pillow can read by its suffix"


def images_parts_differ(folder: object) -> str:
    return (f"{folder}/train and {folder}/test must hold the same class sub-folders, so a "
            "class has one index in both")


def images_ragged(first: object, first_size: tuple[int, int], other: object,
                  size: tuple[int, int]) -> str:
    return (f"images differ in size: {first} is {first_size[0]}x{first_size[1]} but {other} "
            f"is {size[0]}x{size[1]} (width x height); pass `size = [H, W]` to resize them all")


# ---------------------------------------------------------------------- datasets.csv


def missing_table(file: Path) -> Problem:
    """``path =`` names no file: a located error, never a fall back to other data."""
    found = wording.problem("data-missing-file", dataset="csv", filename=str(file), looked="",
                            howto="")
    return replace(found, message=f"cannot find {file} for data set `csv`: no such file",
                   help="`path` names a .csv or .tsv file whose first line names the "
                        "columns, read from the current directory when relative")


def table_delimiter(delimiter: str) -> str:
    return f"`delimiter` must be one character, not {delimiter!r}"


def table_empty(file: object) -> str:
    return f"{file} needs a header line naming the columns and at least one row"


def table_no_column(file: object, name: str, header: Sequence[str]) -> str:
    return f"`labels` names column {name!r}, which {file} lacks (columns: {_choices(header)})"


def _table_line(file: object, line: int, why: str) -> str:
    return f"{file}, line {line}: {why}"


def table_cells(file: object, line: int, found: int, expected: int) -> str:
    return _table_line(file, line, f"{found} cells, but the header names {expected} columns")


def table_empty_cell(file: object, line: int, column: str) -> str:
    return _table_line(file, line, f"column {column!r} is empty; every cell needs a value")


def table_not_numeric(file: object, line: int, column: str, cell: str) -> str:
    return _table_line(file, line, f"column {column!r} holds numbers elsewhere but {cell!r} "
                                 f"here; fix the cell, or name the column in `labels = [...]` "
                                 "to take its values as classes")


def table_group(file: object, name: str, indices: Sequence[int]) -> str:
    return (f"the columns {name}.0, {name}.1, ... of {file} form field {name!r}: they need "
            f"indices 0..k-1 and no column named {name!r} itself (found indices {indices})")
