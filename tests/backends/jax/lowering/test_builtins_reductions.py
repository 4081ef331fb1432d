"""``stop``, the reductions and distances, and the class conversions: values against numpy
on random inputs, gradients where they matter (``stop`` removes exactly one occurrence)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import taskdsl
from taskdsl.backends.jax.lowering.builtins import BUILTINS
from taskdsl.backends.jax.lowering.lower import lower
from taskdsl.backends.jax.lowering.values import Value
from taskdsl.types import WireType
from tests.backends.jax.compiled_modules import raw_batch, tiny_impls

SCALAR = WireType("Real", (1,))


def run(name: str, arrays: tuple[np.ndarray, ...], out_type: WireType,
        kind: str = "Real") -> np.ndarray:
    """A builtin on wire values, called as the lowering calls it."""
    values = tuple(Value.from_data(a, WireType(kind, a.shape[1:])) for a in arrays)
    (out,) = BUILTINS[name](values, (), None, (out_type,))
    return np.asarray(out.array)


# No subnormals: XLA's CPU backend flushes them to zero, numpy does not (argmax of
# [-6e-39, 0, ...] is 1 in numpy and 0 under XLA).
finite = st.floats(-100, 100, width=32, allow_subnormal=False)
# A few shapes (one axis, several, one number), so that eager JAX compiles each op a few
# times only; the values are what varies.
shapes = st.sampled_from([(3, 5), (2, 2, 3), (4, 1)])


@st.composite
def batches(draw: st.DrawFn, count: int = 1) -> tuple[np.ndarray, ...]:
    """``count`` float32 batches of one random shape (batch axis first)."""
    shape = draw(shapes)
    return tuple(draw(hnp.arrays(np.float32, shape, elements=finite)) for _ in range(count))


def flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float64)


@settings(max_examples=15, deadline=None)
@given(batches(1))
def test_sum_mean_and_norm_reduce_every_axis_but_the_batch(arrays: tuple[np.ndarray]) -> None:
    (x,) = arrays
    np.testing.assert_allclose(run("sum", (x,), SCALAR), flat(x).sum(1, keepdims=True),
                               rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(run("mean", (x,), SCALAR), flat(x).mean(1, keepdims=True),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(run("norm", (x,), SCALAR),
                               np.linalg.norm(flat(x), axis=1, keepdims=True), rtol=1e-5, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(batches(2))
def test_dot_and_cosine_match_numpy(arrays: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = arrays
    dot = (flat(x) * flat(y)).sum(1, keepdims=True)
    np.testing.assert_allclose(run("dot", (x, y), SCALAR), dot, rtol=1e-4, atol=1e-2)
    x_len, y_len = (np.linalg.norm(flat(a), axis=1, keepdims=True) for a in (x, y))
    cosine = run("cosine", (x, y), SCALAR)
    assert np.all(np.abs(cosine) <= 1 + 1e-5)
    where = (np.minimum(x_len, y_len) > 1e-5)[:, 0]  # above the floor on each length
    np.testing.assert_allclose(cosine[where], (dot / np.maximum(x_len * y_len, 1e-30))[where],
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(cosine[(np.maximum(x_len, y_len) == 0)[:, 0]], 0)


@settings(max_examples=15, deadline=None)
@given(hnp.arrays(np.float32, st.sampled_from([(3, 4), (2, 1)]), elements=finite))
def test_softmax_argmax_and_one_hot_match_numpy(x: np.ndarray) -> None:
    classes = WireType("Class", x.shape[1:])
    shifted = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(run("softmax", (x,), classes), shifted / shifted.sum(1, keepdims=True),
                               rtol=1e-5, atol=1e-6)
    eye = np.eye(x.shape[1], dtype=np.float32)
    np.testing.assert_array_equal(run("argmax", (x,), classes), eye[x.argmax(1)])
    p = shifted / shifted.sum(1, keepdims=True)  # a class distribution on a Class wire
    np.testing.assert_array_equal(run("one_hot", (p,), WireType("Real", x.shape[1:]), "Class"),
                                  eye[p.argmax(1)])


@pytest.mark.parametrize(("kind", "shape"), [("Real", (2, 3)), ("Class", (3,)),
                                             ("Gaussian", (2,)), ("Tokens", (4, 2))])
def test_stop_is_the_identity_with_no_gradient_on_every_kind(kind: str, shape: tuple) -> None:
    t = WireType(kind, shape)
    x = np.random.default_rng(0).random((2, *t.value_shape), np.float32)

    def total(a: jax.Array) -> jax.Array:
        (out,) = BUILTINS["stop"]((Value.from_data(a, t),), (), None, (t,))
        return (out.array * 3.0).sum()

    (out,) = BUILTINS["stop"]((Value.from_data(x, t),), (), None, (t,))
    np.testing.assert_array_equal(out.array, x)
    np.testing.assert_array_equal(jax.grad(total)(jnp.asarray(x)), np.zeros_like(x))


def test_norm_and_cosine_have_finite_gradients_at_zero() -> None:
    zero = jnp.zeros((2, 3))
    for name, count in (("norm", 1), ("cosine", 2)):
        grad = jax.grad(lambda a, n=name, k=count: run_traced(n, (a,) * k))(zero)
        assert np.all(np.isfinite(np.asarray(grad))), name


def run_traced(name: str, arrays: tuple[jax.Array, ...]) -> jax.Array:
    values = tuple(Value(a, WireType("Real", a.shape[1:])) for a in arrays)
    (out,) = BUILTINS[name](values, (), None, (SCALAR,))
    return out.array.sum()


# ------------------------------------------------------------ stop in a lowered loss
STOPPED = """
data pairs : -> Real[4], Real[4]
learner f : Real[4] -> Real[4]
task both:
    x, y <- pairs
    f(x) = f(y)
task left:
    x, y <- pairs
    f(x) = stop(f(y))
task right:
    x, y <- pairs
    stop(f(x)) = f(y)
task none:
    x, y <- pairs
    stop(f(x)) = stop(f(y))
objective all = both + left + right + none
"""


def test_stop_removes_exactly_its_occurrence_from_a_lowered_loss_gradient() -> None:
    """d(f(x) = f(y)) = d(f(x) = stop(f(y))) + d(stop(f(x)) = f(y)), and with both stopped
    nothing is trained; the values are all the same loss."""
    result = taskdsl.check_text(STOPPED, "stop.task")
    assert result.ok, result.render()
    low = lower(result.program, "all", tiny_impls(result.program))
    params, drawn = low.init(jax.random.key(0)), raw_batch(low, 4, seed=1)
    batch = dict.fromkeys(drawn, next(iter(drawn.values())))  # every task: the same pairs
    key = jax.random.key(2)


    def each(p: dict) -> tuple[dict, dict]:
        values = low.loss(p, batch, key, 4)[1]
        return values, values

    grads, values = jax.jit(jax.jacrev(each, has_aux=True))(params)
    for name in ("left", "right", "none"):
        np.testing.assert_allclose(values[name], values["both"], rtol=1e-6)
    for g_both, g_left, g_right, g_none in zip(
            *(jax.tree.leaves(grads[n]) for n in ("both", "left", "right", "none")), strict=True):
        np.testing.assert_allclose(g_both, g_left + g_right, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(g_none, np.zeros_like(g_none))
    assert any(np.abs(g).max() > 0 for g in jax.tree.leaves(grads["left"]))
