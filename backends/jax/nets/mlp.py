"""``nets.mlp``: a multilayer perceptron from any inputs to any outputs."""

from __future__ import annotations

from itertools import pairwise

import jax
from flax import nnx

from .base import Net, Wires
from .inputs import flat_size, flatten_concat
from .outputs import Heads


class MLP(Net):
    """Flatten and concatenate every input, ``depth`` ReLU layers of ``width``, dense heads.

    The fallback architecture: it implements any signature, ignoring spatial
    structure, so it is the baseline other nets are compared against.
    """

    expects = "at least one input and any outputs"

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        return bool(inputs) and bool(outputs)

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs,
                 width: int = 256, depth: int = 2) -> None:
        sizes = [flat_size(inputs), *[width] * depth]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in pairwise(sizes)])
        self.heads = Heads(sizes[-1], outputs, rngs=rngs)

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        h = flatten_concat(xs)
        for layer in self.layers:
            h = jax.nn.relu(layer(h))
        return self.heads(h)
