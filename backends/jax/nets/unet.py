"""``nets.unet``: a small U-Net, the editor that maps an image plus conditioning to an image."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from .base import Net, Wires, is_image
from .inputs import attach, layout
from .outputs import Activation, activate, crop


class DoubleConv(nnx.Module):
    """Two 3x3 convolutions with ReLU: one U-Net level's processing at fixed resolution."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs) -> None:
        self.a = nnx.Conv(cin, cout, (3, 3), rngs=rngs)
        self.b = nnx.Conv(cout, cout, (3, 3), rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.b(jax.nn.relu(self.a(x))))


class UNet(Net):
    """``depth`` levels of (double conv, max-pool) down and (transposed conv, skip, double conv)
    up, ``width * 2**level`` channels per level, a 1x1 convolution out, then ``activation``.

    Skips carry the input's detail straight to the output, so an editor only has
    to learn the change.  Conditioning is attached at the input and again at the
    bottleneck, where every pixel's receptive field is widest, so an edit that
    depends on the conditioning does not have to survive ``depth`` poolings.
    """

    expects = ("an image (Real[H, W, C]) plus optional conditioning inputs -> "
               "one image of the same height and width (Real[H, W, C'], or Binary logits)")

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        image = next(filter(is_image, inputs), None)
        return (image is not None and len(outputs) == 1 and is_image(outputs[0])
                and outputs[0].value_shape[:2] == image.value_shape[:2])

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs, width: int = 32,
                 depth: int = 2, activation: Activation = "sigmoid") -> None:
        self.layout = layout(inputs, is_image)
        self.activation = activation
        self.wire = outputs[0]
        channels = [width * 2**level for level in range(depth + 1)]
        cin = inputs[self.layout.carrier].value_shape[-1] + self.layout.extra
        levels = zip([cin, *channels[:-2]], channels[:-1], strict=True)
        self.downs = nnx.List([DoubleConv(a, b, rngs=rngs) for a, b in levels])
        self.middle = DoubleConv(channels[-2] + self.layout.extra, channels[-1], rngs=rngs)
        self.ups = nnx.List([
            nnx.ConvTranspose(b, a, (2, 2), (2, 2), rngs=rngs)
            for a, b in zip(reversed(channels[:-1]), reversed(channels[1:]), strict=True)
        ])
        self.merges = nnx.List([DoubleConv(2 * c, c, rngs=rngs) for c in reversed(channels[:-1])])
        self.out = nnx.Conv(width, outputs[0].value_shape[-1], (1, 1), rngs=rngs)

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        image, extras = self.layout.split(xs)
        h = attach(image, extras)
        skips = []
        for down in self.downs:
            h = down(h)
            skips.append(h)
            h = nnx.max_pool(h, (2, 2), strides=(2, 2), padding="SAME")
        h = self.middle(attach(h, extras))
        for up, merge, skip in zip(self.ups, self.merges, reversed(skips), strict=True):
            h = crop(up(h), *skip.shape[1:3])
            h = merge(jnp.concatenate([h, skip], axis=-1))
        return (activate(self.out(h), self.activation, self.wire),)
