"""A researcher's own loader, by dotted path: ``data pts = mypkg.data.load(n = 100)``.

Written as nets are (``impl f = mypkg.models.MyNet()``): ``package.module.function``
with options by name.  The module is imported only through the trust boundary
(``trust.py``: taskdsl itself, or ``--allow-import mypkg`` / ``TASKDSL_ALLOW_IMPORT`` /
the user's config); anything else is ``data-import-not-allowed``, located at the
``data`` line by ``taskdsl check`` and raised by loading, so the two agree.  Resolving
imports the module, never calls the function.

The function returns a dict of numpy arrays (one row per example), or a
:class:`~.base.Dataset`.  Arrays are taken as ``datasets.npz`` takes them: floating
ones become float32, and an integer array of one value per example is class indices
0..K-1 with K its largest value + 1.  A ``describe`` attribute of the function,
``describe(**options) -> {field: (shape, dtype[, classes])}`` (or
:class:`~.base.FieldSpec` values), lets ``taskdsl check`` compare the fields with the
wires without loading; without one the fields are checked when a run loads them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import trust
from ..messages import Problem, listed, problem, show, suggestion
from .base import DataError, Dataset, FieldSpec


def is_user(name: object) -> bool:
    """Whether a binding's name is a dotted path to a user's loader (not a data set)."""
    return isinstance(name, str) and "." in name


def _module_attr(path: str) -> tuple[str, str]:
    module, _, attr = path.rpartition(".")
    return module, attr


def resolve(path: str) -> Callable[..., Any] | Problem:
    """The loader ``path`` names, or the problem with it: refused by the trust boundary,
    not importable, or not a function."""
    module_name, attr = _module_attr(path)
    policy = trust.current()
    if not policy.permits(module_name):
        top = module_name.partition(".")[0]
        return problem("data-import-not-allowed", path=path, module=module_name, top=top,
                       env=trust.ENV, config=trust.config_file(),
                       reason=policy.config_problem or "")
    try:
        module = trust.guarded_import(module_name)
    except Exception as error:
        return problem("data-loader-missing", path=path, module=module_name, attr=attr,
                       reason=f"importing `{module_name}` failed: {type(error).__name__}: "
                              f"{error}")
    loader = getattr(module, attr, None)
    if not callable(loader):
        return problem("data-loader-missing", path=path, module=module_name, attr=attr,
                       reason=f"`{module_name}` has no function `{attr}`")
    return loader


def problems(path: str, options: Mapping[str, object]) -> list[Problem]:
    """What is wrong with ``path`` and ``options`` without calling the loader: the trust
    boundary, the import, and option names its signature does not take."""
    loader = resolve(path)
    if isinstance(loader, Problem):
        return [loader]
    try:
        parameters = inspect.signature(loader).parameters
    except ValueError:  # a builtin without a signature: its call will say
        return []
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return []
    valid = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                           p.KEYWORD_ONLY)]
    found = [problem("data-option", dataset=path, option=key, valid=listed(valid),
                     suggestion=suggestion(key, valid))
             for key in options if key not in valid]
    found += [problem("data-option-value", option=name, expected="a value (it has no "
                      "default)", found="nothing")
              for name in valid if parameters[name].default is parameters[name].empty
              and name not in options]
    if not found:
        try:
            describe(path, options)
        except DataError as error:
            found.append(error.problem or problem("data-load", reason=str(error)))
    return found


def describe(path: str, options: Mapping[str, object]) -> dict[str, FieldSpec] | None:
    """The fields the loader's ``describe(**options)`` announces, or ``None`` when it has
    none (then they are checked at load)."""
    loader = resolve(path)
    describer = None if isinstance(loader, Problem) else getattr(loader, "describe", None)
    if not callable(describer):
        return None
    try:
        found = describer(**options)
        return {str(k): _spec(v) for k, v in dict(found).items()}
    except Exception as error:
        raise DataError(problem("data-loader-result", path=path,
                                what=f"has a `describe` that failed: "
                                     f"{type(error).__name__}: {error}",
                                found=f"{type(error).__name__}")) from error


def _spec(value: object) -> FieldSpec:
    if isinstance(value, FieldSpec):
        return value
    shape, dtype, *rest = value  # type: ignore[misc]
    classes = rest[0] if rest else None
    return FieldSpec(tuple(int(n) for n in shape), str(np.dtype(dtype)),
                     None if classes is None else int(classes))


def load(path: str, options: Mapping[str, object]) -> Dataset:
    """Call the loader with ``options``; its arrays as a :class:`Dataset`."""
    loader = resolve(path)
    if isinstance(loader, Problem):
        raise DataError(loader)
    try:
        result = loader(**options)
    except Exception as error:
        raise DataError(problem("data-loader-result", path=path,
                                what=f"failed: {type(error).__name__}: {error}",
                                found=f"{type(error).__name__}")) from error
    if isinstance(result, Dataset):
        return result
    if not isinstance(result, Mapping) or not result:
        raise DataError(problem("data-loader-result", path=path,
                                what="returned no dict of arrays", found=show(type(result))))
    fields: dict[str, np.ndarray] = {}
    classes: dict[str, int] = {}
    described = describe(path, options) or {}
    for name, value in result.items():
        array = np.asarray(value)
        if array.dtype.hasobject or array.ndim == 0:
            raise DataError(problem("data-loader-result", path=path,
                                    what=f"returned field {name!r} that is not an array of "
                                         "numbers, one row per example",
                                    found=f"dtype {array.dtype}, shape {array.shape}"))
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32)
        elif array.ndim == 1 and np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.int32)
            spec = described.get(str(name))
            if spec is not None and spec.classes is not None:
                classes[str(name)] = spec.classes
            elif array.size and array.min() >= 0:
                classes[str(name)] = int(array.max()) + 1
        fields[str(name)] = array
    lengths = {k: len(v) for k, v in fields.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(problem("data-loader-result", path=path,
                                what="returned fields of different lengths",
                                found=", ".join(f"{k}: {n}" for k, n in lengths.items())))
    return Dataset(path, fields, classes)
