"""How nets produce their output wires: dense heads for vectors, activations and crops for images.

Every output is in the learner representation (logits for ``Class``,
``Binary`` and ``Tokens``; mean and log-variance stacked for ``Gaussian``), so
these helpers only shape numbers; the lowering turns logits into probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from taskdsl.types import WireType

Activation = Literal["sigmoid", "linear"]


class Heads(nnx.Module):
    """One dense layer whose output is cut into one array per output wire.

    A single matmul rather than one layer per wire: the same parameters and
    arithmetic, one fewer kernel launch per extra output.
    """

    def __init__(self, features: int, outputs: Sequence[WireType], *, rngs: nnx.Rngs) -> None:
        self.shapes = tuple(t.value_shape for t in outputs)
        sizes = [math.prod(s) for s in self.shapes]
        self.cuts = tuple(int(c) for c in np.cumsum(sizes)[:-1])
        self.dense = nnx.Linear(features, sum(sizes), rngs=rngs)

    def __call__(self, h: jax.Array) -> tuple[jax.Array, ...]:
        parts = jnp.split(self.dense(h), self.cuts, axis=-1)
        return tuple(p.reshape(h.shape[0], *s) for p, s in zip(parts, self.shapes, strict=True))


def activate(x: jax.Array, activation: Activation, wire: WireType | None = None) -> jax.Array:
    """An image output's squashing: ``sigmoid`` for pixels in [0, 1], ``linear`` for any reals.

    A ``Binary`` image output stays as logits whatever ``activation`` says: the
    lowering applies the sigmoid itself and keeps the logits for ``bce``/``nll``.
    """
    if wire is not None and wire.kind == "Binary":
        return x
    return jax.nn.sigmoid(x) if activation == "sigmoid" else x


def crop(x: jax.Array, height: int, width: int) -> jax.Array:
    """Keep the top-left ``height x width`` of a ``(B, H, W, C)`` batch.

    Upsampling doubles sizes, so decoders overshoot odd sizes (7 -> 14 -> 28 is
    exact, but 4 -> 8 overshoots a 7-pixel skip); top-left matches SAME pooling,
    which pads at the bottom and right.
    """
    return x[:, :height, :width]
