"""The builtin fixed boxes: values against numpy, random boxes by their statistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from taskdsl.backends.jax.lowering.builtins import BUILTINS
from taskdsl.backends.jax.lowering.values import Value, WireValueError
from taskdsl.types import WireType

REAL3 = WireType("Real", (3,))
KEY = jax.random.key(0)


def run(name: str, inputs: tuple[Value, ...], out_type: WireType, params: tuple = (),
        key: jax.Array | None = None, batch: int | None = None) -> Value:
    """Call a builtin the way the lowering does and return its single output."""
    (out,) = BUILTINS[name](inputs, params, key, (out_type,), batch=batch)
    assert out.wire_type == out_type
    return out


def real(array: np.ndarray) -> Value:
    return Value.from_data(array, WireType("Real", array.shape[1:]))


A = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], np.float32)
B = np.array([[2.0, 2.0, -1.0], [4.0, 1.0, 2.0]], np.float32)


@pytest.mark.parametrize(
    ("name", "inputs", "params", "expected"),
    [
        ("add", (A, B), (), A + B),
        ("sub", (A, B), (), A - B),
        ("mul", (A, B), (), A * B),
        ("neg", (A,), (), -A),
        ("scale", (A,), (2.5,), 2.5 * A),
    ],
)
def test_elementwise_boxes(name: str, inputs: tuple, params: tuple, expected: np.ndarray) -> None:
    out = run(name, tuple(real(x) for x in inputs), REAL3, params)
    np.testing.assert_allclose(out.array, expected, rtol=1e-6)


def test_concat_joins_on_the_last_axis() -> None:
    out = run("concat", (real(A), real(B[:, :2])), WireType("Real", (5,)))
    np.testing.assert_array_equal(out.array, np.concatenate([A, B[:, :2]], axis=1))


def test_flatten_keeps_the_batch_axis() -> None:
    images = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    out = run("flatten", (real(images),), WireType("Real", (12,)))
    np.testing.assert_array_equal(out.array, images.reshape(2, 12))


def test_output_that_does_not_fit_its_type_is_refused() -> None:
    with pytest.raises(WireValueError, match=r"\(batch, 4\), got \(2, 5\)"):
        run("concat", (real(A), real(B[:, :2])), WireType("Real", (4,)))


def gaussian(mean: np.ndarray, logvar: np.ndarray) -> Value:
    return Value.from_data(jnp.stack([mean, logvar], axis=1), WireType("Gaussian", mean.shape[1:]))


def test_sample_has_the_gaussians_mean_and_variance() -> None:
    n = 20_000
    mean = np.tile(np.array([[1.0, -2.0]], np.float32), (n, 1))
    logvar = np.tile(np.log(np.array([[1.0, 4.0]], np.float32)), (n, 1))
    x = np.asarray(run("sample", (gaussian(mean, logvar),), WireType("Real", (2,)), key=KEY).array)
    np.testing.assert_allclose(x.mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(x.var(0), [1.0, 4.0], rtol=0.05)


def test_sample_gradient_reaches_mean_and_logvar() -> None:
    mean = np.array([[0.5, -1.0]], np.float32)
    logvar = np.array([[0.2, -0.4]], np.float32)

    def total(m: jax.Array, lv: jax.Array) -> jax.Array:
        return run("sample", (gaussian(m, lv),), WireType("Real", (2,)), key=KEY).array.sum()

    x = run("sample", (gaussian(mean, logvar),), WireType("Real", (2,)), key=KEY).array
    d_mean, d_logvar = jax.grad(total, argnums=(0, 1))(mean, logvar)
    np.testing.assert_allclose(d_mean, np.ones_like(mean))
    # x = m + exp(lv/2)·ε, so dx/dlv = exp(lv/2)·ε / 2 = (x - m) / 2, non-zero.
    np.testing.assert_allclose(d_logvar, (np.asarray(x) - mean) / 2, rtol=1e-5)
    assert np.all(np.abs(d_logvar) > 0)


def test_drop_zeroes_numbers_with_probability_p_and_keeps_the_rest() -> None:
    x = real(np.random.default_rng(0).uniform(1, 2, (64, 100)).astype(np.float32))
    out = run("drop", (x,), x.wire_type, (0.3,), KEY).array
    dropped = out == 0
    assert abs(float(dropped.mean()) - 0.3) < 0.02
    np.testing.assert_array_equal(out[~dropped], x.array[~dropped])
    np.testing.assert_array_equal(run("drop", (x,), x.wire_type, (0.0,), KEY).array, x.array)


def test_drop_on_tokens_removes_whole_words() -> None:
    words = WireType("Tokens", (7, 40))
    ids = jax.random.randint(KEY, (500, 40), 0, 7)
    out = run("drop", (Value.from_data(ids, words),), words, (0.25,), jax.random.key(1)).array
    present = out.sum(axis=-1)  # 1 for a kept word (one-hot), 0 for a dropped one
    assert set(np.unique(present).tolist()) == {0.0, 1.0}
    assert abs(float(1 - present.mean()) - 0.25) < 0.02
    kept = present == 1
    np.testing.assert_array_equal(np.argmax(out, -1)[kept], np.asarray(ids)[kept])


def test_drop_is_the_identity_at_inference_and_nothing_else_is() -> None:
    """Only ``train_only`` builtins change with the mode, and ``drop`` is the only one."""
    x = real(np.random.default_rng(0).uniform(1, 2, (8, 100)).astype(np.float32))
    (out,) = BUILTINS["drop"]((x,), (0.5,), KEY, (x.wire_type,), train=False)
    np.testing.assert_array_equal(out.array, x.array)
    assert {n for n, b in BUILTINS.items() if b.train_only} == {"drop"}


def test_drop_passes_gradient_to_what_it_keeps() -> None:
    def total(x: jax.Array) -> jax.Array:
        return run("drop", (real(x),), REAL3, (0.5,), KEY).array.sum()

    kept = run("drop", (real(B),), REAL3, (0.5,), KEY).array != 0  # B has no zeros
    assert 0 < kept.sum() < kept.size
    np.testing.assert_array_equal(jax.grad(total)(jnp.asarray(B)), kept.astype(np.float32))


def test_uniform_classes_are_one_hot_with_even_counts() -> None:
    out = np.asarray(run("uniform", (), WireType("Class", (4,)), key=KEY, batch=8000).array)
    assert set(np.unique(out)) == {0.0, 1.0}
    np.testing.assert_array_equal(out.sum(1), np.ones(8000))
    counts = out.sum(0)
    assert np.all(np.abs(counts - 2000) < 150), counts  # ±3.4 standard deviations


def test_uniform_tokens_bits_and_reals() -> None:
    tokens = run("uniform", (), WireType("Tokens", (7, 5)), key=KEY, batch=3).array
    assert tokens.shape == (3, 5, 7)
    np.testing.assert_array_equal(tokens.sum(-1), np.ones((3, 5)))
    bits = np.asarray(run("uniform", (), WireType("Binary", (1000,)), key=KEY, batch=4).array)
    assert set(np.unique(bits)) == {0.0, 1.0}
    assert abs(bits.mean() - 0.5) < 0.03
    reals = np.asarray(run("uniform", (), WireType("Real", (1000,)), key=KEY, batch=4).array)
    assert reals.min() >= 0.0 and reals.max() < 1.0
    assert abs(reals.mean() - 0.5) < 0.02


def test_normal_is_standard() -> None:
    x = np.asarray(run("normal", (), WireType("Real", (2, 5)), key=KEY, batch=4000).array)
    assert x.shape == (4000, 2, 5)
    assert abs(x.mean()) < 0.02 and abs(x.var() - 1.0) < 0.03


def test_random_boxes_are_reproducible_from_their_key() -> None:
    def draw(key: jax.Array) -> np.ndarray:
        return np.asarray(run("normal", (), REAL3, key=key, batch=2).array)

    np.testing.assert_array_equal(draw(KEY), draw(jax.random.key(0)))
    assert not np.array_equal(draw(KEY), draw(jax.random.key(1)))


def test_const_of_each_kind() -> None:
    np.testing.assert_array_equal(run("const", (), REAL3, (1.5,), batch=2).array,
                                  np.full((2, 3), 1.5))
    np.testing.assert_array_equal(run("const", (), WireType("Class", (3,)), (2,), batch=2).array,
                                  [[0, 0, 1], [0, 0, 1]])
    tokens = run("const", (), WireType("Tokens", (3, 2)), (1,), batch=1).array
    np.testing.assert_array_equal(tokens, [[[0, 1, 0], [0, 1, 0]]])
    g = run("const", (), WireType("Gaussian", (2,)), (0.5,), batch=1).array
    np.testing.assert_array_equal(g, [[[0.5, 0.5], [0.0, 0.0]]])  # mean c, log-variance 0


@pytest.mark.parametrize("index", [3, -1, 0.5])
def test_const_class_must_be_a_class_index(index: object) -> None:
    with pytest.raises(WireValueError, match=r"class index in 0\.\.2"):
        run("const", (), WireType("Class", (3,)), (index,), batch=1)


def test_builtins_run_under_jit_with_a_threaded_key() -> None:
    @jax.jit
    def step(key: jax.Array, x: Value) -> jax.Array:
        noise_key, class_key = jax.random.split(key)
        noise = run("normal", (), REAL3, key=noise_key, batch=2)
        digit = run("uniform", (), WireType("Class", (3,)), key=class_key, batch=2)
        return run("add", (run("scale", (x,), REAL3, (0.0,)), noise), REAL3).array + digit.array

    out = step(KEY, real(A))
    assert out.shape == (2, 3) and jnp.all(jnp.isfinite(out))


def test_which_builtins_need_a_key_or_a_batch() -> None:
    assert {n for n, b in BUILTINS.items() if b.needs_key} == {"sample", "drop", "uniform",
                                                                 "normal"}
    assert {n for n, b in BUILTINS.items() if b.is_source} == {"const", "uniform", "normal"}


@pytest.mark.parametrize(
    ("name", "inputs", "params", "key", "batch", "message"),
    [
        ("add", (A,), (), None, None, "takes 2 inputs, got 1"),
        ("concat", (), (), None, None, "takes one or more inputs, got none"),
        ("scale", (A,), (), None, None, "takes 1 parameters, got 0"),
        ("normal", (), (), None, 2, "is random and needs a PRNG key"),
        ("normal", (), (), KEY, None, "is a source and needs the batch size"),
    ],
)
def test_calls_against_the_contract_are_type_errors(
    name: str, inputs: tuple, params: tuple, key: jax.Array | None, batch: int | None,
    message: str,
) -> None:
    with pytest.raises(TypeError, match=f"builtin `{name}` {message}"):
        run(name, tuple(real(x) for x in inputs), REAL3, params, key, batch)


def test_wrong_kinds_are_refused() -> None:
    with pytest.raises(WireValueError, match="`sample` is not defined for Real input wires"):
        run("sample", (real(A),), REAL3, key=KEY)
    with pytest.raises(WireValueError, match="`normal` is not defined for Class output wires"):
        run("normal", (), WireType("Class", (3,)), key=KEY, batch=1)
