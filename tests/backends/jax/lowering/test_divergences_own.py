"""The divergences for a researcher's own losses (issue 12): likelihoods (``nll``), ``hinge``,
the linear critic ``wass`` and ``kl[T]``, against textbook formulas written independently
(numpy, scipy), with their gradients, and the refusals of sides they do not compare."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special, stats

import taskdsl
from taskdsl.backends.jax.lowering.divergences import divergence as checked
from taskdsl.backends.jax.lowering.divergences import (
    function,
    hinge,
    hinge_classes,
    nll_bernoulli,
    nll_gaussian,
    wass,
)
from taskdsl.backends.jax.lowering.lower import lower
from taskdsl.backends.jax.lowering.values import Value, WireValueError
from taskdsl.types import WireType
from tests.backends.jax.compiled_modules import raw_batch, tiny_impls

FLOATS = st.floats(-4, 4, allow_nan=False, width=32)
UNIT = st.floats(0, 1, allow_nan=False, width=32)


def batch_of(elements: st.SearchStrategy, shape: tuple[int, ...]) -> st.SearchStrategy:
    return arrays(np.float32, shape, elements=elements)


# ------------------------------------------------------------------ nll
@settings(max_examples=30, deadline=None)
@given(batch_of(FLOATS, (3, 2, 2, 2)), batch_of(FLOATS, (3, 2, 2)))
def test_gaussian_nll_is_minus_the_log_density_summed_over_dimensions(
        stack: np.ndarray, y: np.ndarray) -> None:
    mean, logvar = stack[:, 0], stack[:, 1]
    expected = -stats.norm.logpdf(y, mean, np.exp(logvar / 2)).reshape(3, -1).sum(axis=1)
    got = np.asarray(nll_gaussian(jnp.asarray(stack), jnp.asarray(y)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_gaussian_nll_gradient_pulls_the_mean_to_the_data_and_fits_the_variance() -> None:
    """d/dmean = (mean - y)/var and d/dlogvar = ½(1 - (y - mean)²/var): zero exactly at the
    data, and zero in the log-variance where it equals the squared error's log."""
    y = jnp.array([[1.0, -2.0]])
    stack = jnp.array([[[0.0, 0.0], [np.log(4.0), 0.0]]])  # means 0, variances 4 and 1
    grad = np.asarray(jax.grad(lambda s: nll_gaussian(s, y).sum())(stack))
    np.testing.assert_allclose(grad[0, 0], [(0 - 1) / 4, (0 + 2) / 1], rtol=1e-6)
    np.testing.assert_allclose(grad[0, 1], [0.5 * (1 - 1 / 4), 0.5 * (1 - 4 / 1)], rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(batch_of(FLOATS, (2, 6)), batch_of(UNIT, (2, 6)))
def test_bernoulli_nll_from_logits_matches_the_textbook_and_the_probabilities(
        logits: np.ndarray, y: np.ndarray) -> None:
    """``-Σ y log σ(l) + (1-y) log(1-σ(l))``, for grey targets in [0, 1] too."""
    p = special.expit(logits.astype(np.float64))
    expected = -(y * np.log(p) + (1 - y) * np.log1p(-p)).sum(axis=1)
    from_logits = nll_bernoulli(jnp.asarray(p, jnp.float32), jnp.asarray(y), jnp.asarray(logits))
    from_probs = nll_bernoulli(jnp.asarray(p, jnp.float32), jnp.asarray(y))
    np.testing.assert_allclose(from_logits, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(from_probs, expected, rtol=1e-3, atol=1e-3)


def test_nll_on_binary_wires_is_the_sum_where_bce_is_the_mean() -> None:
    bits = WireType("Binary", (4,))
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4)).astype(np.float32)
    lhs = Value(jax.nn.sigmoid(logits), bits, jnp.asarray(logits))
    rhs = Value.from_data(rng.integers(0, 2, (3, 4)), bits)
    np.testing.assert_allclose(checked("nll")(lhs, rhs), 4 * checked("bce")(lhs, rhs), rtol=1e-6)


def test_nll_compares_a_distribution_with_real_data_of_its_shape() -> None:
    gaussian, real = WireType("Gaussian", (2,)), WireType("Real", (2,))
    stack = jnp.zeros((1, 2, 2))
    value = checked("nll")(Value(stack, gaussian), Value(jnp.zeros((1, 2)), real))
    np.testing.assert_allclose(value, [np.log(2 * np.pi)], rtol=1e-6)  # 2 · ½ log 2π
    with pytest.raises(WireValueError):  # the data on the left: the model is on the left
        checked("nll")(Value(jnp.zeros((1, 2)), real), Value(stack, gaussian))
    with pytest.raises(WireValueError, match="mse"):  # only nll compares the two kinds
        checked("mse")(Value(stack, gaussian), Value(jnp.zeros((1, 2)), real))
    with pytest.raises(WireValueError):  # shapes that differ
        checked("nll")(Value(stack, gaussian),
                       Value(jnp.zeros((1, 3)), WireType("Real", (3,))))


# ---------------------------------------------------------------- hinge
@settings(max_examples=30, deadline=None)
@given(batch_of(FLOATS, (3, 4)), arrays(np.float32, (3, 4), elements=st.sampled_from([-1.0, 1.0])))
def test_hinge_on_signed_targets_is_the_mean_of_one_minus_the_margin(
        scores: np.ndarray, y: np.ndarray) -> None:
    expected = np.maximum(0.0, 1.0 - y * scores).mean(axis=1)
    np.testing.assert_allclose(hinge(jnp.asarray(scores), jnp.asarray(y)), expected, rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(batch_of(FLOATS, (4, 5)), st.lists(st.integers(0, 4), min_size=4, max_size=4))
def test_class_hinge_is_crammer_singer_on_the_logits(logits: np.ndarray, labels: list[int]) -> None:
    expected = []
    for row, y in zip(logits, labels, strict=True):
        others = np.delete(row, y)
        expected.append(max(0.0, 1.0 + others.max() - row[y]))
    target = np.eye(5, dtype=np.float32)[labels]
    probs = jax.nn.softmax(jnp.asarray(logits))
    got = hinge_classes(probs, jnp.asarray(target), jnp.asarray(logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_hinge_has_no_gradient_beyond_the_margin() -> None:
    y = jnp.array([[1.0, -1.0]])
    grad = jax.grad(lambda s: hinge(s, y).sum())(jnp.array([[2.0, 0.5]]))
    np.testing.assert_allclose(grad, [[0.0, 0.5]])  # first past the margin; second: -y/2


# ----------------------------------------------------------------- wass
@settings(max_examples=30, deadline=None)
@given(batch_of(FLOATS, (3, 2)), batch_of(FLOATS, (3, 2)))
def test_wass_is_the_signed_mean_difference_with_a_constant_gradient(
        critic: np.ndarray, other: np.ndarray) -> None:
    np.testing.assert_allclose(wass(jnp.asarray(critic), jnp.asarray(other)),
                               (critic - other).mean(axis=1), rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda c: wass(c, jnp.asarray(other)).sum())(jnp.asarray(critic))
    np.testing.assert_allclose(grad, np.full_like(critic, 0.5))


def test_each_kind_gets_its_own_form() -> None:
    assert function("nll", "Gaussian") is nll_gaussian
    assert function("nll", "Binary") is nll_bernoulli
    assert function("hinge", "Class") is hinge_classes
    assert function("hinge", "Real") is hinge


# ----------------------------------------------------------- kl[T], lowered
DISTIL = """data pts : -> Real[2]
learner teacher : Real[2] -> Class[3]
learner student : Real[2] -> Class[3]

task distil:
    x <- pts
    student(x) = teacher(x)  by kl[{t}]  trains student
"""


@pytest.mark.parametrize("temperature", [3.0])
def test_kl_with_a_temperature_compares_the_softened_logits(temperature: float) -> None:
    """``KL(softmax(t/T) ‖ softmax(s/T))`` on the two learners' own logits."""
    result = taskdsl.check_text(DISTIL.format(t=temperature), "distil.task")
    assert result.ok, result.render()
    low = lower(result.program, "distil", tiny_impls(result.program))
    params, batch = low.init(jax.random.key(0)), raw_batch(low, 4, seed=1)
    _, tasks = low.loss(params, batch, jax.random.key(1), 4)
    (x,) = next(iter(batch.values()))
    s = np.asarray(low.apply("student", params, jnp.asarray(x))[0], np.float64) / temperature
    t = np.asarray(low.apply("teacher", params, jnp.asarray(x))[0], np.float64) / temperature
    p, q = special.softmax(t, axis=1), special.softmax(s, axis=1)
    expected = np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1))
    np.testing.assert_allclose(float(tasks["distil"]), expected, rtol=1e-4)
