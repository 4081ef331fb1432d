"""The data sets a ``train`` block can name, e.g. ``datasets.mnist(split = "train")``.

Each is a :class:`Dataset` of named numpy arrays; :func:`load` finds the loader by name
and checks the options, so a typo in a task file is a :class:`DataError` listing the
valid choices. No loader ever reaches the network: only :mod:`.fetch` does, when a user
runs ``taskdsl data fetch``. These modules use numpy (and platformdirs) only; no JAX.

:func:`problems` and :func:`describe` answer, without loading anything, what is wrong
with a name and options and which fields they would give; ``load`` raises the first of
the same problems, so a check and a run agree.

A name with a dot (``data pts = mypkg.data.load(n = 100)``) is a user's loader, resolved
through the trust boundary by :mod:`.user`; the same three functions answer for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..messages import Problem, listed, problem, suggestion
from . import user
from .base import DataError, Dataset, Description, FieldSpec, option_problem
from .digits import DIGITS, load_digits
from .images import IMAGES, load_images
from .mnist import MNIST, load_mnist, parse_idx, read_idx
from .npz import NPZ, load_npz
from .sentiment import SENTIMENT, Tokenizer, load_sentiment
from .sprites import (
    ATTRIBUTES,
    SPRITES,
    counterfactual,
    edit_attributes,
    load_sprites,
    render,
)
from .table import CSV, load_csv

LOADERS: dict[str, Callable[..., Dataset]] = {
    "mnist": load_mnist,
    "digits": load_digits,
    "sprites": load_sprites,
    "sentiment": load_sentiment,
    "npz": load_npz,
    "images": load_images,
    "csv": load_csv,
}

DESCRIPTIONS: dict[str, Description] = {
    "mnist": MNIST,
    "digits": DIGITS,
    "sprites": SPRITES,
    "sentiment": SENTIMENT,
    "npz": NPZ,
    "images": IMAGES,
    "csv": CSV,
}
"""What checks know of each data set without loading it; a loader without a description
(a user's) has its option names checked, its fields only when loaded."""

PREFIX = "datasets."
READS_FIELDS = frozenset({"npz", "images", "csv"})
"""Data sets whose fields are read from their file, so a bad file shows in a check."""


def problems(name: object, options: Mapping[str, object], *, files: bool = True
             ) -> list[Problem]:
    """Everything wrong with data set ``name`` and ``options`` that shows without loading
    it: the name, each option's name and value, and (with ``files``) a missing file."""
    if user.is_user(name):  # a user's loader by dotted path, through the trust boundary
        return user.problems(name, options)  # type: ignore[arg-type]
    loader = LOADERS.get(name) if isinstance(name, str) else None
    if loader is None:
        known = [f"{PREFIX}{n}" for n in LOADERS]
        shown = f"{PREFIX}{name}"
        return [problem("data-unknown", name=shown, known=listed(known),
                        suggestion=suggestion(shown, known))]
    valid = list(inspect.signature(loader).parameters)
    found = [problem("data-option", dataset=name, option=key, valid=listed(valid),
                     suggestion=suggestion(key, valid))
             for key in options if key not in valid]
    description = DESCRIPTIONS.get(name)
    if description is None:
        return found
    for key, value in options.items():
        rule = description.options.get(key)
        bad = None if rule is None else option_problem(key, value, rule)
        if bad is not None:
            found.append(bad)
    defaults = _with_defaults(loader, {})
    found += [problem("data-option-value", option=key, expected=rule.expected, found="nothing")
              for key, rule in description.options.items()
              if key not in options and defaults.get(key) is None and not rule.fits(None)]
    if not found and files and description.files is not None:
        try:
            description.files(**_with_defaults(loader, options))
        except DataError as error:
            found.append(error.problem or problem("data-missing-file", reason=str(error)))
    if not found and files and name in READS_FIELDS:
        try:
            description.fields(**_with_defaults(loader, options))
        except DataError as error:  # a file whose contents are wrong: an error, not absence
            found.append(error.problem or Problem("data-file-invalid", str(error)))
    return found


def describe(name: object, options: Mapping[str, object]) -> dict[str, FieldSpec] | None:
    """The fields data set ``name`` gives with ``options``, in order, without loading it;
    ``None`` when that is not known (no description, or options with problems)."""
    if user.is_user(name):
        if problems(name, options):
            return None
        try:
            return user.describe(name, options)  # type: ignore[arg-type]
        except DataError:
            return None
    description = DESCRIPTIONS.get(name) if isinstance(name, str) else None
    if description is None or problems(name, options, files=False):
        return None
    try:
        return description.fields(**_with_defaults(LOADERS[name], options))
    except DataError:
        return None  # a file its fields are read from is missing or bad: `problems` says so


def _with_defaults(loader: Callable[..., Any], options: Mapping[str, object]) -> dict:
    defaults = {k: p.default for k, p in inspect.signature(loader).parameters.items()
                if p.default is not p.empty}
    return {**defaults, **options}


def load(name: str, **options: object) -> Dataset:
    """The data set called ``name``, loaded with ``options`` (each loader documents its own)."""
    found = problems(name, options, files=False)
    if found:
        raise DataError(found[0])
    if user.is_user(name):
        return user.load(name, options)
    return LOADERS[name](**options)


__all__ = [
    "ATTRIBUTES",
    "DESCRIPTIONS",
    "LOADERS",
    "DataError",
    "Dataset",
    "Description",
    "FieldSpec",
    "Tokenizer",
    "counterfactual",
    "describe",
    "edit_attributes",
    "load",
    "load_csv",
    "load_digits",
    "load_images",
    "load_mnist",
    "load_npz",
    "load_sentiment",
    "load_sprites",
    "parse_idx",
    "problems",
    "read_idx",
    "render",
]
