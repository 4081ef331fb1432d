"""The train step: one ``jax.jit``, one backward pass over the whole objective.

This module imports only JAX and Optax: ``compile.py`` copies ``train_step``
verbatim into the standalone modules it writes, so the lowering and the
compiled module train the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax


def train_step(loss: Callable[[Any, Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]],
               learners: Sequence[str], trained: Sequence[str],
               optimizer: optax.GradientTransformation, *, donate: bool = True
               ) -> tuple[Callable, Callable]:
    """``(init_opt_state, step)`` for ``loss(params, batch, key) -> (total, task values)``.

    Only the ``trained`` learners are differentiated and updated (the others
    are constants of the objective and report a gradient norm of 0), so no
    backward pass or optimizer state is spent on them.  ``step(params,
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
        return {**params, **optax.apply_updates(trainable, updates)}, opt_state, metrics

    return init_opt_state, jax.jit(step, donate_argnums=(0, 1) if donate else ())
