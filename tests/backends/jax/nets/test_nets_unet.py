"""``nets.unet``: an editor from an image plus conditioning to an image of the same size."""

from __future__ import annotations

import jax.numpy as jnp
import pytest
from flax import nnx

from taskdsl.backends.jax.nets import build
from taskdsl.types import WireType

from .nets_cases import CODE, IMAGES, LABEL, TINY, batch


@pytest.mark.parametrize("image", IMAGES, ids=str)
def test_unet_edits_each_image_size_in_unit_range(image) -> None:
    net = build("unet", (image, LABEL), (image,), TINY, nnx.Rngs(0))
    (out,) = net(*batch((image, LABEL)))
    assert out.shape == (3, *image.value_shape)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_unet_handles_odd_sizes_and_changes_channels() -> None:
    odd = WireType("Real", (7, 9, 3))
    grey = WireType("Real", (7, 9, 1))
    net = build("unet", (odd,), (grey,), TINY, nnx.Rngs(0))
    assert net(*batch((odd,)))[0].shape == (3, 7, 9, 1)


def test_depth_is_the_number_of_poolings() -> None:
    image = IMAGES[1]
    net = build("unet", (image,), (image,), {"width": 4, "depth": 1}, nnx.Rngs(0))
    assert len(net.downs) == len(net.ups) == len(net.merges) == 1
    assert net.middle.b.kernel.shape[-1] == 8


@pytest.mark.parametrize("image", IMAGES, ids=str)
def test_changing_only_the_class_changes_the_edit(image) -> None:
    net = build("unet", (image, LABEL), (image,), TINY, nnx.Rngs(0))
    x, _ = batch((image, LABEL))
    three, seven = (jnp.tile(jnp.eye(10)[c], (3, 1)) for c in (3, 7))
    (edit_three,) = net(x, three)
    (edit_seven,) = net(x, seven)
    assert float(jnp.abs(edit_three - edit_seven).max()) > 1e-4
    assert jnp.array_equal(net(x, three)[0], edit_three)


def test_unet_attaches_conditioning_at_input_and_bottleneck() -> None:
    image = IMAGES[1]
    net = build("unet", (CODE, image, LABEL), (image,), TINY, nnx.Rngs(0))
    extra = 6 + 10
    assert net.downs[0].a.kernel.shape == (3, 3, 1 + extra, 4)
    assert net.middle.a.kernel.shape == (3, 3, 8 + extra, 16)
