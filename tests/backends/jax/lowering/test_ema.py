"""EMA and tied learners in the lowering: the train step's moving average, shared
parameters, no gradient into an EMA learner, and ``compile`` doing the same."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.lower import Lowered, LowerError, lower, make_train_step
from taskdsl.backends.jax.lowering.step import train_step
from taskdsl.ir import Program
from tests.backends.jax.compiled_modules import learner_fns, module_of, raw_batch, tiny_impls

B = 8

BYOL = """
type Vec = Real[4]
learner online : Vec -> Vec
learner predictor : Vec -> Vec
learner target = ema(online, {decay})
learner twin = tied(online)
data xs : -> Vec
random noise : -> Vec ~ normal

task byol:
    x <- xs
    n <- noise
    predictor(online(add(x, n))) = stop(target(x))
task tied_view:
    x <- xs
    twin(x) = scale[0.5](x)
objective both = byol + tied_view
"""


def program(decay: float = 0.9) -> Program:
    result = taskdsl.check_text(BYOL.format(decay=decay))
    assert result.ok, result.render()
    return result.program


def lowered(decay: float = 0.9) -> Lowered:
    prog = program(decay)
    return lower(prog, "both", tiny_impls(prog))


def test_an_ema_learner_has_its_own_params_a_tied_one_shares_them(low: Lowered) -> None:
    assert set(low.learner_names) == {"online", "predictor", "target"}
    assert "target" not in low.trained and "online" in low.trained
    assert low.ema == {"target": ("online", 0.9)}
    params = low.init(jax.random.key(0))
    for a, b in zip(jax.tree.leaves(params["target"]), jax.tree.leaves(params["online"]),
                    strict=True):
        np.testing.assert_array_equal(a, b)  # starts as a copy


@pytest.fixture(scope="module")
def low() -> Lowered:
    """One lowering (decay 0.9) for the tests that need no other decay."""
    return lowered()


@settings(max_examples=3, deadline=None)
@given(decay=st.floats(0.05, 0.95), steps=st.integers(1, 3), lr=st.floats(0.01, 0.3))
def test_after_k_steps_the_target_is_the_closed_form_ema_of_the_online_trajectory(
        low: Lowered, decay: float, steps: int, lr: float) -> None:
    """target_k = d^k online_0 + Σ_{i=1..k} (1-d) d^(k-i) online_i, from a recorded run;
    each example's decay goes to its own train step over the one lowering."""

    def loss(params: dict, batch: dict, key: jax.Array) -> tuple:
        return low.loss(params, batch, key, B)

    init, step = train_step(loss, low.learner_names, low.trained, optax.sgd(lr),
                            donate=False, ema={"target": ("online", decay)})
    params = low.init(jax.random.key(1))
    state = init(params)
    trajectory = [params["online"]]
    for i in range(steps):
        params, state, metrics = step(params, state, raw_batch(low, B, seed=i),
                                      jax.random.key(i))
        trajectory.append(params["online"])
        assert float(metrics["grad_norm/target"]) == 0.0
    expected = jax.tree.map(lambda p0: decay ** steps * p0, trajectory[0])
    for i in range(1, steps + 1):
        expected = jax.tree.map(lambda e, p, i=i: e + (1 - decay) * decay ** (steps - i) * p,
                                expected, trajectory[i])
    for a, b in zip(jax.tree.leaves(params["target"]), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    moved = any(not np.allclose(a, b) for a, b in zip(
        jax.tree.leaves(trajectory[0]), jax.tree.leaves(trajectory[-1]), strict=True))
    assert moved  # the online learner trained, so the average had something to follow


def test_no_gradient_reaches_an_ema_learner(low: Lowered) -> None:
    params = low.init(jax.random.key(0))
    batch = raw_batch(low, B)
    grads = jax.grad(lambda p: low.loss(p, batch, jax.random.key(0), B)[0])(params)
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(grads["target"]))
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads["online"]))


def test_a_tied_learner_is_the_learner_it_is_tied_to() -> None:
    """`twin(x)` applies `online`'s one set of parameters: the task on `twin` trains `online`."""
    prog = program()
    only_tied = lower(prog, "tied_view", tiny_impls(prog))
    assert only_tied.learner_names == ("online",) and only_tied.trained == ("online",)
    params = only_tied.init(jax.random.key(0))
    x = jnp.ones((B, 4))
    twin_task = only_tied.apply("online", params, x)[0]
    assert twin_task.shape == (B, 4)


def test_compiled_step_updates_the_ema_like_the_lowering(tmp_path: Path) -> None:
    prog = program()
    low = lower(prog, "both", tiny_impls(prog))
    module = module_of(compile_objective(prog, "both"), tmp_path / "both.py")
    assert module.EMA == {"target": ("online", 0.9)}
    batch, key = raw_batch(low, B), jax.random.key(3)
    results = []
    for init_opt_state, step in (make_train_step(low, optax.adam(1e-2)),
                                 module.make_train_step(learner_fns(low), optax.adam(1e-2), B)):
        params = low.init(jax.random.key(0))
        results.append(step(params, init_opt_state(params), batch, key))
    (params_l, _, metrics_l), (params_c, _, metrics_c) = results
    assert set(metrics_c) == set(metrics_l)
    for a, b in zip(jax.tree.leaves(params_l), jax.tree.leaves(params_c), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_trains_clause_naming_an_ema_learner_is_refused_by_the_lowering() -> None:
    prog = program()
    task = prog.tasks["byol"]
    bad = type(prog)(**{**prog.__dict__, "tasks": {
        **prog.tasks, "byol": type(task)(**{**task.__dict__, "trains": ("target",),
                                            "trains_named": True})}})
    with pytest.raises(LowerError, match="moving average of `online`"):
        lower(bad, "byol", tiny_impls(prog))


@pytest.mark.slow  # a whole `taskdsl train` run: about 6 s on 2 busy cores
def test_a_run_checkpoints_the_ema_learner_and_loads_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`taskdsl train` saves the EMA learner's own parameters, and a loaded run has them:
    an average that trails the online learner, not a copy of it."""
    from taskdsl.backends.jax.training.runs import load_run
    from taskdsl.backends.jax.training.train import train

    monkeypatch.chdir(tmp_path)  # a run names its file relative to where it was trained
    np.savez(tmp_path / "pts.npz", x=np.random.default_rng(0).standard_normal(
        (64, 4)).astype(np.float32))
    text = BYOL.format(decay=0.9) + """
impl online = nets.mlp(width = 8, depth = 1)
impl predictor = nets.mlp(width = 8, depth = 1)

train byol:
    data xs = datasets.npz(path = "pts.npz", fields = ["x"])
    steps 6
    batch 8
    tensorboard false
"""
    (tmp_path / "byol.task").write_text(text, encoding="utf-8")
    result = taskdsl.check_file("byol.task")
    assert result.ok, result.render()
    train(result.program, "byol", out="run", progress=False)
    run = load_run("run")
    assert run.step == 6 and set(run.params) == {"online", "predictor", "target"}
    gaps = [float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(
        jax.tree.leaves(run.params["target"]), jax.tree.leaves(run.params["online"]),
        strict=True)]
    assert max(gaps) > 0
