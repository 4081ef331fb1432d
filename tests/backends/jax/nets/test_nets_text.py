"""``nets.text_encoder``, ``nets.text_decoder`` and ``nets.text_editor`` over ``Tokens`` wires."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from taskdsl.backends.jax.nets import build
from taskdsl.types import WireType

from .nets_cases import ATTRS, CODE, LABEL, LATENT, SENTENCE, TINY_TEXT, batch, expected, shapes

CELLS = ["gru", "transformer"]


def tokens(seed: int = 0, size: int = 3) -> jax.Array:
    """A batch of soft sentences: a softmax distribution over the vocabulary at each position."""
    length, vocab = SENTENCE.value_shape
    return jax.nn.softmax(3 * jax.random.normal(jax.random.key(seed), (size, length, vocab)))


@pytest.mark.parametrize("cell", CELLS)
def test_encoder_reads_tokens_and_conditioning_into_vectors(cell: str) -> None:
    outputs = (LABEL, ATTRS, LATENT)
    net = build("text_encoder", (SENTENCE, CODE), outputs, {**TINY_TEXT, "cell": cell},
                nnx.Rngs(0))
    (code,) = batch((CODE,))
    assert shapes(net(tokens(), code)) == expected(outputs)


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_reaches_the_soft_token_distribution(cell: str) -> None:
    net = build("text_encoder", (SENTENCE,), (LABEL,), {**TINY_TEXT, "cell": cell}, nnx.Rngs(0))
    grad = jax.grad(lambda t: net(t)[0][:, 3].sum())(tokens())
    assert grad.shape == (3, *SENTENCE.value_shape)
    assert float(jnp.abs(grad).min(axis=-1).max()) > 0.0
    assert bool(jnp.all(jnp.abs(grad).sum(axis=(-1, -2)) > 0.0))


def test_one_hot_tokens_embed_as_a_table_lookup() -> None:
    net = build("text_encoder", (SENTENCE,), (LABEL,), TINY_TEXT, nnx.Rngs(0))
    ids = jnp.array([[2, 0, 6] + [1] * 17])
    one_hot = jax.nn.one_hot(ids, SENTENCE.value_shape[-1])
    table = net.reader.table.embedding[...]
    embedded = jnp.einsum("blv,ve->ble", one_hot, table)
    assert jnp.array_equal(embedded, table[ids])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", ["text_decoder", "text_editor"])
def test_decoders_rewrite_a_sentence_conditioned_on_a_label(name: str, cell: str) -> None:
    other_vocab = WireType("Tokens", (11, 7))
    net = build(name, (SENTENCE, LABEL), (other_vocab,), {**TINY_TEXT, "cell": cell}, nnx.Rngs(0))
    (label,) = batch((LABEL,))
    (logits,) = net(tokens(), label)
    assert logits.shape == (3, 7, 11)
    (relabelled,) = net(tokens(), jnp.roll(label, 1, axis=-1))
    assert float(jnp.abs(logits - relabelled).max()) > 1e-5


@pytest.mark.parametrize("cell", CELLS)
def test_decoder_writes_a_sentence_from_a_vector_alone(cell: str) -> None:
    net = build("text_decoder", (CODE,), (SENTENCE,), {**TINY_TEXT, "cell": cell}, nnx.Rngs(0))
    (code,) = batch((CODE,))
    (logits,) = net(code)
    assert logits.shape == (3, *SENTENCE.value_shape)
    # Learned positions: the positions differ even though the code is the same at each.
    assert float(jnp.abs(logits[:, 0] - logits[:, 1]).max()) > 1e-5
