"""Wire types, batches and one working signature per net, shared by the ``nets`` tests.

The image sizes are the project's data sets: MNIST 28x28x1, scikit-learn's
digits 8x8x1 and the procedural sprites 32x32x3.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from taskdsl.types import WireType

MNIST = WireType("Real", (28, 28, 1), "Image")
DIGITS = WireType("Real", (8, 8, 1))
SPRITES = WireType("Real", (32, 32, 3))
IMAGES = [MNIST, DIGITS, SPRITES]
LABEL = WireType("Class", (10,))
ATTRS = WireType("Binary", (3,))
CODE = WireType("Real", (6,))
LATENT = WireType("Gaussian", (6,))
SENTENCE = WireType("Tokens", (20, 7))

TINY = {"width": 4}
TINY_TEXT = {"embed": 8, "width": 8}

# A signature each builtin net implements, with tiny options: net -> (inputs, outputs, options).
EXAMPLES: dict[str, tuple[tuple[WireType, ...], tuple[WireType, ...], dict[str, object]]] = {
    "mlp": ((MNIST, LABEL), (LABEL, LATENT), {"width": 8, "depth": 1}),
    "cnn": ((MNIST,), (LABEL,), TINY),
    "conv_encoder": ((SPRITES, LABEL), (LATENT,), TINY),
    "conv_decoder": ((CODE, LABEL), (SPRITES,), TINY),
    "unet": ((MNIST, LABEL), (MNIST,), TINY),
    "text_encoder": ((SENTENCE, LABEL), (LABEL,), TINY_TEXT),
    "text_decoder": ((CODE,), (SENTENCE,), TINY_TEXT),
    "text_editor": ((SENTENCE, LABEL), (SENTENCE,), {**TINY_TEXT, "cell": "transformer"}),
}


def batch(types: Sequence[WireType], seed: int = 0, size: int = 3) -> tuple[jax.Array, ...]:
    """Random wire values in [0, 1), one ``(size, *value_shape)`` array per type."""
    keys = jax.random.split(jax.random.key(seed), len(types))
    return tuple(
        jax.random.uniform(k, (size, *t.value_shape)) for k, t in zip(keys, types, strict=True)
    )


def shapes(arrays: Sequence[jax.Array]) -> list[tuple[int, ...]]:
    return [tuple(a.shape) for a in arrays]


def expected(types: Sequence[WireType], size: int = 3) -> list[tuple[int, ...]]:
    """The shapes a batch of ``size`` has on these wires."""
    return [(size, *t.value_shape) for t in types]
