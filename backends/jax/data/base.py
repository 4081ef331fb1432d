"""The shared pieces of every data set: the :class:`Dataset` record, its error, and the
checks that turn a user's bad option into a :class:`DataError` instead of a traceback."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import messages

SPLITS = ("train", "test")


class DataError(Exception):
    """A data set cannot be loaded as asked; the message says why and how to fix it."""


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
    if not isinstance(value, str) or value not in choices:
        raise DataError(messages.bad_choice(what, value, choices))
    return value


def check_int(what: str, value: object, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``; booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DataError(messages.bad_int(what, value, minimum))
    return int(value)


def split_indices(n: int, split: str, test_percent: int) -> np.ndarray:
    """The rows of ``split`` in a fixed (seed 0) permutation of ``n`` rows.

    A data set shipped without a split gets the same one on every machine, and the train
    and test rows never overlap. Integer arithmetic keeps the sizes free of rounding.
    """
    order = np.random.default_rng(0).permutation(n)
    n_train = n - n * test_percent // 100
    return order[:n_train] if check_choice("split", split, SPLITS) == "train" else order[n_train:]
