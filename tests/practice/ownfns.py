"""A researcher's own loss and fixed function, for ``tests/practice/own_loss.task``: plain
JAX functions named there by their dotted paths.  The loss (``by ownfns:log_cosh``) takes
both sides' batches and returns one number per example; the fixed function (``impl powers
= "ownfns:powers"``) takes a batch of each input wire and returns a batch of each output
wire, with no parameters.  Taskdsl imports it only when allowed (``--allow-import ownfns``
or ``TASKDSL_ALLOW_IMPORT=ownfns``) and found on ``PYTHONPATH``, never from the current
folder (docs/security.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def log_cosh(lhs: jax.Array, rhs: jax.Array) -> jax.Array:
    """``log cosh(lhs - rhs)``, mean over each example's numbers, ``(batch,)``: quadratic
    near 0 and linear far out, like Huber's loss, but smooth everywhere."""
    d = lhs - rhs
    per_number = jnp.logaddexp(d, -d) - jnp.log(2.0)
    return per_number.reshape(d.shape[0], -1).mean(axis=1)


def whole_batch(lhs: jax.Array, rhs: jax.Array) -> jax.Array:
    """A mistake the check catches: one number for the whole batch, not one per example."""
    return jnp.mean(jnp.square(lhs - rhs))


def powers(x: jax.Array) -> jax.Array:
    """The features ``(x, x², x³)`` of a ``Real[1]`` batch, ``(batch, 3)``: a fixed box's
    function, which nothing trains."""
    return jnp.concatenate([x, x ** 2, x ** 3], axis=1)


def powers_flat(x: jax.Array) -> jax.Array:
    """A mistake the check catches: the features without the batch axis's own rows."""
    return jnp.concatenate([x, x ** 2, x ** 3], axis=0)
