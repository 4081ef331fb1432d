"""A run's arithmetic: ``precision`` (float32, or bfloat16 compute) and ``matmul_precision``.

``precision = bfloat16`` is mixed precision as it is usually meant: parameters and
optimizer state stay float32 (what the optimizer updates and checkpoints hold), the
objective is computed in bfloat16 (parameters, the batch's floats and every
learner's inputs cast on the way in), and the loss and each task's value come back
as float32, so the gradients, taken with respect to the float32 parameters, are
float32 too (the transpose of a cast is a cast back).  ``matmul_precision``
(``default``, ``high``, ``highest``) is ``jax.default_matmul_precision`` around the
objective: it sets the precision of every matrix product and convolution traced in
it (on a GPU, ``default`` lets float32 products use TF32).

This module imports only JAX: ``compile.py`` copies these functions verbatim into
the standalone modules it writes, so a compiled module computes in the precision
its run trains in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

PRECISIONS = ("float32", "bfloat16")
MATMUL_PRECISIONS = ("default", "high", "highest")


def cast_floats(tree: Any, dtype: Any) -> Any:
    """``tree`` with each floating-point array as ``dtype``; anything else (integer labels,
    PRNG keys) as it is."""
    return jax.tree.map(
        lambda x: x.astype(dtype) if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)
        else x, tree)


def computing_in(precision: str) -> Any:
    """The dtype the objective computes in under ``precision``; ``None`` for float32."""
    return jnp.bfloat16 if precision == "bfloat16" else None


def learners_in(apply: Mapping[str, Callable[..., Any]], precision: str
                ) -> dict[str, Callable[..., Any]]:
    """Each learner's ``fn(state, *arrays)`` computing in ``precision``: its parameters and
    inputs cast (a random box's float32 draws included), so no float32 input promotes a
    layer back to float32."""
    dtype = computing_in(precision)
    if dtype is None:
        return dict(apply)

    def cast(fn: Callable[..., Any]) -> Callable[..., Any]:
        def applied(state: Any, *arrays: Any) -> Any:
            return fn(cast_floats(state, dtype), *cast_floats(arrays, dtype))
        return applied

    return {name: cast(fn) for name, fn in apply.items()}


def under_matmul_precision(fn: Callable[..., Any], matmul_precision: str = "default"
                           ) -> Callable[..., Any]:
    """``fn`` traced under ``jax.default_matmul_precision(matmul_precision)``; ``fn``
    itself for ``default``."""
    if matmul_precision == "default":
        return fn

    def under(*args: Any) -> Any:
        with jax.default_matmul_precision(matmul_precision):
            return fn(*args)

    return under


def with_precision(loss: Callable[..., Any], precision: str = "float32",
                   matmul_precision: str = "default") -> Callable[..., Any]:
    """``loss(params, batch, key) -> (total, tasks)`` computed in ``precision`` under
    ``matmul_precision``, returning float32; ``loss`` itself for float32 and ``default``."""
    dtype = computing_in(precision)
    if dtype is None and matmul_precision == "default":
        return loss

    def computed(params: Any, batch: Any, key: Any) -> Any:
        if dtype is not None:
            params, batch = cast_floats(params, dtype), cast_floats(batch, dtype)
        return loss(params, batch, key)

    computed = under_matmul_precision(computed, matmul_precision)

    def mixed(params: Any, batch: Any, key: Any) -> Any:
        total, tasks = computed(params, batch, key)
        return (jnp.asarray(total, jnp.float32),
                {name: jnp.asarray(value, jnp.float32) for name, value in tasks.items()})

    return mixed
