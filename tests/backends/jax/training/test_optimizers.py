"""Optimizers per learner, learning-rate schedules, clipping and task weights by `--set`.

The settings resolve to one `optimizer` value (schedules given the run's `steps`, `clip`
folded in); ``optimizers.plan_of`` reads it into plain data that ``compile`` writes into
the module, and ``optimizer_of`` builds the same optax optimizer from it in both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskdsl
from taskdsl.backends.jax.check import check_program
from taskdsl.backends.jax.lowering.compile import compile_objective
from taskdsl.backends.jax.lowering.errors import LowerError
from taskdsl.backends.jax.lowering.lower import lower, make_train_step
from taskdsl.backends.jax.lowering.optimizers import (
    learning_rate_of,
    optimizer_from_spec,
    plan_of,
)
from taskdsl.backends.jax.lowering.step import PerLearner, scheduled, train_step
from taskdsl.backends.jax.training import watch
from taskdsl.backends.jax.training.errors import USAGE, TrainError
from taskdsl.backends.jax.training.runs import run_optimizer
from taskdsl.backends.jax.training.settings import (
    from_json,
    parse_value,
    resolve,
    reweighted,
    show,
)
from taskdsl.backends.jax.training.train import train
from taskdsl.ir import Program
from tests.backends.jax.compiled_modules import learner_fns, module_of, raw_batch, tiny_impls

SOURCE = """
type Img = Real[8, 8, 1]
data pairs : -> Img, Class[10]
learner get : Img -> Class[10]
learner put : Img -> Img
task classify:
    x, y <- pairs
    get(x) = y
task recon:
    x, y <- pairs
    put(x) = x
objective both = classify + 2 * recon
impl get = nets.mlp(width = 8, depth = 1)
impl put = nets.mlp(width = 8, depth = 1)
train both:
    data pairs = datasets.digits(split = "train")
    batch 4
    steps 30
"""


def program(text: str = SOURCE) -> Program:
    result = taskdsl.check_text(text)
    assert result.ok, result.render()
    return result.program


# ---------------------------------------------------------------- schedules


@settings(max_examples=6, deadline=None)
@given(peak=st.floats(1e-5, 1.0), warmup=st.integers(0, 20), length=st.integers(1, 40),
       last=st.floats(0.0, 0.9))
def test_schedules_are_optaxs(peak: float, warmup: int, length: int, last: float) -> None:
    """Warm-up then cosine, exponential or constant: optax's own schedules, step by step."""
    steps = warmup + length
    counts = sorted({0, 1, max(warmup - 1, 0), warmup, warmup + 1, warmup + length // 2,
                     steps - 1, steps, steps + 3})
    expected = {
        "cosine": optax.warmup_cosine_decay_schedule(0.0, peak, warmup, steps, last * peak),
        "exponential": optax.warmup_exponential_decay_schedule(0.0, peak, warmup, length,
                                                               last),
        # optax warms up to `peak` in 0 steps by starting at 0; no warm-up is `peak` itself
        "constant": (optax.warmup_constant_schedule(0.0, peak, warmup) if warmup
                     else optax.constant_schedule(peak)),
    }
    for kind, theirs in expected.items():
        end = last * peak if kind == "cosine" else last
        ours = learning_rate_of((kind, peak, warmup, steps, end))
        for count in counts:
            value = float(ours(count)) if callable(ours) else ours
            assert value == pytest.approx(float(theirs(count)), rel=1e-5, abs=1e-9), (kind, count)


def test_a_schedule_gets_the_runs_steps_and_clip_and_is_recorded_so() -> None:
    text = SOURCE + "    optimizer adam(lr = cosine(1e-2, warmup = 5))\n    clip 2.0\n"
    found = resolve(program(text), "both", ["steps=50"])
    assert found.optimizer == parse_value("adam(lr = cosine(1e-2, warmup = 5, steps = 50), "
                                          "clip = 2.0)")
    assert plan_of(found.optimizer) == (("adam", (), ("cosine", 1e-2, 5, 50, 0.0), 2.0), ())
    again = from_json(program(text), "both", json.loads(json.dumps(found.to_json())))
    assert (again.optimizer, again.clip) == (found.optimizer, found.clip)


def test_clip_alone_clips_the_default_optimizer() -> None:
    found = resolve(program(), "both", ["clip=2"])
    assert (found.optimizer, found.clip) == (parse_value("adam(lr = 1e-3, clip = 2)"), 2)


def test_the_logged_learning_rate_is_the_schedules_at_that_step() -> None:
    spec = resolve(program(SOURCE + "    optimizer sgd(lr = exponential(0.5, warmup = 3, "
                                    "rate = 0.1))\n"), "both").optimizer
    rate = watch.learning_rate(spec)
    schedule = optax.warmup_exponential_decay_schedule(0.0, 0.5, 3, 27, 0.1)
    for step in (1, 2, 4, 10, 30):  # step s is reached by update s - 1
        assert rate(step) == pytest.approx(float(schedule(step - 1)))
    assert watch.learning_rate(resolve(program(), "both").optimizer) == 1e-3


def test_tensorboard_plots_the_scheduled_rate(tmp_path: Path) -> None:
    from tests.backends.jax.training.test_watch import scalars

    spec = parse_value("adam(lr = cosine(1e-2, warmup = 2, steps = 10))")
    board = watch.Board(tmp_path, ("classify",), 0, watch.learning_rate(spec))
    for step in (1, 3, 6, 10):
        board.scalars({"step": step, "loss": 1.0})
    board.close()
    schedule = optax.warmup_cosine_decay_schedule(0.0, 1e-2, 2, 10)
    plotted = scalars(tmp_path / watch.TB_FOLDER)["lr"]
    assert plotted == pytest.approx({s: float(schedule(s - 1)) for s in (1, 3, 6, 10)})


# ---------------------------------------------------------------- the step


def quadratic(params: dict[str, Any], batch: Any, key: jax.Array
              ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """A loss whose gradient is large for both learners: (a - 10)² + (b + 10)²."""
    a = jnp.sum((params["a"] - 10.0) ** 2)
    b = jnp.sum((params["b"] + 10.0) ** 2)
    return a + b, {"a": a, "b": b}


def run(optimizer: Any, count: int = 3) -> list[dict[str, np.ndarray]]:
    init, step = train_step(quadratic, ("a", "b"), ("a", "b"), optimizer, donate=False)
    params = {"a": jnp.arange(3.0), "b": -jnp.arange(4.0)}
    state = init(params)
    history = [jax.device_get(params)]
    for i in range(count):
        params, state, _ = step(params, state, None, jax.random.key(i))
        history.append(jax.device_get(params))
    return history


@pytest.mark.parametrize("phases", [(), ({"a"}, {"b"})])
def test_a_learner_with_learning_rate_zero_does_not_move(phases: tuple) -> None:
    optimizer = scheduled(optimizer_from_spec(parse_value("each(sgd(0.1), a: sgd(0))")), phases)
    history = run(optimizer)
    assert all(np.array_equal(h["a"], history[0]["a"]) for h in history)
    assert not np.array_equal(history[-1]["b"], history[0]["b"])


def test_each_learner_gets_its_own_optimizer() -> None:
    """`each(sgd(0.1), a: sgd(0.01))` is sgd(0.01) on `a` alone and sgd(0.1) on `b` alone."""
    history = run(optimizer_from_spec(parse_value("each(sgd(0.1), a: sgd(0.01))")), 1)
    for name, lr in (("a", 0.01), ("b", 0.1)):
        alone = run(optax.sgd(lr), 1)
        np.testing.assert_array_equal(history[1][name], alone[1][name])


@pytest.mark.parametrize("clip", [0.5, 3.0])
def test_clipping_bounds_each_learners_update(clip: float) -> None:
    """sgd(1) updates by the gradient itself: clipped, its norm is at most `clip`."""
    clipped = run(optimizer_from_spec(parse_value(f"sgd(lr = 1, clip = {clip})")), 1)
    free = run(optimizer_from_spec(parse_value("sgd(lr = 1)")), 1)
    for name in ("a", "b"):
        moved = np.linalg.norm(clipped[1][name] - clipped[0][name])
        assert moved == pytest.approx(clip, rel=1e-5)  # the gradients' norms are far above
        assert np.linalg.norm(free[1][name] - free[0][name]) > 10 * clip


def test_the_schedule_count_is_in_the_optimizer_state() -> None:
    """What a checkpoint holds: resuming from it goes on with the schedule's next rate."""
    optimizer = optimizer_from_spec(parse_value("sgd(lr = cosine(1, warmup = 2, steps = 6))"))
    init, step = train_step(quadratic, ("a", "b"), ("a", "b"), optimizer, donate=False)
    params = {"a": jnp.zeros(3), "b": jnp.zeros(4)}
    state = init(params)
    for i in range(3):
        params, state, _ = step(params, state, None, jax.random.key(i))
    counts = [int(leaf) for leaf in jax.tree.leaves(state) if np.ndim(leaf) == 0]
    assert 3 in counts


def test_per_learner_state_is_kept_per_learner() -> None:
    optimizer = optimizer_from_spec(parse_value("each(adam(1e-3), b: sgd(0.1))"))
    assert isinstance(optimizer, PerLearner)
    state = optimizer.init({"a": jnp.zeros(2), "b": jnp.zeros(2)})
    assert set(state.inner_states) == {"a", "b"}
    assert jax.tree.structure(state.inner_states["b"].inner_state) == jax.tree.structure(
        optax.sgd(0.1).init({"a": optax.MaskedNode(), "b": jnp.zeros(2)}))


@pytest.mark.parametrize(("spec", "words"), [
    ("adam(lr = cosine(1e-3))", "option `lr`.*cosine"),  # no steps: resolve adds them
    ("adam(lr = linear(1e-3, steps = 5))", "option `lr`.*linear"),
    ("adam(clip = 0)", "option `clip`"),
    ("each(adam, sgd)", r"no option `#2 \(positional\)`"),
])
def test_the_lowering_refuses_what_is_not_an_optimizer(spec: str, words: str) -> None:
    with pytest.raises(LowerError, match=words):
        optimizer_from_spec(parse_value(spec))


# ---------------------------------------------------------------- weights


def test_a_weight_override_changes_the_loss_composition_exactly() -> None:
    base = program(SOURCE + "    weights each(recon: 0.5)\n")
    found = resolve(base, "both", ["weight.classify=3"])
    assert show(found.weights) == "each(recon = 0.5, classify = 3)"
    low = lower(reweighted(base, "both", found.weights), "both", tiny_impls(base))
    params = low.init(jax.random.key(0))
    total, tasks = low.loss(params, raw_batch(low, 4), jax.random.key(1), 4)
    assert float(total) == pytest.approx(3 * float(tasks["classify"]) + 0.5 * float(tasks["recon"]),
                                         rel=1e-6)
    plain = lower(base, "both", tiny_impls(base))
    total0, tasks0 = plain.loss(params, raw_batch(low, 4), jax.random.key(1), 4)
    assert float(total0) == pytest.approx(float(tasks0["classify"]) + 2 * float(tasks0["recon"]),
                                          rel=1e-6)
    assert reweighted(base, "both", None) is base


@settings(max_examples=25, deadline=None)
@given(weights=st.dictionaries(st.sampled_from(["classify", "recon"]),
                               st.floats(0, 1e3, allow_nan=False) | st.integers(0, 100)))
def test_weight_overrides_replace_exactly_the_weights_named(weights: dict) -> None:
    base = program()
    found = resolve(base, "both", [f"weight.{k}={v!r}" for k, v in weights.items()])
    again = from_json(base, "both", json.loads(json.dumps(found.to_json())))
    assert again.weights == found.weights
    terms = reweighted(base, "both", again.weights).objective("both").terms
    assert [t.weight for t in terms] == [float(weights.get("classify", 1.0)),
                                         float(weights.get("recon", 2.0))]


# ---------------------------------------------------------------- checked


def codes(text: str, overrides: list[str] = ()) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in check_program(program(text), overrides,
                                                         objective="both")]


@pytest.mark.parametrize(("line", "override", "code"), [
    ("    weights each(recno: 1)\n", None, "weight-task"),
    ("    weights each(recon: -1)\n", None, "weight-value"),
    (None, "weight.clasify=2", "weight-task"),
    ("    optimizer each(adam, gte: sgd(0.1))\n", None, "optimizer-learner"),
    (None, "optimizer.pt=sgd(0.1)", "optimizer-learner"),
    ("    optimizer adam(lr = cosin(1e-3))\n", None, "optimizer-schedule"),
    ("    optimizer adam(lr = cosine(1e-3, warmup = 30))\n", None, "optimizer-schedule"),
    ("    optimizer adam(lr = cosine(1e-3, warm = 3))\n", None, "optimizer-schedule"),
    ("    optimizer each(adam, sgd)\n", None, "optimizer-each"),
    ("    clip -1\n", None, "setting-value"),
])
def test_bad_settings_are_check_errors_located(line: str | None, override: str | None,
                                               code: str) -> None:
    found = codes(SOURCE + (line or ""), [override] if override else [])
    assert [c for c, _ in found] == [code]
    # at the train block's line, or at line 1 of the `--set` pseudo-file
    assert found[0][1] == (SOURCE.count("\n") + 1 if line else 1)


def test_a_bad_override_stops_a_run_as_a_usage_error() -> None:
    with pytest.raises(TrainError) as caught:
        resolve(program(), "both", ["weight.nope=1"])
    assert caught.value.exit_code == USAGE
    assert "`classify`, `recon`" in str(caught.value)  # the objective's tasks, listed


# ---------------------------------------------------------------- compile and train


@pytest.mark.parametrize("schedule", ["simultaneous", "alternate(get: 1, put: 2)"])
def test_the_compiled_module_builds_the_runs_optimizer(tmp_path: Path, schedule: str) -> None:
    """Contract: the module's own optimizer (OPTIMIZER, under PHASES) trains step for step
    as the run's (``run_optimizer``) does, per-learner states and schedule counts included."""
    base = program(SOURCE + "    optimizer each(adam(lr = cosine(1e-2, warmup = 1)), "
                            "put: sgd(lr = exponential(0.1, rate = 0.5)))\n    clip 0.5\n"
                            f"    schedule {schedule}\n")
    found = resolve(base, "both", ["steps=4"])
    impls = tiny_impls(base)
    low = lower(base, "both", impls)
    module = module_of(compile_objective(base, "both", impls, phases=found.schedule.phases,
                                         optimizer=found.optimizer), tmp_path / "both.py")
    assert plan_of(found.optimizer) == module.OPTIMIZER
    batch = raw_batch(low, 4)
    results = []
    for init, step in (make_train_step(low, run_optimizer(found), donate=False, batch_size=4),
                       module.make_train_step(learner_fns(low), None, 4, donate=False)):
        params = low.init(jax.random.key(0))
        state = init(params)
        for i in range(3):
            params, state, _ = step(params, state, batch, jax.random.key(i))
        results.append((params, state))
    (params_l, state_l), (params_c, state_c) = results
    # the same shape (the module's PhasedState is its own copy of the class)
    assert str(jax.tree.structure(state_l)) == str(jax.tree.structure(state_c))
    for a, b in zip(jax.tree.leaves((params_l, state_l)), jax.tree.leaves((params_c, state_c)),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.slow  # a training run: about 15 s
def test_a_run_records_and_trains_with_weights_and_optimizers(tmp_path: Path) -> None:
    text = SOURCE.replace("steps 30", "steps 3") + "    log_every 1\n    tensorboard false\n"
    train(program(text), "both", ["weight.recon=0", "optimizer.get=sgd(0)", "clip=1.0"],
          out=tmp_path / "run", progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    recorded = config["settings"]
    assert recorded["weights"] == "each(recon = 0)"
    assert recorded["optimizer"] == "each(adam(lr = 0.001, clip = 1.0), get = sgd(lr = 0, clip = 1.0))"
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text(
        encoding="utf-8").splitlines()]
    steps = [r for r in lines if "loss" in r]
    # recon weighs 0, so the total is classify's alone
    assert all(r["loss"] == pytest.approx(r["classify"], rel=1e-6) for r in steps)


@pytest.mark.slow  # three training runs: about 40 s
def test_a_resumed_run_with_schedules_and_clipping_is_bit_identical(tmp_path: Path) -> None:
    """The schedules' counts live in the checkpointed optimizer state (one per learner)."""
    from taskdsl.backends.jax.training.runs import load_run

    text = SOURCE.replace("steps 30", "steps 4") + (
        "    optimizer each(adam(lr = cosine(1e-2, warmup = 1, steps = 4)), "
        "put: sgd(lr = exponential(0.1, rate = 0.5, steps = 4)))\n"
        "    clip 0.5\n    checkpoint_every 2\n    tensorboard false\n")
    path = tmp_path / "both.task"
    path.write_text(text, encoding="utf-8")
    loaded = taskdsl.load(path)
    whole = train(loaded, "both", (), out=tmp_path / "whole", progress=False)
    train(loaded, "both", ("steps=2",), out=tmp_path / "resumed", progress=False)
    resumed = train(loaded, "both", (), out=tmp_path / "resumed", resume=True, progress=False)

    def bits(tree: Any) -> list[bytes]:
        return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]

    assert resumed.step == whole.step == 4
    assert bits(resumed.params) == bits(whole.params)
    assert bits(load_run(tmp_path / "whole").params) == bits(whole.params)
