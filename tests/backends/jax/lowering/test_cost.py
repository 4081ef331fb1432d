"""The train step's FLOP count from its lowering's cost analysis (lowering/cost.py): close to
the textbook count for an MLP, linear in the batch, and convolutions counted."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.lowering.cost import (
    achieved,
    analytic_mlp_flops,
    flops_of,
    rate_text,
    step_flops,
)
from taskdsl.backends.jax.lowering.lower import lower, make_train_step
from tests.backends.jax.compiled_modules import raw_batch

IN, WIDTH, DEPTH, CLASSES = 64, 128, 2, 10
SOURCE = f"""
type X = Real[{IN}]
data pairs : -> X, Class[{CLASSES}]
learner clf : X -> Class[{CLASSES}]

task fit:
    x, y <- pairs
    clf(x) = y  trains clf

impl clf = nets.mlp(width = {WIDTH}, depth = {DEPTH})
"""


@pytest.fixture(scope="module")
def mlp_step():
    result = taskdsl.check_text(SOURCE)
    assert result.ok, result.render()
    low = lower(result.program, "fit")
    init_opt_state, step = make_train_step(low, optax.sgd(0.1), donate=False)
    params = low.init(jax.random.key(0))
    return low, step, params, init_opt_state(params)


def _count(mlp_step, batch: int) -> float:
    low, step, params, opt_state = mlp_step
    flops = step_flops(step, params, opt_state, raw_batch(low, batch), jax.random.key(0))
    assert flops is not None
    return flops


def test_mlp_step_count_is_near_the_textbook_count(mlp_step) -> None:
    """Forward + backward of the dense layers is 3 * 2 * batch * sum(in * out); the step
    also has the loss, the ReLUs and the update, and needs no gradient for the input."""
    batch = 64
    counted = _count(mlp_step, batch)
    textbook = analytic_mlp_flops(batch, [IN, *[WIDTH] * DEPTH, CLASSES])
    assert textbook / 2 <= counted <= 2 * textbook


def test_count_grows_with_the_batch(mlp_step) -> None:
    """Almost all of the work is per example: doubling the batch about doubles the count
    (the optimizer's update, per parameter, does not grow)."""
    ratio = _count(mlp_step, 128) / _count(mlp_step, 32)
    assert 3.0 <= ratio <= 4.05


def test_convolutions_are_counted() -> None:
    """What the compiled count on a GPU leaves out (cuDNN): a 3x3 convolution's
    2 * N * H * W * Cin * Cout * 9 multiply-adds."""
    n, h, w, cin, cout = 4, 16, 16, 8, 16

    def conv(x: jax.Array, k: jax.Array) -> jax.Array:
        return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    flops = step_flops(conv, jnp.ones((n, h, w, cin)), jnp.ones((3, 3, cin, cout)))
    expected = 2 * n * h * w * cin * cout * 9
    assert flops is not None and expected / 1.5 <= flops <= expected * 1.5


@given(st.lists(st.floats(0, 1e12, allow_nan=False), max_size=4))
def test_flops_of_reads_dicts_and_lists_of_dicts(counts: list[float]) -> None:
    """JAX gives a dict, or one dict per program in a list; the list's counts add up."""
    analysis = [{"flops": c, "bytes accessed": 1.0} for c in counts]
    found = flops_of(analysis)
    assert found == (pytest.approx(sum(counts)) if counts else None)
    if counts:
        assert flops_of(analysis[0]) == counts[0]


def test_no_analysis_gives_no_rate() -> None:
    assert flops_of(None) is None and flops_of({"bytes accessed": 3.0}) is None
    assert achieved(None, 1.0) is None and achieved(1e9, 0.0) is None
    assert rate_text(None, 1.0).startswith("n/a")
    assert rate_text(2e9, 0.5) == "4.00 GFLOP/s" and rate_text(3e12, 1.0) == "3.00 TFLOP/s"
