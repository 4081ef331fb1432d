"""The train step: one ``jax.jit``; per step, one backward pass over the learners it updates.

This module imports only JAX and Optax: ``compile.py`` copies ``train_step``
(and ``scheduled``, ``PerLearner`` with them) verbatim into the standalone
modules it writes, so the lowering and the compiled module train the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


def train_step(loss: Callable[[Any, Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]],
               learners: Sequence[str], trained: Sequence[str],
               optimizer: optax.GradientTransformation | PerLearner | Scheduled, *,
               donate: bool = True,
               ema: Mapping[str, tuple[str, float]] | None = None) -> tuple[Callable, Callable]:
    """``(init_opt_state, step)`` for ``loss(params, batch, key) -> (total, task values)``.

    Only the ``trained`` learners are differentiated and updated (the others
    are constants of the objective and report a gradient norm of 0), so no
    backward pass or optimizer state is spent on them.  Under a ``scheduled``
    optimizer, each step differentiates only the learners of its phase (the
    others are constants there, and report a gradient norm of 0 in that step);
    every task's value is still reported at every step.  Called from the host,
    ``step`` runs phase ``k``'s own jitted step (``step.phase_steps[k]``), ``k``
    kept on the host from the state it returned last (read from the device once
    for any other state: a fresh or restored one); traced inside a caller's
    ``jit`` or ``scan`` it is one ``lax.switch`` on the update count, with a
    branch per phase (``step.trace`` and ``step.lower`` are that one's).  Both,
    since XLA:CPU compiles convolutions inside a branch or a loop body without
    its fast kernels (about 4x slower).  Each ``ema`` learner
    (``{target: (followed, decay)}``) is then moved, inside the same jitted step,
    to ``decay * target + (1 - decay) * followed`` with the followed learner's
    *updated* parameters (no gradient reaches it).  ``step(params,
    opt_state, batch, key) -> (params, opt_state, metrics)`` is jitted with the
    params and optimizer state donated, and (but for that one read) never syncs
    with the host.
    """
    phased = getattr(optimizer, "phase", None) is not None
    groups = optimizer.active(trained) if phased else (tuple(trained),)

    def init_opt_state(params: dict[str, Any]) -> Any:
        return optimizer.init({n: params[n] for n in trained})

    def branch(k: int) -> Callable:
        """The step of phase ``k`` (the only one without a schedule)."""
        on = groups[k]

        def run(params: dict[str, Any], opt_state: Any, batch: Any, key: jax.Array
                ) -> tuple[dict[str, Any], Any, dict[str, jax.Array]]:
            trainable = {n: params[n] for n in trained}
            moving = {n: params[n] for n in on}

            def objective(moving: dict[str, Any]) -> tuple[jax.Array, dict[str, jax.Array]]:
                return loss({**params, **moving}, batch, key)

            (total, tasks), grads = jax.value_and_grad(objective, has_aux=True)(moving)
            if phased:
                updates, opt_state = optimizer.phase(k, grads, opt_state, trainable)
            else:
                updates, opt_state = optimizer.update(grads, opt_state, trainable)
            norms = {n: optax.tree.norm(grads[n]) if n in grads else jnp.zeros(())
                     for n in learners}
            metrics = {**tasks, "loss": total, **{f"grad_norm/{n}": v for n, v in norms.items()}}
            new = {**params, **optax.apply_updates(moving, updates)}
            for target, (followed, decay) in (ema or {}).items():
                new[target] = optax.incremental_update(new[followed], new[target], 1.0 - decay)
            return new, opt_state, metrics

        return run

    donated = (0, 1) if donate else ()
    if not phased:
        return init_opt_state, jax.jit(branch(0), donate_argnums=donated)

    def switched(params: dict[str, Any], opt_state: Any, batch: Any, key: jax.Array
                 ) -> tuple[dict[str, Any], Any, dict[str, jax.Array]]:
        return jax.lax.switch(opt_state.step % len(groups),
                              [branch(k) for k in range(len(groups))],
                              params, opt_state, batch, key)

    traced = jax.jit(switched, donate_argnums=donated)
    phase_steps = tuple(jax.jit(branch(k), donate_argnums=donated) for k in range(len(groups)))
    last: list[Any] = [None, 0]  # the step counter this returned last, and its phase

    def step(params: dict[str, Any], opt_state: Any, batch: Any, key: jax.Array
             ) -> tuple[dict[str, Any], Any, dict[str, jax.Array]]:
        """Phase ``k``'s own compiled step, ``k`` known on the host: the counter of the
        state this returned last, else read once (a new or restored state).  Traced
        (inside a caller's ``jit`` or ``scan``) it is the ``lax.switch`` step."""
        counter = opt_state.step
        if isinstance(counter, jax.core.Tracer):
            return switched(params, opt_state, batch, key)
        k = last[1] if counter is last[0] else int(counter) % len(groups)
        params, opt_state, metrics = phase_steps[k](params, opt_state, batch, key)
        last[:] = [opt_state.step, (k + 1) % len(groups)]
        return params, opt_state, metrics

    # A loop that knows the update count i can call phase_steps[i % len(phase_steps)].
    step.trace, step.lower, step.phase_steps = traced.trace, traced.lower, phase_steps
    return init_opt_state, step


class PerLearner(NamedTuple):
    """An optimizer per learner: ``learners[name]`` for the learners it names, ``default``
    for the others, as ``optax.partition`` (formerly ``multi_transform``) with one label
    per learner, so each learner keeps its own state (its learning-rate schedule counts
    its own updates, its ``clip`` its own gradient).  The labels are the learner names,
    known only from the parameters (``optimizer_of`` builds it from a plan that names
    none), so ``init`` and ``update`` build the partition for the learners they get.
    Its state is ``optax.PartitionState``: per learner a ``MaskedState`` whose inner
    state has a (leafless) ``MaskedNode`` for every other learner, which Orbax
    checkpoints as it is.  ``partition`` is how ``scheduled`` tells it from a plain
    optax transformation."""

    default: optax.GradientTransformation
    learners: Mapping[str, optax.GradientTransformation]

    def pick(self, name: str) -> optax.GradientTransformation:
        return self.learners.get(name, self.default)

    def partition(self, names: Collection[str]) -> optax.GradientTransformation:
        """``optax.partition`` over ``names``, each learner its own label."""
        names = list(names)
        return optax.partition({n: self.pick(n) for n in names}, {n: n for n in names})

    def init(self, params: dict[str, Any]) -> optax.OptState:
        return self.partition(params).init(params)

    def update(self, grads: dict[str, Any], state: optax.OptState,
               params: dict[str, Any] | None = None) -> tuple[dict[str, Any], optax.OptState]:
        return self.partition(grads).update(grads, state, params)


class PhasedState(NamedTuple):
    """The state of ``scheduled``'s optimizer: the updates done, and each learner's own
    state (``optax.partition``'s inner state for its label)."""

    step: jax.Array  # picks the phase of the next update
    learners: dict[str, Any]


class Scheduled(NamedTuple):
    """``scheduled``'s optimizer: optax's ``init`` and ``update``, and what ``train_step``
    needs to differentiate only a phase's learners: ``active(names)``, the learners each
    phase updates, and ``phase(k, grads, state, params)``, phase ``k``'s update from its
    learners' gradients alone (``params``: every learner's, for the shapes)."""

    init: Callable[[dict[str, Any]], PhasedState]
    update: Callable[..., tuple[dict[str, Any], PhasedState]]
    active: Callable[[Collection[str]], tuple[tuple[str, ...], ...]]
    phase: Callable[..., tuple[dict[str, Any], PhasedState]]


def scheduled(optimizer: optax.GradientTransformation | PerLearner,
              phases: Sequence[Collection[str]]
              ) -> optax.GradientTransformation | PerLearner | Scheduled:
    """``optimizer`` updating, at update ``i``, only the learners of ``phases[i % len(phases)]``.

    Parameters are dicts keyed by learner; a learner no phase names updates at
    every step; no phases at all is ``optimizer`` itself (simultaneous updates).
    Each learner has its own ``optimizer`` state (``PerLearner``: a
    ``PerLearner`` optimizer's own transformation for it), so Adam's step count
    is the number of its own updates.  Outside its phases a learner keeps its
    state and its parameters, bit for bit.  ``train_step`` calls ``phase`` in
    one ``lax.switch`` branch per phase; ``update`` (optax's interface, all
    gradients given) gives a paused learner the update ``-0.0``, since ``x +
    -0.0`` is ``x`` bit for bit (``+0.0`` would turn ``-0.0`` into ``0.0``).
    """
    if not phases:
        return optimizer
    named = frozenset().union(*phases)
    each = optimizer if hasattr(optimizer, "partition") else PerLearner(optimizer, {})

    def active(names: Collection[str]) -> tuple[tuple[str, ...], ...]:
        names = tuple(names)
        return tuple(tuple(n for n in names if n in phase or n not in named) for phase in phases)

    def init(params: dict[str, Any]) -> PhasedState:
        return PhasedState(jnp.zeros((), jnp.int32), dict(each.init(params).inner_states))

    def phase(k: int, grads: dict[str, Any], state: PhasedState,
              params: dict[str, Any] | None = None) -> tuple[dict[str, Any], PhasedState]:
        on = active(state.learners)[k]
        # The partition runs over every learner (each label's state has a place for every
        # learner); a paused learner's zero gradient and new state are dropped here, so
        # XLA never computes them.
        full = {n: grads[n] if n in grads else jax.tree.map(jnp.zeros_like, params[n])
                for n in state.learners}
        updates, new = each.partition(state.learners).update(
            full, optax.PartitionState(state.learners), params)
        learners = {n: new.inner_states[n] if n in on else state.learners[n]
                    for n in state.learners}
        return {n: updates[n] for n in on}, PhasedState(state.step + 1, learners)

    def update(grads: dict[str, Any], state: PhasedState, params: dict[str, Any] | None = None
               ) -> tuple[dict[str, Any], PhasedState]:
        def branch(k: int) -> Callable:
            def run(grads: dict[str, Any], state: PhasedState, params: Any
                    ) -> tuple[dict[str, Any], PhasedState]:
                updates, state = phase(k, grads, state, params)
                paused = {n: jax.tree.map(lambda g: jnp.full_like(g, -0.0), grads[n])
                          for n in grads if n not in updates}
                return {**updates, **paused}, state
            return run

        return jax.lax.switch(state.step % len(phases), [branch(k) for k in range(len(phases))],
                              grads, state, params)

    return Scheduled(init, update, active, phase)
