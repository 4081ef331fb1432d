"""The data sets a ``train`` block can name, e.g. ``datasets.mnist(split = "train")``.

Each is a :class:`Dataset` of named numpy arrays; :func:`load` finds the loader by name
and checks the options, so a typo in a task file is a :class:`DataError` listing the
valid choices. No loader ever reaches the network. These modules use numpy only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from . import messages
from .base import DataError, Dataset
from .digits import load_digits
from .mnist import load_mnist, parse_idx, read_idx
from .sentiment import Tokenizer, load_sentiment
from .sprites import (
    ATTRIBUTES,
    counterfactual,
    edit_attributes,
    load_sprites,
    render,
)

LOADERS: dict[str, Callable[..., Dataset]] = {
    "mnist": load_mnist,
    "digits": load_digits,
    "sprites": load_sprites,
    "sentiment": load_sentiment,
}


def load(name: str, **options: object) -> Dataset:
    """The data set called ``name``, loaded with ``options`` (each loader documents its own)."""
    loader = LOADERS.get(name) if isinstance(name, str) else None
    if loader is None:
        raise DataError(messages.unknown_dataset(name, list(LOADERS)))
    valid = list(inspect.signature(loader).parameters)
    for key in options:
        if key not in valid:
            raise DataError(messages.unknown_option(name, key, valid))
    return loader(**options)


__all__ = [
    "ATTRIBUTES",
    "LOADERS",
    "DataError",
    "Dataset",
    "Tokenizer",
    "counterfactual",
    "edit_attributes",
    "load",
    "load_digits",
    "load_mnist",
    "load_sentiment",
    "load_sprites",
    "parse_idx",
    "read_idx",
    "render",
]
