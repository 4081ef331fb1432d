"""Several training steps in one jitted call: a loop on the device around the keyed step.

A small model's step takes less time on the device than the host takes to
dispatch it (``benchmarks/loop_overhead.py``), so ``train.py`` runs ``k`` steps a
call (the ``steps_per_call`` setting).  Each step in the loop takes the rows
(``feed.Feed.rows``) and the key ``fold_in(train_key, i)`` of its step number,
and every call on one device is the same compiled loop, so the parameters
after ``n`` steps do not depend on how the steps were grouped in calls, bit for
bit on CPU (``tests/backends/jax/training/test_scan.py``): a resumed run and an
uninterrupted one, or ``k = 1`` and ``k = 4``, agree.

A call is compiled once for at most ``k`` steps and takes a ``count`` of them
(a ``fori_loop`` of ``count`` turns), so a call can stop at a checkpoint or an
evaluation step, and ``auto`` can time one-step calls before it picks ``k``,
without a second compilation.  Each step's metrics stay on the device, one row
of a ``(k, metrics)`` array, and the host reads them back when it logs or saves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

GRAD_NORM = "grad_norm"
"""The metric of the global gradient norm; ``grad_norm/LEARNER`` are the learners' own."""

TARGET_SECONDS = 0.02
"""What ``steps_per_call = auto`` aims a call at: long enough that dispatching it costs
little next to it, short enough that a stop request or a read-back waits little."""

MOST_STEPS_PER_CALL = 1000
"""``auto`` never goes above this (the metrics of a call stay on the device)."""


def keyed_body(step_fn: Callable, names: Sequence[str],
               source_of: Mapping[str, str] | None) -> Callable:
    """One step as the loop takes it: ``(params, opt_state, batch, train_key, i) ->
    (params, opt_state, metrics)``, the key ``fold_in(train_key, i)`` derived inside and
    the metrics one float32 vector in the order of ``names``, the global gradient norm
    included.  With ``source_of`` (draw key -> source), ``batch`` is ``(data sets on the
    device, rows per draw key)`` and the rows are gathered there: the arrays
    ``Feed.batch`` would have gathered on the host, bit for bit."""

    def keyed(params: Any, opt_state: Any, batch: Any, train_key: jax.Array, i: Any) -> Any:
        if source_of is not None:
            arrays, rows = batch
            batch = {key: tuple(a[r] for a in arrays[source_of[key]])
                     for key, r in rows.items()}
        params, opt_state, metrics = step_fn(params, opt_state, batch,
                                             jax.random.fold_in(train_key, i))
        norms = [jnp.asarray(v, jnp.float32) for k, v in metrics.items()
                 if k.startswith(GRAD_NORM + "/")]
        metrics = {**metrics, GRAD_NORM: jnp.sqrt(sum((v * v for v in norms),
                                                      jnp.zeros((), jnp.float32)))}
        # float32 holds any narrower float exactly.
        values = jnp.stack([jnp.asarray(metrics[n], jnp.float32) for n in names])
        return params, opt_state, values

    return keyed


def one_step(step_fn: Callable, names: Sequence[str],
             source_of: Mapping[str, str] | None) -> Callable:
    """:func:`keyed_body` jitted, params and optimizer state donated: one step a call
    (for runs sharded over several devices; one device always runs :func:`many_steps`,
    whose loop XLA compiles the same for any length, where a step compiled alone can
    round a convolution differently)."""
    return jax.jit(keyed_body(step_fn, names, source_of), donate_argnums=(0, 1))


def many_steps(step_fn: Callable, names: Sequence[str], source_of: Mapping[str, str] | None,
               length: int) -> Callable:
    """Up to ``length`` steps a call: ``(params, opt_state, stacked, train_key, first,
    count) -> (params, opt_state, metrics)``, taking steps ``first .. first + count - 1``
    (``1 <= count <= length``; a loop of ``count`` turns, so a short call costs no more
    than its steps).  ``stacked`` is what :func:`keyed_body` takes as a batch with a
    leading axis of ``length`` (rows per draw key, or the host's batches; the rows past
    ``count`` are not read), the data sets on the device unstacked; ``metrics`` is
    ``(length, len(names))``, its rows past ``count`` zeros."""
    body = keyed_body(step_fn, names, source_of)

    def many(params: Any, opt_state: Any, stacked: Any, train_key: jax.Array, first: Any,
             count: Any) -> Any:
        resident, per_step = stacked if source_of is not None else (None, stacked)

        def turn(j: jax.Array, carry: Any) -> Any:
            params, opt_state, values = carry
            batch = jax.tree.map(lambda x: x[j], per_step)
            if source_of is not None:
                batch = (resident, batch)
            params, opt_state, row = body(params, opt_state, batch, train_key, first + j)
            return params, opt_state, values.at[j].set(row)

        values = jnp.zeros((length, len(names)), jnp.float32)
        return jax.lax.fori_loop(0, count, turn, (params, opt_state, values))

    return jax.jit(many, donate_argnums=(0, 1))


def chosen(seconds_per_step: float, bound: int) -> int:
    """``auto``'s steps per call for a step that takes ``seconds_per_step`` (dispatch
    included): about ``TARGET_SECONDS`` a call, at least 1, at most ``bound`` (the run's
    logging, checkpoint and evaluation cadence) and ``MOST_STEPS_PER_CALL``."""
    most = max(1, min(bound, MOST_STEPS_PER_CALL))
    if seconds_per_step * most <= TARGET_SECONDS:
        return most
    return max(1, int(TARGET_SECONDS / seconds_per_step))
