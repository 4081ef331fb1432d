"""``nets.cnn``, ``nets.conv_encoder`` and ``nets.conv_decoder`` on the project's image sizes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from taskdsl.backends.jax.nets import build

from .nets_cases import ATTRS, CODE, IMAGES, LABEL, LATENT, TINY, batch, expected, shapes


@pytest.mark.parametrize("image", IMAGES, ids=str)
@pytest.mark.parametrize("name", ["cnn", "conv_encoder"])
def test_encoders_read_an_image_into_vector_outputs(name: str, image) -> None:
    outputs = (LABEL, ATTRS, LATENT, CODE)
    net = build(name, (image,), outputs, TINY, nnx.Rngs(0))
    assert shapes(net(*batch((image,)))) == expected(outputs)


@pytest.mark.parametrize("name", ["cnn", "conv_encoder"])
def test_encoders_take_conditioning_as_extra_channels(name: str) -> None:
    image = IMAGES[1]
    net = build(name, (LABEL, image), (CODE,), TINY, nnx.Rngs(0))
    assert net.convs[0].kernel.shape == (3, 3, 1 + 10, 4)
    label, x = batch((LABEL, image))
    assert not jnp.allclose(net(label, x)[0], net(jnp.roll(label, 1, axis=-1), x)[0])


def test_cnn_pools_where_conv_encoder_strides() -> None:
    image = IMAGES[0]
    cnn = build("cnn", (image,), (LABEL,), TINY, nnx.Rngs(0))
    encoder = build("conv_encoder", (image,), (LABEL,), TINY, nnx.Rngs(0))
    assert [c.strides for c in cnn.convs] == [1, 1]
    assert [c.strides for c in encoder.convs] == [2, 2]
    assert cnn.dense.kernel.shape == encoder.dense.kernel.shape == (7 * 7 * 8, 16)


@pytest.mark.parametrize("image", IMAGES, ids=str)
def test_decoder_draws_each_image_size_in_unit_range(image) -> None:
    net = build("conv_decoder", (CODE, LABEL), (image,), TINY, nnx.Rngs(0))
    (out,) = net(*batch((CODE, LABEL)))
    assert out.shape == (3, *image.value_shape)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_decoder_linear_activation_is_the_sigmoid_decoders_logits() -> None:
    image = IMAGES[2]
    inputs = batch((CODE,))
    (pixels,) = build("conv_decoder", (CODE,), (image,), TINY, nnx.Rngs(1))(*inputs)
    linear = build("conv_decoder", (CODE,), (image,), {**TINY, "activation": "linear"},
                   nnx.Rngs(1))
    (logits,) = linear(*inputs)
    np.testing.assert_allclose(jax.nn.sigmoid(logits), pixels, rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(logits - pixels).max()) > 1e-3
