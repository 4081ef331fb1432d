"""What the tests of ``taskdsl compile`` share: importing an emitted module, the
lowering's learners in the form the module's ``apply`` takes, tiny nets and random
batches."""

from __future__ import annotations

import importlib.util
from collections.abc import Collection
from pathlib import Path
from types import ModuleType

import numpy as np

from taskdsl.backends.jax.lowering.lower import Lowered
from taskdsl.ir import BoxKind, Call, Program
from taskdsl.types import WireType


def module_of(source: str, path: Path) -> ModuleType:
    """``source`` written to ``path`` and imported as a module."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def learner_fns(low: Lowered) -> dict:
    """The compiled module's ``apply``: each learner as a function of its own params."""
    return {n: (lambda state, *xs, n=n: low.apply(n, {n: state}, *xs)) for n in low.learner_names}


TINY = Call("nets.mlp", (), {"width": 8, "depth": 1})
"""A net small enough that lowering and compiling an example costs about a second."""


def tiny_impls(program: Program, keep: Collection[str] = ()) -> dict[str, Call]:
    """Every learner implemented by ``TINY``, but those in ``keep`` (e.g. a loaded one)."""
    return {n: TINY for n, d in program.declarations.items()
            if d.kind is BoxKind.LEARNER and n not in keep}


def raw_array(t: WireType, size: int, rng: np.random.Generator) -> np.ndarray:
    """A batch of raw data for a ``t`` wire: class indices for Class/Tokens, 0/1 bits for
    Binary, standard normal floats otherwise (Gaussian: mean and log-variance)."""
    shape = t.value_shape
    if t.kind in ("Class", "Tokens"):
        return rng.integers(0, shape[-1], (size, *shape[:-1]))
    if t.kind == "Binary":
        return rng.integers(0, 2, (size, *shape)).astype(np.float32)
    return rng.standard_normal((size, *shape)).astype(np.float32)


def raw_batch(low: Lowered, size: int, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    """A random batch for every data draw of ``low``."""
    rng = np.random.default_rng(seed)
    return {r.key: tuple(raw_array(t, size, rng) for t in r.types) for r in low.data_requests()}
