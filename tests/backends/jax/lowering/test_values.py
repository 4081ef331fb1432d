"""Value: how data and learner outputs are put on wires, checked against numpy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from taskdsl.backends.jax.lowering.values import Value, WireValueError
from taskdsl.types import WireType

REAL = WireType("Real", (2, 3))
CLASS = WireType("Class", (4,))
BINARY = WireType("Binary", (3,))
GAUSSIAN = WireType("Gaussian", (2,))
TOKENS = WireType("Tokens", (5, 3))  # vocabulary 5, length 3


def test_class_indices_become_one_hot_float32() -> None:
    value = Value.from_data(np.array([2, 0, 3]), CLASS)
    expected = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
    np.testing.assert_array_equal(value.array, expected)
    assert value.array.dtype == jnp.float32
    assert value.logits is None


def test_token_ids_become_one_hot_per_position() -> None:
    ids = np.array([[0, 4, 2], [1, 1, 3]])
    value = Value.from_data(ids, TOKENS)
    assert value.array.shape == (2, 3, 5)
    np.testing.assert_array_equal(np.argmax(value.array, axis=-1), ids)
    np.testing.assert_array_equal(value.array.sum(axis=-1), np.ones((2, 3)))


def test_bits_and_integer_reals_become_float32_unchanged() -> None:
    bits = Value.from_data(np.array([[0, 1, 1]]), BINARY)
    np.testing.assert_array_equal(bits.array, [[0.0, 1.0, 1.0]])
    pixels = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    reals = Value.from_data(pixels, REAL)
    assert reals.array.dtype == jnp.float32
    np.testing.assert_array_equal(reals.array, pixels.astype(np.float32))


def test_class_probabilities_pass_through() -> None:
    probs = np.array([[0.1, 0.2, 0.3, 0.4]], np.float32)
    np.testing.assert_array_equal(Value.from_data(probs, CLASS).array, probs)


@pytest.mark.parametrize(
    ("data", "wire_type", "shown"),
    [
        (np.zeros((2, 3, 2), np.float32), REAL, "(batch, 2, 3)"),
        (np.zeros((2, 1), np.int32), CLASS, "(batch,)"),  # indices with a stray axis
        (np.zeros((2, 4), np.int32), TOKENS, "(batch, 3)"),  # wrong length
        (np.zeros((2, 5), np.float32), CLASS, "(batch, 4)"),
        (np.zeros((3,), np.float32), BINARY, "(batch, 3)"),  # batch axis missing
    ],
)
def test_from_data_shape_mismatch_names_both_shapes(
    data: np.ndarray, wire_type: WireType, shown: str
) -> None:
    with pytest.raises(WireValueError) as caught:
        Value.from_data(data, wire_type)
    assert shown in str(caught.value)
    assert str(data.shape) in str(caught.value)
    assert wire_type.structural() in str(caught.value)


def test_learner_class_output_keeps_logits_and_softmaxes() -> None:
    logits = np.array([[0.0, 1.0, 2.0, -1.0]], np.float32)
    value = Value.from_learner(logits, CLASS)
    exp = np.exp(logits)
    np.testing.assert_allclose(value.array, exp / exp.sum(), rtol=1e-6)
    np.testing.assert_array_equal(value.logits, logits)


def test_learner_tokens_softmax_per_position() -> None:
    logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32)
    value = Value.from_learner(logits, TOKENS)
    exp = np.exp(logits)
    np.testing.assert_allclose(value.array, exp / exp.sum(-1, keepdims=True), rtol=1e-5)


def test_learner_binary_output_is_sigmoid_of_logits() -> None:
    logits = np.array([[0.0, 2.0, -3.0]], np.float32)
    value = Value.from_learner(logits, BINARY)
    np.testing.assert_allclose(value.array, 1 / (1 + np.exp(-logits)), rtol=1e-6)
    np.testing.assert_array_equal(value.logits, logits)


@pytest.mark.parametrize("wire_type", [REAL, GAUSSIAN])
def test_learner_real_and_gaussian_outputs_are_the_value(wire_type: WireType) -> None:
    output = np.ones((2, *wire_type.value_shape), np.float32)
    value = Value.from_learner(output, wire_type)
    np.testing.assert_array_equal(value.array, output)
    assert value.logits is None


def test_learner_output_shape_is_checked() -> None:
    with pytest.raises(WireValueError, match=r"\(batch, 4\), got \(2, 3\)"):
        Value.from_learner(np.zeros((2, 3), np.float32), CLASS)


def test_value_is_a_pytree_with_static_wire_type() -> None:
    value = Value.from_learner(np.zeros((2, 4), np.float32), CLASS)
    assert len(jax.tree.leaves(value)) == 2  # probabilities and logits; the type is static

    @jax.jit
    def doubled(v: Value) -> Value:
        assert v.wire_type == CLASS  # visible while tracing
        return jax.tree.map(lambda x: 2 * x, v)

    out = doubled(value)
    assert out.wire_type == CLASS
    np.testing.assert_allclose(out.array, np.full((2, 4), 0.5))
