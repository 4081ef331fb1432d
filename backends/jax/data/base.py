"""The shared pieces of every data set: the :class:`Dataset` record, its error, the rules
its options obey, and the cheap description of its fields that checks read.

A data set's options are checked by *rules* (:class:`Choice`, :class:`Whole`,
:class:`Folder`) that return problems; the loaders raise the first, and ``taskdsl
check`` reports them all, located, without loading anything.  A
:class:`Description` says what fields a data set would have for given options
(shape per example, dtype, classes), so a binding can be checked against its
wires before a single array is read.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import messages as wording
from ..errors import BackendError
from ..messages import Problem, show
from . import messages

SPLITS = ("train", "test")


class DataError(BackendError):
    """A data set cannot be loaded as asked; the message says why and how to fix it.

    ``problem`` is the checkable problem behind it, when there is one (a bad option, a
    missing file), so that a check reports exactly what loading would raise; without
    one it is coded ``data-load``.
    """

    default_code = "data-load"


@dataclass(frozen=True)
class Choice:
    """An option that takes one of some strings (or nothing, if ``optional``)."""

    choices: tuple[str, ...]
    optional: bool = False

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(show(c) for c in self.choices)

    def fits(self, value: object) -> bool:
        return (value is None and self.optional) or (isinstance(value, str)
                                                     and value in self.choices)


@dataclass(frozen=True)
class Whole:
    """An option that takes an integer of at least ``minimum`` (booleans refused)."""

    minimum: int
    optional: bool = False

    @property
    def expected(self) -> str:
        return f"an integer >= {self.minimum}"

    def fits(self, value: object) -> bool:
        if value is None:
            return self.optional
        return (not isinstance(value, bool) and isinstance(value, numbers.Integral)
                and value >= self.minimum)


@dataclass(frozen=True)
class Folder:
    """An option naming a folder (or nothing)."""

    expected: str = "a folder name (a string)"

    def fits(self, value: object) -> bool:
        return value is None or isinstance(value, str | os.PathLike)


@dataclass(frozen=True)
class Text:
    """An option that takes a string (or nothing, if ``optional``), e.g. a file or a field."""

    expected: str
    optional: bool = False

    def fits(self, value: object) -> bool:
        if value is None:
            return self.optional
        return isinstance(value, str | os.PathLike) and bool(str(value))


@dataclass(frozen=True)
class Fraction:
    """An option that takes a number strictly between 0 and 1 (booleans refused)."""

    expected: str = "a number strictly between 0 and 1"
    optional: bool = False

    def fits(self, value: object) -> bool:
        if value is None:
            return self.optional
        return (not isinstance(value, bool) and isinstance(value, numbers.Real)
                and 0 < float(value) < 1)


Rule = Choice | Whole | Folder | Text | Fraction


def option_problem(option: str, value: object, rule: Rule) -> Problem | None:
    """What is wrong with ``value`` for ``option``, or ``None`` if it obeys ``rule``."""
    if rule.fits(value):
        return None
    return wording.problem("data-option-value", option=option, expected=rule.expected,
                           found=show(value))


def checked(rules: Mapping[str, Rule], **options: object) -> None:
    """Raise the first of ``options`` that breaks its rule, as a :class:`DataError`."""
    for option, value in options.items():
        found = option_problem(option, value, rules[option])
        if found is not None:
            raise DataError(found)


@dataclass(frozen=True)
class FieldSpec:
    """One field as a wire sees it: one example's shape, its dtype, and for a categorical
    field its number of classes (``vocabulary``: at most that many, as a tokenizer's)."""

    shape: tuple[int, ...]
    dtype: str
    classes: int | None = None
    vocabulary: bool = False


@dataclass(frozen=True)
class Description:
    """What a check needs to know of a data set without loading it.

    ``options`` are the rules of its options; ``fields(**options)`` gives its fields in
    order for options that obey them (every option given, defaults filled in);
    ``files(**options)`` finds the files loading would read, raising the
    :class:`DataError` that loading would raise if one is missing.
    """

    options: Mapping[str, Rule]
    fields: Callable[..., dict[str, FieldSpec]]
    files: Callable[..., object] | None = None


@dataclass(frozen=True, eq=False)
class Dataset:
    """Named arrays sharing their first axis, plus what a wire type needs to know about them.

    ``fields`` is ordered (the loaders document the order). Images are float32 in
    [0, 1] with shape (N, H, W, C); categorical fields are int32 class indices, and
    ``classes`` gives their number of classes; continuous targets are float32 (N, k);
    token sequences are int32 (N, L). ``extras`` holds what is not per-example, such as
    the tokenizer that decodes a text data set. Equality is identity: comparing arrays
    element-wise has no single truth value.
    """

    name: str
    fields: dict[str, np.ndarray]
    classes: dict[str, int] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {key: len(array) for key, array in self.fields.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(messages.unequal_lengths(lengths))
        for key in self.classes:
            if key not in self.fields:
                raise DataError(messages.unknown_class_field(key, list(self.fields)))

    def __len__(self) -> int:
        return len(next(iter(self.fields.values()))) if self.fields else 0


def check_choice(what: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``; anything else (even unhashable) is a DataError."""
    checked({what: Choice(tuple(choices))}, **{what: value})
    return value  # type: ignore[return-value]


def check_int(what: str, value: object, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``; booleans are refused."""
    checked({what: Whole(minimum)}, **{what: value})
    return int(value)  # type: ignore[call-overload]


def split_indices(n: int, split: str, test_percent: int) -> np.ndarray:
    """The rows of ``split`` in a fixed (seed 0) permutation of ``n`` rows.

    A data set shipped without a split gets the same one on every machine, and the train
    and test rows never overlap. Integer arithmetic keeps the sizes free of rounding.
    """
    order = np.random.default_rng(0).permutation(n)
    n_train = n - n * test_percent // 100
    return order[:n_train] if check_choice("split", split, SPLITS) == "train" else order[n_train:]
