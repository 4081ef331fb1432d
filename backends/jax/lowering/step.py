"""The train step: one ``jax.jit``, one backward pass over the whole objective.

This module imports only JAX and Optax: ``compile.py`` copies ``train_step``
verbatim into the standalone modules it writes, so the lowering and the
compiled module train the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


def train_step(loss: Callable[[Any, Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]],
               learners: Sequence[str], trained: Sequence[str],
               optimizer: optax.GradientTransformation | PerLearner, *, donate: bool = True,
               ema: Mapping[str, tuple[str, float]] | None = None) -> tuple[Callable, Callable]:
    """``(init_opt_state, step)`` for ``loss(params, batch, key) -> (total, task values)``.

    Only the ``trained`` learners are differentiated and updated (the others
    are constants of the objective and report a gradient norm of 0), so no
    backward pass or optimizer state is spent on them.  Each ``ema`` learner
    (``{target: (followed, decay)}``) is then moved, inside the same jitted step,
    to ``decay * target + (1 - decay) * followed`` with the followed learner's
    *updated* parameters (no gradient reaches it).  ``step(params,
    opt_state, batch, key) -> (params, opt_state, metrics)`` is jitted with the
    params and optimizer state donated, and never syncs with the host.
    """

    def init_opt_state(params: dict[str, Any]) -> Any:
        return optimizer.init({n: params[n] for n in trained})

    def step(params: dict[str, Any], opt_state: Any, batch: Any, key: jax.Array
             ) -> tuple[dict[str, Any], Any, dict[str, jax.Array]]:
        trainable = {n: params[n] for n in trained}

        def objective(trainable: dict[str, Any]) -> tuple[jax.Array, dict[str, jax.Array]]:
            return loss({**params, **trainable}, batch, key)

        (total, tasks), grads = jax.value_and_grad(objective, has_aux=True)(trainable)
        updates, opt_state = optimizer.update(grads, opt_state, trainable)
        norms = {n: optax.tree.norm(grads[n]) if n in grads else jnp.zeros(()) for n in learners}
        metrics = {**tasks, "loss": total, **{f"grad_norm/{n}": v for n, v in norms.items()}}
        new = {**params, **optax.apply_updates(trainable, updates)}
        for target, (followed, decay) in (ema or {}).items():
            new[target] = optax.incremental_update(new[followed], new[target], 1.0 - decay)
        return new, opt_state, metrics

    return init_opt_state, jax.jit(step, donate_argnums=(0, 1) if donate else ())


class PerLearner(NamedTuple):
    """An optimizer per learner: ``learners[name]`` for the learners it names, ``default``
    for the others.  Parameters are dicts keyed by learner; each learner keeps its own state
    (so its learning-rate schedule counts its own updates).  ``pick`` is how ``scheduled``
    tells it from a plain optax transformation."""

    default: optax.GradientTransformation
    learners: Mapping[str, optax.GradientTransformation]

    def pick(self, name: str) -> optax.GradientTransformation:
        return self.learners.get(name, self.default)

    def init(self, params: dict[str, Any]) -> dict[str, Any]:
        return {n: self.pick(n).init(p) for n, p in params.items()}

    def update(self, grads: dict[str, Any], state: dict[str, Any],
               params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        updates, states = {}, {}
        for n, grad in grads.items():
            updates[n], states[n] = self.pick(n).update(grad, state[n],
                                                        None if params is None else params[n])
        return updates, states


class PhasedState(NamedTuple):
    """The state of ``scheduled``'s optimizer: the updates done, and each learner's own state."""

    step: jax.Array  # picks the phase of the next update
    learners: dict[str, Any]


def scheduled(optimizer: optax.GradientTransformation | PerLearner,
              phases: Sequence[Collection[str]]) -> optax.GradientTransformation | PerLearner:
    """``optimizer`` updating, at update ``i``, only the learners of ``phases[i % len(phases)]``.

    Parameters are dicts keyed by learner; a learner no phase names updates at
    every step; no phases at all is ``optimizer`` itself (simultaneous updates).
    Each learner has its own ``optimizer`` state (a ``PerLearner`` optimizer's
    own transformation for it), so Adam's step count is the
    number of its own updates.  Outside its phases a learner keeps its state and
    gets the update ``-0.0``, since ``x + -0.0`` is ``x`` bit for bit (``+0.0``
    would turn ``-0.0`` into ``0.0``): its parameters leave the step unchanged.
    One jitted step serves every phase; the phase is data, not a retrace.
    """
    if not phases:
        return optimizer
    named = frozenset().union(*phases)
    pick = getattr(optimizer, "pick", lambda name: optimizer)

    def init(params: dict[str, Any]) -> PhasedState:
        return PhasedState(jnp.zeros((), jnp.int32),
                           {n: pick(n).init(p) for n, p in params.items()})

    def update(grads: dict[str, Any], state: PhasedState, params: dict[str, Any] | None = None
               ) -> tuple[dict[str, Any], PhasedState]:
        table = jnp.array([[n in phase or n not in named for n in grads] for phase in phases])
        active = table[state.step % len(phases)]
        updates, learners = {}, {}
        for on, (n, grad) in zip(active, grads.items(), strict=True):
            new, inner = pick(n).update(grad, state.learners[n], None if params is None
                                        else params[n])
            updates[n] = jax.tree.map(lambda u, on=on: jnp.where(on, u, -0.0), new)
            learners[n] = jax.tree.map(lambda a, b, on=on: jnp.where(on, a, b), inner,
                                       state.learners[n])
        return updates, PhasedState(state.step + 1, learners)

    return optax.GradientTransformation(init, update)
