"""The input rule: how a learner with several input wires sees them (see the package docstring).

A net reads one *carrier* input that has positions (an image's pixels, a
sentence's tokens), chosen as the first input of the kind it reads; every
other input is flattened and concatenated to the features at each position.
A net without a carrier (``mlp``, ``conv_decoder``) flattens and concatenates
everything.  Nets learn from whatever order the learner's inputs come in, so
the rule only has to be fixed, not clever.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from taskdsl.types import WireType


def flatten_concat(xs: Sequence[jax.Array]) -> jax.Array:
    """``(B, ...)`` arrays to one ``(B, sum of sizes)`` array, in input order."""
    return jnp.concatenate([x.reshape(x.shape[0], -1) for x in xs], axis=-1)


def attach(carrier: jax.Array, extras: Sequence[jax.Array]) -> jax.Array:
    """Concatenate the flattened ``extras`` to the last axis of ``carrier`` at every position.

    ``carrier`` is ``(B, *positions, F)``; an extra of ``k`` numbers per example
    becomes ``k`` constant features at each position (an image's extra channels).
    """
    if not extras:
        return carrier
    flat = flatten_concat(extras)
    positions = carrier.shape[1:-1]
    spread = jnp.broadcast_to(
        flat.reshape(flat.shape[0], *(1,) * len(positions), flat.shape[-1]),
        (flat.shape[0], *positions, flat.shape[-1]),
    )
    return jnp.concatenate([carrier, spread.astype(carrier.dtype)], axis=-1)


@dataclass(frozen=True)
class Layout:
    """Which input is the carrier (``None`` for none) and how many features the others add."""

    carrier: int | None
    extra: int

    def split(self, xs: Sequence[jax.Array]) -> tuple[jax.Array | None, list[jax.Array]]:
        """The carrier's array (or ``None``) and the conditioning arrays, in input order."""
        extras = [x for i, x in enumerate(xs) if i != self.carrier]
        return (None if self.carrier is None else xs[self.carrier]), extras


def flat_size(inputs: Sequence[WireType]) -> int:
    """How many numbers per example ``flatten_concat`` makes of these wires."""
    return sum(math.prod(t.value_shape) for t in inputs)


def layout(inputs: Sequence[WireType], carries: Callable[[WireType], bool]) -> Layout:
    """Apply the input rule to a learner's input types: the first input ``carries`` accepts."""
    carrier = next((i for i, t in enumerate(inputs) if carries(t)), None)
    return Layout(carrier, flat_size([t for i, t in enumerate(inputs) if i != carrier]))
