"""Divergences against formulas written independently in numpy, eagerly and under jit."""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from taskdsl.backends.jax.lowering.divergences import (
    ALLOWED,
    divergence,
)
from taskdsl.backends.jax.lowering.values import Value, WireValueError
from taskdsl.builtins import DIVERGENCES
from taskdsl.types import KINDS, WireType

REAL = WireType("Real", (2,))
CLASS = WireType("Class", (2,))
BINARY = WireType("Binary", (2,))
GAUSSIAN = WireType("Gaussian", (1,))
TOKENS = WireType("Tokens", (2, 2))  # vocabulary 2, length 2
LN2, LN3 = np.log(2.0), np.log(3.0)


@pytest.fixture(params=["eager", "jit"])
def loss(request: pytest.FixtureRequest) -> Callable[[str, Value, Value], np.ndarray]:
    """Evaluate a divergence by name, eagerly or through ``jax.jit``."""

    def run(name: str, lhs: Value, rhs: Value) -> np.ndarray:
        fn = divergence(name)
        return np.asarray(fn(lhs, rhs) if request.param == "eager" else jax.jit(fn)(lhs, rhs))

    return run


def real(rows: list[list[float]]) -> Value:
    return Value.from_data(np.array(rows, np.float32), REAL)


# Hand-computed on two examples: differences (1, 2) and (0.5, -3).
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mse", [(1 + 4) / 2, (0.25 + 9) / 2]),
        ("l1", [(1 + 2) / 2, (0.5 + 3) / 2]),
        ("huber", [(0.5 + 1.5) / 2, (0.125 + 2.5) / 2]),  # 0.5d² inside |d|≤1, |d|-0.5 outside
    ],
)
def test_real_divergences_by_hand(loss, name: str, expected: list[float]) -> None:
    lhs, rhs = real([[1, 2], [0.5, 0]]), real([[0, 0], [0, 3]])
    np.testing.assert_allclose(loss(name, lhs, rhs), expected, rtol=1e-6)


def test_real_divergences_match_numpy_on_random_arrays(loss) -> None:
    rng = np.random.default_rng(1)
    wire = WireType("Real", (3, 4))
    a, b = rng.normal(size=(2, 5, 3, 4)).astype(np.float32) * 2
    lhs, rhs = Value.from_data(a, wire), Value.from_data(b, wire)
    d = (a - b).reshape(5, -1)
    huber = np.where(np.abs(d) <= 1, 0.5 * d**2, np.abs(d) - 0.5)
    np.testing.assert_allclose(loss("mse", lhs, rhs), (d**2).mean(1), rtol=1e-5)
    np.testing.assert_allclose(loss("l1", lhs, rhs), np.abs(d).mean(1), rtol=1e-5)
    np.testing.assert_allclose(loss("huber", lhs, rhs), huber.mean(1), rtol=1e-5)


def test_ce_by_hand(loss) -> None:
    # logits (0, ln 3) → probabilities (1/4, 3/4); target class 1 → -ln(3/4).
    lhs = Value.from_learner(np.array([[0.0, LN3]], np.float32), CLASS)
    rhs = Value.from_data(np.array([1]), CLASS)
    np.testing.assert_allclose(loss("ce", lhs, rhs), [np.log(4 / 3)], rtol=1e-5)


def test_ce_from_logits_equals_ce_from_probabilities(loss) -> None:
    rng = np.random.default_rng(2)
    wire = WireType("Class", (6,))
    logits = rng.normal(size=(8, 6)).astype(np.float32)
    target = Value.from_data(rng.dirichlet(np.ones(6), size=8).astype(np.float32), wire)
    from_logits = Value.from_learner(logits, wire)
    from_probs = Value.from_data(from_logits.array, wire)  # same distribution, no logits
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -(np.asarray(target.array) * np.log(probs)).sum(-1)
    np.testing.assert_allclose(loss("ce", from_logits, target), expected, rtol=1e-5)
    np.testing.assert_allclose(loss("ce", from_probs, target), expected, rtol=1e-5)


def test_ce_uses_logits_where_probabilities_underflow(loss) -> None:
    # softmax((100, -100)) is exactly (1, 0) in float32; only the logits know ce = 200.
    lhs = Value.from_learner(np.array([[100.0, -100.0]], np.float32), CLASS)
    rhs = Value.from_data(np.array([1]), CLASS)
    np.testing.assert_allclose(loss("ce", lhs, rhs), [200.0], rtol=1e-5)


def test_tokens_ce_is_summed_over_vocabulary_and_averaged_over_positions(loss) -> None:
    # position 0: logits (0, ln 3), target 1 → ln(4/3); position 1: logits (0, 0), target 0 → ln 2.
    lhs = Value.from_learner(np.array([[[0.0, LN3], [0.0, 0.0]]], np.float32), TOKENS)
    rhs = Value.from_data(np.array([[1, 0]]), TOKENS)
    np.testing.assert_allclose(loss("ce", lhs, rhs), [(np.log(4 / 3) + LN2) / 2], rtol=1e-5)


def test_bce_by_hand_from_logits_and_from_probabilities(loss) -> None:
    # logits (0, ln 3) → p = (1/2, 3/4); bits (1, 0) → (ln 2 + ln 4) / 2.
    expected = [(LN2 + np.log(4.0)) / 2]
    bits = Value.from_data(np.array([[1, 0]]), BINARY)
    from_logits = Value.from_learner(np.array([[0.0, LN3]], np.float32), BINARY)
    from_probs = Value.from_data(from_logits.array, BINARY)
    np.testing.assert_allclose(loss("bce", from_logits, bits), expected, rtol=1e-5)
    np.testing.assert_allclose(loss("bce", from_probs, bits), expected, rtol=1e-5)


def test_bce_from_saturated_logits_stays_exact(loss) -> None:
    lhs = Value.from_learner(np.array([[50.0, -50.0]], np.float32), BINARY)
    bits = Value.from_data(np.array([[0, 1]]), BINARY)
    np.testing.assert_allclose(loss("bce", lhs, bits), [50.0], rtol=1e-5)


def test_class_kl_by_hand_with_zero_target_probabilities(loss) -> None:
    q = Value.from_learner(np.array([[0.0, LN3], [0.0, LN3]], np.float32), CLASS)  # (1/4, 3/4)
    p = Value.from_data(np.array([[0.5, 0.5], [0.0, 1.0]], np.float32), CLASS)
    expected = [0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75), np.log(4 / 3)]  # 0·log 0 = 0
    np.testing.assert_allclose(loss("kl", q, p), expected, rtol=1e-5)


def gaussian(mean: list[float], logvar: list[float]) -> Value:
    wire = WireType("Gaussian", (len(mean),))
    return Value.from_data(np.array([mean, logvar], np.float32)[None], wire)


def test_gaussian_kl_by_hand(loss) -> None:
    # KL(N(1, 1) ‖ N(0, 1)) = 1/2; KL(N(0, 2) ‖ N(0, 1)) = (1 - ln 2) / 2; summed over dimensions.
    lhs, rhs = gaussian([1.0, 0.0], [0.0, LN2]), gaussian([0.0, 0.0], [0.0, 0.0])
    np.testing.assert_allclose(loss("kl", lhs, rhs), [0.5 + (1 - LN2) / 2], rtol=1e-5)


def test_gaussian_kl_matches_a_monte_carlo_estimate() -> None:
    mean_l, logvar_l = np.array([0.3, -1.0, 2.0]), np.array([0.5, -0.7, 0.1])
    mean_r, logvar_r = np.array([0.0, 0.5, 1.5]), np.array([0.0, 0.4, -0.3])
    x = np.random.default_rng(3).normal(mean_l, np.exp(logvar_l / 2), size=(200_000, 3))

    def log_density(mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
        return -0.5 * (np.log(2 * np.pi) + logvar + (x - mean) ** 2 / np.exp(logvar))

    estimate = (log_density(mean_l, logvar_l) - log_density(mean_r, logvar_r)).sum(1).mean()
    exact = divergence("kl")(gaussian(list(mean_l), list(logvar_l)),
                             gaussian(list(mean_r), list(logvar_r)))
    np.testing.assert_allclose(exact, [estimate], rtol=0.02)


def test_kl_is_exactly_zero_for_equal_distributions(loss) -> None:
    g = gaussian([0.3, -2.0], [1.5, -0.5])
    c = Value.from_learner(np.array([[3.0, -1.0]], np.float32), CLASS)
    assert loss("kl", g, g).tolist() == [0.0]
    assert loss("kl", c, c).tolist() == [0.0]


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_shape_mismatch_raises_naming_both_shapes(mode: str) -> None:
    lhs = Value.from_data(np.zeros((4, 2), np.float32), REAL)
    rhs = Value.from_data(np.zeros((4, 3), np.float32), WireType("Real", (3,)))
    fn = divergence("mse") if mode == "eager" else jax.jit(divergence("mse"))
    with pytest.raises(WireValueError, match=r"lhs \(4, 2\), rhs \(4, 3\)"):
        fn(lhs, rhs)


def test_different_wire_types_of_one_shape_are_refused() -> None:
    with pytest.raises(WireValueError, match=r"wire types: lhs Real\[2\], rhs Class\[2\]"):
        divergence("mse")(real([[0, 1]]), Value.from_data(np.array([1]), CLASS))


@pytest.mark.parametrize(("name", "value"), [("kl", real([[0, 1]])), ("mse", gaussian([0], [0]))])
def test_divergence_outside_its_kinds_is_refused(name: str, value: Value) -> None:
    with pytest.raises(WireValueError, match=f"`{name}` is not defined for {value.wire_type.kind}"):
        divergence(name)(value, value)


def test_unknown_divergence_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown divergence `cosine`; known: `bce`, `ce`"):
        divergence("cosine")


def test_every_kind_has_its_divergences_registered_the_checkers_default_first() -> None:
    """The checker picks an equation's default divergence (the first of its kind's);
    the backend must implement every one it may pick."""
    expected = {"Real": "mse", "Class": "ce", "Binary": "bce", "Gaussian": "kl", "Tokens": "ce"}
    assert {kind: names[0] for kind, names in DIVERGENCES.items()} == expected
    assert set(ALLOWED) == set(DIVERGENCES) == set(KINDS)
    for kind, names in ALLOWED.items():
        assert expected[kind] in names
        assert all(callable(divergence(n)) for n in names)


def test_gradient_of_kl_is_finite_against_a_one_hot_target() -> None:
    target = Value.from_data(np.array([0]), CLASS)

    def f(logits: jax.Array) -> jax.Array:
        return divergence("kl")(Value.from_learner(logits, CLASS), target).sum()

    grad = jax.grad(f)(np.array([[2.0, -1.0]], np.float32))
    p = np.exp([2.0, -1.0]) / np.exp([2.0, -1.0]).sum()
    np.testing.assert_allclose(grad, [p - [1.0, 0.0]], rtol=1e-5)  # softmax - target


def test_small_probabilities_without_logits_are_not_clipped_away(loss) -> None:
    lhs = Value.from_data(np.array([[1 - 1e-6, 1e-6]], np.float32), CLASS)
    rhs = Value.from_data(np.array([1]), CLASS)
    np.testing.assert_allclose(loss("ce", lhs, rhs), [np.log(1e6)], rtol=1e-4)


# --- properties --------------------------------------------------------------------------

LOGITS = arrays(np.float32, (3, 4), elements=st.floats(-8, 8, width=32))
REALS = arrays(np.float32, (3, 4), elements=st.floats(-1e3, 1e3, width=32))
CLASS4 = WireType("Class", (4,))
PROPERTY = settings(max_examples=40, deadline=None)


@PROPERTY
@given(LOGITS, LOGITS)
def test_class_kl_is_non_negative(a: np.ndarray, b: np.ndarray) -> None:
    kl = divergence("kl")(Value.from_learner(a, CLASS4), Value.from_learner(b, CLASS4))
    assert np.all(np.asarray(kl) >= -1e-5)


@PROPERTY
@given(LOGITS, LOGITS)
def test_gaussian_kl_is_non_negative(a: np.ndarray, b: np.ndarray) -> None:
    wire = WireType("Gaussian", (2,))
    lhs, rhs = (Value.from_data(x.reshape(3, 2, 2), wire) for x in (a, b))
    assert np.all(np.asarray(divergence("kl")(lhs, rhs)) >= -1e-4)


@PROPERTY
@given(REALS, REALS)
def test_mse_is_symmetric(a: np.ndarray, b: np.ndarray) -> None:
    wire = WireType("Real", (4,))
    lhs, rhs = Value.from_data(a, wire), Value.from_data(b, wire)
    mse = divergence("mse")
    np.testing.assert_array_equal(mse(lhs, rhs), mse(rhs, lhs))


@PROPERTY
@given(LOGITS, LOGITS)
def test_ce_is_minimised_where_lhs_equals_rhs(target: np.ndarray, other: np.ndarray) -> None:
    p = Value.from_learner(target, CLASS4)
    q = Value.from_learner(other, CLASS4)
    ce = divergence("ce")
    assert np.all(np.asarray(ce(p, p)) <= np.asarray(ce(q, p)) + 1e-5)
