"""The text nets' options for manipulators: a reader of the most probable words
(``hard = true``) and an editor that starts by copying its input (``copy = c``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from taskdsl.backends.jax.nets import build
from taskdsl.types import WireType

from .nets_cases import LABEL, SENTENCE, TINY_TEXT

VOCAB = SENTENCE.value_shape[-1]
OTHER_VOCAB = WireType("Tokens", (11, SENTENCE.value_shape[0]))


def soft_logits(seed: int = 0, size: int = 3) -> jax.Array:
    return 3 * jax.random.normal(jax.random.key(seed), (size, *SENTENCE.value_shape))


def label(size: int = 3) -> jax.Array:
    return jax.nn.one_hot(jnp.arange(size) % LABEL.value_shape[0], LABEL.value_shape[0])


@pytest.mark.parametrize("cell", ["gru", "transformer"])
def test_a_hard_reader_reads_the_most_probable_words(cell: str) -> None:
    net = build("text_encoder", (SENTENCE,), (LABEL,), {**TINY_TEXT, "cell": cell, "hard": True},
                nnx.Rngs(0))
    soft = jax.nn.softmax(soft_logits())
    hard = jax.nn.one_hot(soft.argmax(-1), VOCAB)
    assert jnp.allclose(net(soft)[0], net(hard)[0], atol=1e-6)
    plain = build("text_encoder", (SENTENCE,), (LABEL,), {**TINY_TEXT, "cell": cell}, nnx.Rngs(0))
    assert float(jnp.abs(plain(soft)[0] - plain(hard)[0]).max()) > 1e-4


def test_a_hard_reader_reads_a_dropped_word_as_no_word() -> None:
    # drop[p] zeroes a word's distribution.  On one-hot words a hard reader reads what
    # a soft one does, so it must read the zeroed word as the soft one does (as nothing),
    # not as word 0, the argmax of a row of zeros.
    soft, hard = (build("text_encoder", (SENTENCE,), (LABEL,), {**TINY_TEXT, "hard": h},
                        nnx.Rngs(0)) for h in (False, True))
    ids = jnp.arange(3 * SENTENCE.value_shape[0]).reshape(3, -1) % VOCAB + 1
    dropped = jax.nn.one_hot(ids, VOCAB).at[:, 1].set(0.0)
    assert jnp.allclose(hard(dropped)[0], soft(dropped)[0], atol=1e-6)


def test_the_straight_through_gradient_reaches_words_not_yet_proposed() -> None:
    net = build("text_encoder", (SENTENCE,), (LABEL,), {**TINY_TEXT, "hard": True}, nnx.Rngs(0))
    ids = jnp.arange(3 * SENTENCE.value_shape[0]).reshape(3, -1) % VOCAB
    confident = 12.0 * jax.nn.one_hot(ids, VOCAB)  # an editor sure of every word
    grad = jax.grad(lambda lo: net(jax.nn.softmax(lo))[0][:, 0].sum())(confident)
    assert bool(jnp.isfinite(grad).all())
    others = jnp.where(jax.nn.one_hot(ids, VOCAB) > 0, 0.0, jnp.abs(grad))
    # Through the softmax alone these would be ~exp(-12) times smaller.
    assert float(others.max(-1).min()) > 1e-4


def test_a_copying_editor_starts_as_the_identity() -> None:
    net = build("text_editor", (SENTENCE, LABEL), (SENTENCE,), {**TINY_TEXT, "copy": 8.0},
                nnx.Rngs(0))
    ids = jnp.arange(3 * SENTENCE.value_shape[0]).reshape(3, -1) % VOCAB
    (logits,) = net(jax.nn.one_hot(ids, VOCAB), label())
    assert jnp.array_equal(logits.argmax(-1), ids)
    assert float(jax.nn.softmax(logits).max(-1).min()) > 0.99
    # The copy is a parameter: training can weaken or strengthen it.
    assert float(nnx.state(net, nnx.Param)["copy"][...]) == 8.0


def test_an_editor_into_another_vocabulary_has_nothing_to_copy() -> None:
    net = build("text_editor", (SENTENCE, LABEL), (OTHER_VOCAB,), {**TINY_TEXT, "copy": 8.0},
                nnx.Rngs(0))
    assert net.copy is None
    (logits,) = net(jax.nn.softmax(soft_logits()), label())
    assert logits.shape == (3, *OTHER_VOCAB.value_shape)
