"""Phase-only gradients: under ``schedule alternate(...)`` each step's backward pass
reaches only the learners its phase updates (``step.train_step``, ``step.scheduled``), and
the step is the textbook alternating loop, per-learner optimizers (``optax.partition``) and
checkpoints included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from taskdsl.backends.jax.lowering.step import PerLearner, PhasedState, scheduled, train_step
from taskdsl.backends.jax.training.checkpoint import Checkpoints

NAMES = ("a", "b", "c")
PATTERNS = [({"a"}, {"b"}), ({"a", "b"}, {"b"}, {"a"}), ({"b"}, {"a"}, {"a"})]


def traced(name: str) -> Callable[[jax.Array], jax.Array]:
    """The identity, whose backward pass is a jitted function named ``backward_<name>``:
    it shows in a jaxpr exactly where a gradient reaches learner ``name``."""

    @jax.custom_vjp
    def identity(p: jax.Array) -> jax.Array:
        return p

    def backward(g: jax.Array) -> jax.Array:
        return g

    backward.__name__ = f"backward_{name}"
    identity.defvjp(lambda p: (p, None), lambda _, g: (jax.jit(backward)(g),))
    return identity


MARKED = {n: traced(n) for n in NAMES}


def loss(params: dict[str, Any], batch: Any, key: jax.Array
         ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Three coupled tasks, so that each learner's gradient depends on the others."""
    a, b, c = (MARKED[n](params[n]) for n in NAMES)
    tasks = {"near": jnp.sum((a - 3.0) ** 2) + jnp.sum(b) ** 2,
             "far": jnp.sum((b * a[0] + 2.0) ** 2),
             "mid": jnp.sum((c - a[1] + b[0]) ** 2)}
    return sum(tasks.values()), tasks


def start() -> dict[str, jax.Array]:
    return {"a": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array([1.0, -0.0]),
            "c": jnp.array([-0.0, 0.25])}


def walk(jaxpr: Any, found: set[str]) -> set[str]:
    """The names of the jitted functions anywhere in ``jaxpr`` (nested ones included)."""
    if hasattr(jaxpr, "eqns"):
        for eqn in jaxpr.eqns:
            name = eqn.params.get("name")
            if isinstance(name, str):
                found.add(name)
            for value in eqn.params.values():
                walk(value, found)
    elif hasattr(jaxpr, "jaxpr"):
        walk(jaxpr.jaxpr, found)
    elif isinstance(jaxpr, tuple | list):
        for item in jaxpr:
            walk(item, found)
    return found


def branches(jaxpr: Any) -> list[Any]:
    """The branches of the (one) ``cond`` that switches on the phase."""
    if hasattr(jaxpr, "eqns"):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "cond":
                return list(eqn.params["branches"])
            for value in eqn.params.values():
                for inner in value if isinstance(value, tuple | list) else (value,):
                    found = branches(inner)
                    if found:
                        return found
    elif hasattr(jaxpr, "jaxpr"):
        return branches(jaxpr.jaxpr)
    return []


def expected(phases: tuple[set[str], ...], trained: tuple[str, ...]) -> list[set[str]]:
    """The learners each phase updates: its own, and the trained ones no phase names."""
    named = set().union(*phases)
    return [{n for n in trained if n in p or n not in named} for p in phases]


@pytest.mark.parametrize("phases", PATTERNS)
def test_each_phase_differentiates_only_its_learners(phases: tuple[set[str], ...]) -> None:
    init, step = train_step(loss, NAMES, NAMES, scheduled(optax.adam(0.1), phases),
                            donate=False)
    params = start()
    jaxpr = jax.make_jaxpr(step)(params, init(params), None, jax.random.key(0))
    reached = [{n[len("backward_"):] for n in walk(b, set()) if n.startswith("backward_")}
               for b in branches(jaxpr)]
    assert reached == expected(phases, NAMES)


def test_without_a_schedule_one_backward_pass_reaches_every_trained_learner() -> None:
    init, step = train_step(loss, NAMES, ("a", "c"), optax.adam(0.1), donate=False)
    params = start()
    jaxpr = jax.make_jaxpr(step)(params, init(params), None, jax.random.key(0))
    assert branches(jaxpr) == []
    assert {n for n in walk(jaxpr, set()) if n.startswith("backward_")} == {
        "backward_a", "backward_c"}


def own_optimizers() -> dict[str, optax.GradientTransformation]:
    return {"a": optax.adam(0.1),
            "b": optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(0.05, momentum=0.9)),
            "c": optax.adam(optax.cosine_decay_schedule(0.2, 5))}


@pytest.mark.parametrize("phases", PATTERNS[1:])
def test_the_phased_step_is_the_textbook_alternating_loop(phases: tuple[set[str], ...]) -> None:
    """Against a hand-written loop: per phase, the gradient of its learners alone, and an
    optimizer per learner that counts only its own updates."""
    own = own_optimizers()
    optimizer = scheduled(PerLearner(own["a"], {"b": own["b"], "c": own["c"]}), phases)
    init, step = train_step(loss, NAMES, NAMES, optimizer, donate=False)
    params, hand = start(), start()
    state, states = init(params), {n: own[n].init(hand[n]) for n in NAMES}
    active = expected(phases, NAMES)
    for i in range(5):
        on = sorted(active[i % len(phases)])
        params, state, metrics = step(params, state, None, jax.random.key(i))

        def objective(sub: dict[str, jax.Array]) -> jax.Array:
            return loss({**hand, **sub}, None, jax.random.key(0))[0]

        grads = jax.grad(objective)({n: hand[n] for n in on})
        for n in on:
            update, states[n] = own[n].update(grads[n], states[n], hand[n])
            hand[n] = optax.apply_updates(hand[n], update)
        assert {"near", "far", "mid", "loss"} <= set(metrics)  # every task, every step
        for n in NAMES:
            assert (float(metrics[f"grad_norm/{n}"]) > 0) == (n in on)
    for n in NAMES:
        np.testing.assert_allclose(params[n], hand[n], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(np.signbit(params[n]), np.signbit(hand[n]))
        count = [leaf for leaf in jax.tree.leaves(state.learners[n]) if np.ndim(leaf) == 0]
        own_count = [leaf for leaf in jax.tree.leaves(states[n]) if np.ndim(leaf) == 0]
        assert [int(x) for x in count] == [int(x) for x in own_count]


def bits(tree: Any) -> list[bytes]:
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


def test_optax_update_agrees_with_the_phase_step() -> None:
    """``scheduled``'s plain optax ``update`` (every learner differentiated, the paused ones
    given ``-0.0``) moves the same learners as the phase-only step, to the same values up
    to rounding (XLA fuses the two backward passes differently), and leaves the paused
    ones' bits, ``-0.0`` included."""
    phases = ({"a"}, {"b", "c"})
    optimizer = scheduled(optax.adam(0.1), phases)
    plain = optax.GradientTransformation(optimizer.init, optimizer.update)  # no `phase`
    results = []
    for opt in (optimizer, plain):
        init, step = train_step(loss, NAMES, NAMES, opt, donate=False)
        params = start()
        history = [(params, init(params))]
        for i in range(4):
            history.append(step(*history[-1], None, jax.random.key(i))[:2])
        results.append(history)
    for ours, theirs in zip(*results, strict=True):
        assert jax.tree.structure(ours) == jax.tree.structure(theirs)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for history in results:  # step 1 is a's phase: b and c keep their bits
        assert bits({n: history[1][0][n] for n in "bc"}) == bits({n: start()[n] for n in "bc"})
        assert int(history[-1][1].step) == 4


def test_a_checkpoint_mid_cycle_resumes_bit_for_bit(tmp_path: Path) -> None:
    """The phase and each learner's ``optax.partition`` state are the checkpoint's
    optimizer state: restored from disk, the cycle goes on where it stopped."""
    phases = ({"a"}, {"b"}, {"a", "c"})
    optimizer = scheduled(PerLearner(optax.adam(0.1), {"b": optax.sgd(0.05)}), phases)
    init, step = train_step(loss, NAMES, NAMES, optimizer, donate=False)

    def run(params: dict, state: PhasedState, first: int, count: int) -> tuple:
        for i in range(first, first + count):
            params, state, _ = step(params, state, None, jax.random.key(i))
        return params, state

    whole = run(start(), init(start()), 0, 5)
    params, state = run(start(), init(start()), 0, 2)
    with Checkpoints(tmp_path, 2) as checkpoints:
        checkpoints.save(2, params, state, 0)
    with Checkpoints(tmp_path, 2) as checkpoints:
        restored = checkpoints.restore_latest(jax.eval_shape(start),
                                              jax.eval_shape(init, start()))
    assert restored is not None and int(restored.opt_state.step) == 2
    assert isinstance(restored.opt_state.learners["a"], optax.MaskedState)
    assert bits(run(restored.params, restored.opt_state, 2, 3)) == bits(whole)


def test_the_host_picks_the_phase_the_switch_would() -> None:
    """Called at the top level, the step runs phase ``k``'s own compiled step, ``k`` kept
    on the host (or read from a state it did not return); traced, it is the
    ``lax.switch`` step: the two agree, step for step."""
    phases = ({"a"}, {"b"}, {"c"})
    init, step = train_step(loss, NAMES, NAMES, scheduled(optax.adam(0.1), phases),
                            donate=False)
    assert len(step.phase_steps) == 3
    inside = jax.jit(lambda *args: step(*args))  # traced: the switch
    top, switched = (start(), init(start())), (start(), init(start()))
    for i in range(5):
        if i == 3:  # a state the step did not return: its counter is read once
            top = jax.tree.map(jnp.copy, top)
        before = top[0]
        top = step(*top, None, jax.random.key(i))[:2]
        switched = inside(*switched, None, jax.random.key(i))[:2]
        moved = {n for n in NAMES if bits(before[n]) != bits(top[0][n])}
        assert moved == {"abc"[i % 3]}
        for a, b in zip(jax.tree.leaves(top), jax.tree.leaves(switched), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
