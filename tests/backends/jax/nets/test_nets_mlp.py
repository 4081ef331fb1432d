"""``nets.mlp``: any inputs to any outputs, with ``width`` and ``depth``."""

from __future__ import annotations

import jax
import pytest
from flax import nnx

from taskdsl.backends.jax.nets import build

from .nets_cases import ATTRS, CODE, IMAGES, LABEL, LATENT, SENTENCE, batch, expected, shapes


@pytest.mark.parametrize("image", IMAGES, ids=str)
def test_mlp_maps_an_image_and_a_label_to_every_output_kind(image) -> None:
    outputs = (LABEL, ATTRS, LATENT, CODE, image, SENTENCE)
    net = build("mlp", (image, LABEL), outputs, {"width": 8}, nnx.Rngs(0))
    assert shapes(net(*batch((image, LABEL)))) == expected(outputs)


def test_mlp_width_and_depth_shape_the_hidden_layers() -> None:
    net = build("mlp", (CODE,), (LABEL,), {"width": 5, "depth": 3}, nnx.Rngs(0))
    kernels = [layer.kernel.shape for layer in net.layers]
    assert kernels == [(6, 5), (5, 5), (5, 5)]
    assert net.heads.dense.kernel.shape == (5, 10)


def test_mlp_sees_every_input() -> None:
    net = build("mlp", (CODE, LABEL), (CODE,), {"width": 8}, nnx.Rngs(0))
    code, label = batch((CODE, LABEL))
    (before,) = net(code, label)
    (after,) = net(code, jax.numpy.roll(label, 1, axis=-1))
    assert not jax.numpy.allclose(before, after)
