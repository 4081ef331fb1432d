"""The input rule (``nets.inputs``): which input is the carrier and how the others are attached."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from taskdsl.backends.jax.nets import attach, flatten_concat
from taskdsl.backends.jax.nets.base import is_image, is_tokens
from taskdsl.backends.jax.nets.inputs import Layout, layout

from .nets_cases import CODE, LABEL, LATENT, MNIST, SENTENCE, SPRITES


def test_attach_broadcasts_extras_as_constant_channels_after_the_image() -> None:
    image = jnp.arange(2 * 2 * 3 * 1, dtype=jnp.float32).reshape(2, 2, 3, 1)
    label = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    code = jnp.array([[[5.0]], [[7.0]]])  # (B, 1, 1): flattened to one number per example
    by_hand = np.zeros((2, 2, 3, 4), np.float32)
    by_hand[..., 0] = np.asarray(image[..., 0])
    by_hand[0, :, :, 1:] = [1.0, 0.0, 5.0]
    by_hand[1, :, :, 1:] = [0.0, 1.0, 7.0]
    np.testing.assert_array_equal(attach(image, [label, code]), by_hand)


def test_attach_adds_to_each_position_of_a_sequence() -> None:
    embedded = jnp.zeros((2, 5, 3))
    label = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    out = attach(embedded, [label])
    assert out.shape == (2, 5, 5)
    np.testing.assert_array_equal(out[:, :, 3:], jnp.broadcast_to(label[:, None, :], (2, 5, 2)))


def test_attach_without_extras_is_the_carrier() -> None:
    image = jnp.ones((2, 4, 4, 1))
    assert attach(image, []) is image


def test_flatten_concat_keeps_declared_order() -> None:
    a = jnp.arange(4.0).reshape(1, 2, 2)
    b = jnp.array([[9.0]])
    np.testing.assert_array_equal(flatten_concat([a, b]), [[0.0, 1.0, 2.0, 3.0, 9.0]])
    np.testing.assert_array_equal(flatten_concat([b, a]), [[9.0, 0.0, 1.0, 2.0, 3.0]])


def test_layout_picks_the_first_carrier_and_counts_the_rest() -> None:
    # The second image is not the carrier: it is flattened like any conditioning input.
    assert layout([LABEL, MNIST, SPRITES], is_image) == Layout(1, 10 + 32 * 32 * 3)
    assert layout([CODE, SENTENCE, LATENT], is_tokens) == Layout(1, 6 + 12)
    assert layout([CODE, LABEL], is_image) == Layout(None, 16)


def test_layout_split_returns_carrier_and_extras_in_order() -> None:
    xs = (jnp.zeros(1), jnp.ones(1), jnp.full(1, 2.0))
    carrier, extras = Layout(1, 2).split(xs)
    assert carrier is xs[1]
    assert extras == [xs[0], xs[2]]
    assert Layout(None, 3).split(xs) == (None, list(xs))
