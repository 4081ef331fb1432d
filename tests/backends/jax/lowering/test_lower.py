"""Lowering an objective: weights, samples, keys, implementations, the train step, optimizers."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import taskdsl
from taskdsl.backends.jax.lowering.lower import (
    DataRequest,
    Lowered,
    LowerError,
    lower,
    make_train_step,
    optimizer_from_spec,
)
from taskdsl.ir import Call, Name, Program
from taskdsl.types import WireType

B = 16
TINY = Call("nets.mlp", (), {"width": 8, "depth": 1})

MANIPULATOR = """
type Image = Real[4]
type Digit = Class[3]
data pairs : -> Image, Digit
random digit : -> Digit ~ uniform
random noise : -> Image ~ normal
learner get : Image -> Digit
learner put : Image, Digit -> Image

task classify:
    x, y <- pairs
    get(x) = y                      trains get
task put_get:
    x, _ <- pairs
    a <- digit
    get(put(x, a)) = a              trains put
task get_put:
    x <- noise
    put(x, get(x)) = x              trains put
task fresh:
    x <- noise
    y <- noise
    put(x, get(x)) = y              trains put
task undo:
    x, _ <- pairs
    a <- digit
    put(put(x, a), get(x)) = x      trains put

objective manipulate = put_get + 10 * get_put + 0.5 * undo
objective everything = classify + put_get + get_put + undo
"""


class Identity(nnx.Module):
    """A user net that returns its first input unchanged (one dummy parameter, so it has state)."""

    def __init__(self, inputs: object, outputs: object, *, rngs: nnx.Rngs) -> None:
        self.zero = nnx.Param(jnp.zeros(()))

    def __call__(self, x: jax.Array, *conditioning: jax.Array) -> tuple[jax.Array, ...]:
        return (x + self.zero[...],)


IDENTITY = Call(f"{__name__}.Identity")


def program(text: str = MANIPULATOR) -> Program:
    result = taskdsl.check_text(text)
    assert result.ok, result.render()
    return result.program


def lower_with(objective: str, **impls: object) -> Lowered:
    """Lower with tiny MLPs for get and put unless ``impls`` says otherwise."""
    return lower(program(), objective, {"get": TINY, "put": TINY, **impls})


@functools.cache
def lowered(objective: str, identity_put: bool = False) -> Lowered:
    """Shared across tests, so each objective's init and loss compile once."""
    return lower_with(objective, **({"put": IDENTITY} if identity_put else {}))


def random_batch(low: Lowered, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)

    def array(t: WireType) -> np.ndarray:
        if t.kind == "Class":
            return rng.integers(0, t.shape[0], B)
        return rng.random((B, *t.value_shape), dtype=np.float32)

    return {r.key: tuple(array(t) for t in r.types) for r in low.data_requests()}


@functools.cache
def jitted_loss(low: Lowered) -> Callable:
    return jax.jit(low.loss, static_argnums=3)


def evaluate(low: Lowered, key: int = 1, seed: int = 0) -> tuple[jax.Array, dict]:
    params = low.init(jax.random.key(0))
    return jitted_loss(low)(params, random_batch(low, seed), jax.random.key(key), B)


# ---------------------------------------------------------------- the loss


def test_total_is_the_weighted_sum_of_the_task_values() -> None:
    """(d)"""
    low = lowered("manipulate")
    total, tasks = evaluate(low)
    assert set(tasks) == {"put_get", "get_put", "undo"}
    expected = tasks["put_get"] + 10 * tasks["get_put"] + 0.5 * tasks["undo"]
    np.testing.assert_allclose(total, expected, rtol=1e-6)
    assert all(float(v) > 0 for v in tasks.values())


def test_a_draw_is_the_same_sample_on_both_sides() -> None:
    """(e) put(x, get(x)) = x with an identity put: 0 only if both sides see one sample of x."""
    _, tasks = evaluate(lowered("get_put", identity_put=True))
    assert float(tasks["get_put"]) == 0.0


def test_two_draws_are_independent() -> None:
    """(e) put(x, get(x)) = y, x and y two draws from N(0, I): E (x - y)² = 2."""
    _, tasks = evaluate(lowered("fresh", identity_put=True))
    assert 1.0 < float(tasks["fresh"]) < 3.0


def test_each_draw_of_a_data_source_is_its_own_request() -> None:
    low = lowered("everything")
    image, digit = WireType("Real", (4,)), WireType("Class", (3,))
    requests = low.data_requests()
    assert [r.source for r in requests] == ["pairs"] * 3
    assert [r.key.split("/")[0] for r in requests] == ["0", "1", "3"]
    assert all(r == DataRequest(r.key, "pairs", (image, digit)) for r in requests)


def test_random_sources_are_reproducible_from_the_key() -> None:
    """(g) put_get's `a <- digit` draws from the key: same key, same loss; new key, new loss."""
    low = lowered("put_get")
    first, _ = evaluate(low, key=1)
    again, _ = evaluate(low, key=1)
    other, _ = evaluate(low, key=2)
    assert float(first) == float(again)
    assert float(first) != float(other)


def test_loss_is_the_same_eagerly_and_under_jit() -> None:
    low = lowered("manipulate")
    params, batch, key = low.init(jax.random.key(0)), random_batch(low), jax.random.key(1)
    eager, _ = low.loss(params, batch, key, B)
    jitted, _ = jitted_loss(low)(params, batch, key, B)
    np.testing.assert_allclose(eager, jitted, rtol=1e-5)


def test_a_missing_draw_names_its_key_and_source() -> None:
    low = lowered("put_get")
    with pytest.raises(LowerError, match=r"draw `0/\d+` from data source `pairs`"):
        low.loss(low.init(jax.random.key(0)), {}, jax.random.key(1), B)


def test_apply_runs_one_learner_and_returns_logits() -> None:
    low = lowered("manipulate")
    params = low.init(jax.random.key(0))
    (logits,) = low.apply("get", params, jnp.ones((B, 4)))
    assert logits.shape == (B, 3)
    assert not np.allclose(jnp.sum(logits, axis=-1), 1.0)
    with pytest.raises(LowerError, match="no learner `gets`"):
        low.apply("gets", params, jnp.ones((B, 4)))


# ------------------------------------------------------- implementations


def test_an_impl_that_cannot_fit_names_the_learner_and_the_net() -> None:
    """(f) a U-Net cannot be a classifier."""
    with pytest.raises(LowerError, match=r"learner `get`.*`nets\.unet`"):
        lower_with("manipulate", get=Call("nets.unet"))


def test_an_unknown_net_is_a_lower_error() -> None:
    with pytest.raises(LowerError, match=r"learner `put`.*did you mean `nets\.mlp`"):
        lower_with("manipulate", put=Call("nets.mlpp"))


@pytest.mark.parametrize(("image", "nets"), [
    ("Real[4]", {"get": "mlp", "put": "mlp"}),
    ("Real[8, 8, 1]", {"get": "cnn", "put": "unet"}),
])
def test_a_learner_without_impl_gets_a_default_by_signature(image: str, nets: dict) -> None:
    low = lower(program(MANIPULATOR.replace("Real[4]", image)), "manipulate")
    assert low.learner_names == ("put", "get")
    assert {n: c.name for n, c in low.impls.items()} == nets


def test_a_learner_nothing_can_implement_is_reported() -> None:
    text = """
type Image = Real[4]
learner dream : -> Image
data real : -> Image
task t:
    x <- real
    dream = x
"""
    with pytest.raises(LowerError, match=r"learner `dream`.*no `impl` line"):
        lower(program(text), "t")


def test_options_by_position_are_refused() -> None:
    with pytest.raises(LowerError, match="by position"):
        lower_with("manipulate", get=Call("nets.mlp", (8,)))


def test_an_unknown_objective_lists_the_known_ones() -> None:
    with pytest.raises(LowerError, match="`manipulate`"):
        lower_with("manipulat")


# ---------------------------------------------------------------- training


def test_train_step_lowers_the_loss_and_reports_every_metric() -> None:
    low = lowered("manipulate")
    params, batch = low.init(jax.random.key(0)), random_batch(low)
    init_opt_state, step = make_train_step(low, optax.adam(1e-2))
    opt_state = init_opt_state(params)
    get_before = jax.tree.map(jnp.copy, params["get"])
    losses = []
    for i in range(20):
        params, opt_state, metrics = step(params, opt_state, batch, jax.random.key(i % 2))
        losses.append(float(metrics["loss"]))
    assert set(metrics) == {"loss", "put_get", "get_put", "undo", "grad_norm/put",
                            "grad_norm/get"}
    assert float(metrics["grad_norm/put"]) > 0 and float(metrics["grad_norm/get"]) == 0
    assert losses[-1] < losses[0]
    assert all(bool(jnp.all(a == b)) for a, b in zip(
        jax.tree.leaves(get_before), jax.tree.leaves(params["get"]), strict=True))


def test_donated_params_are_consumed() -> None:
    low = lowered("put_get")
    params = low.init(jax.random.key(0))
    init_opt_state, step = make_train_step(low, optax.sgd(0.1))
    old = jax.tree.leaves(params["put"])[0]
    step(params, init_opt_state(params), random_batch(low), jax.random.key(0))
    assert old.is_deleted()


def test_without_data_the_batch_size_must_be_given() -> None:
    low = lowered("fresh")
    params = low.init(jax.random.key(0))
    init_opt_state, step = make_train_step(low, optax.sgd(0.1))
    with pytest.raises(LowerError, match="batch_size="):
        step(params, init_opt_state(params), {}, jax.random.key(0))
    init_opt_state, step = make_train_step(low, optax.sgd(0.1), batch_size=B)
    _, _, metrics = step(params, init_opt_state(params), {}, jax.random.key(0))
    assert np.isfinite(float(metrics["loss"]))


@pytest.mark.parametrize(("spec", "lr"), [
    (Call("adam", (), {"lr": 0.5}), 0.5),
    (Name("sgd"), 1e-2),
    ("adamw", 1e-3),
    (Call("sgd", (0.25,), {"momentum": 0.9}), 0.25),
])
def test_optimizer_from_spec_reads_the_learning_rate(spec: object, lr: float) -> None:
    optimizer = optimizer_from_spec(spec)
    params = {"w": jnp.zeros(3)}
    updates, _ = optimizer.update({"w": jnp.ones(3)}, optimizer.init(params), params)
    # the first step of adam(w) and of sgd moves each weight by exactly lr
    np.testing.assert_allclose(updates["w"], -lr * np.ones(3), rtol=1e-4)


@pytest.mark.parametrize(("spec", "message"), [
    (Call("adagrad"), "unknown optimizer `adagrad`; known: `adam`, `adamw`, `sgd`"),
    (Call("adam", (), {"learning_rate": 1.0}), "no option `learning_rate`"),
    (Call("adam", (), {"lr": "fast"}), "must be a number"),
    (3, "is not an optimizer"),
])
def test_bad_optimizer_specs_are_lower_errors(spec: object, message: str) -> None:
    with pytest.raises(LowerError, match=message):
        optimizer_from_spec(spec)


def test_the_lowering_imports_nothing_of_training_or_evaluation() -> None:
    """Loads are resolved by the caller (``training.runs.lower_loading``), so the lowering
    depends on neither, not even lazily inside a function."""
    folder = Path(__file__).resolve().parents[4] / "backends" / "jax" / "lowering"
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                assert not module.lstrip(".").startswith(("training", "evaluation")), (
                    f"{path.name}:{node.lineno} imports {module}")
                assert "backends.jax.training" not in module, path.name
                assert "backends.jax.evaluation" not in module, path.name


def test_a_load_the_caller_did_not_resolve_is_a_clear_error() -> None:
    program = taskdsl.check_text(
        "data d : -> Real[4]\nlearner f : Real[4] -> Real[4]\nimpl f = load(\"runs/f\")\n"
        "learner g : Real[4] -> Real[4]\ntask t:\n    x <- d\n    g(f(x)) = x\n").program
    with pytest.raises(LowerError, match=r"was not resolved: the lowering reads no runs"):
        lower(program, "t", {"g": Call("nets.mlp", (), {"width": 8})})
