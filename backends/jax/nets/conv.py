"""``nets.conv_encoder`` and ``nets.conv_decoder``: the two halves of a convolutional autoencoder.

Both halve or double the resolution twice, so 28x28 (MNIST), 8x8 (digits) and
32x32 (sprites) all work: the encoder's SAME padding rounds odd sizes up, and
the decoder starts at ``ceil(size / 4)``, overshoots to a multiple of 4 and
crops back to the declared size.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
from flax import nnx

from .base import VECTORS, Net, Wires, is_image, reads_into_vectors
from .inputs import attach, flat_size, flatten_concat, layout
from .outputs import Activation, Heads, activate, crop


class ConvEncoder(Net):
    """Two 3x3 convolutions (``width``, ``2 * width``) that each halve the resolution, then dense.

    Downsampling by stride keeps the encoder cheap and invertible-looking for a
    decoder; ``CNN`` swaps in max-pooling, the classic classifier choice.
    """

    expects = (f"an image (Real[H, W, C]) plus optional conditioning inputs -> {VECTORS}; "
               "a Binary[H, W, C] image reads as its probabilities")
    pool: ClassVar[bool] = False

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        return reads_into_vectors(is_image, inputs, outputs)

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs, width: int = 32) -> None:
        self.layout = layout(inputs, is_image)
        height, wide, channels = inputs[self.layout.carrier].value_shape
        stride = 1 if self.pool else 2
        self.convs = nnx.List([
            nnx.Conv(channels + self.layout.extra, width, (3, 3), stride, rngs=rngs),
            nnx.Conv(width, 2 * width, (3, 3), stride, rngs=rngs),
        ])
        cells = math.ceil(math.ceil(height / 2) / 2) * math.ceil(math.ceil(wide / 2) / 2)
        self.dense = nnx.Linear(cells * 2 * width, 4 * width, rngs=rngs)
        self.heads = Heads(4 * width, outputs, rngs=rngs)

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        image, extras = self.layout.split(xs)
        h = attach(image, extras)
        for conv in self.convs:
            h = jax.nn.relu(conv(h))
            if self.pool:
                h = nnx.max_pool(h, (2, 2), strides=(2, 2), padding="SAME")
        return self.heads(jax.nn.relu(self.dense(h.reshape(h.shape[0], -1))))


class ConvDecoder(Net):
    """Dense to a ``ceil(H/4) x ceil(W/4)`` grid of ``2 * width`` channels, two stride-2
    transposed convolutions, crop, a 3x3 convolution to the image's channels, ``activation``.

    Pixels are in [0, 1], hence the sigmoid default; ``linear`` for other reals.  A
    ``Binary[H, W, C]`` output is the Bernoulli logits of its pixels (no activation).
    """

    expects = ("one or more non-image inputs (flattened and concatenated) -> "
               "one image (Real[H, W, C] or Binary[H, W, C])")

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        return (bool(inputs) and not any(map(is_image, inputs))
                and len(outputs) == 1 and is_image(outputs[0]))

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs, width: int = 32,
                 activation: Activation = "sigmoid") -> None:
        self.wire = outputs[0]
        self.size = outputs[0].value_shape
        height, wide, channels = self.size
        self.grid = (math.ceil(height / 4), math.ceil(wide / 4), 2 * width)
        self.activation = activation
        self.dense = nnx.Linear(flat_size(inputs), math.prod(self.grid), rngs=rngs)
        self.ups = nnx.List([
            nnx.ConvTranspose(2 * width, width, (3, 3), (2, 2), rngs=rngs),
            nnx.ConvTranspose(width, width, (3, 3), (2, 2), rngs=rngs),
        ])
        self.out = nnx.Conv(width, channels, (3, 3), rngs=rngs)

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        h = jax.nn.relu(self.dense(flatten_concat(xs))).reshape(-1, *self.grid)
        for up in self.ups:
            h = jax.nn.relu(up(h))
        return (activate(self.out(crop(h, *self.size[:2])), self.activation, self.wire),)
