"""What the practice files' tests share: each file checks, is `fmt`-clean and explains as
the textbook writes it; and the mean of a task's value over a stretch of training."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

import taskdsl
from taskdsl.explain import explain
from taskdsl.fmt import format_text


def assert_reads_as_written(path: Path, lines: Iterable[str]) -> None:
    """``path`` checks clean, is formatted canonically, and `explain` prints each of ``lines``."""
    result = taskdsl.check_file(path)
    assert result.ok, result.render()
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text
    explained = explain(result.program)
    for line in lines:
        assert line in explained, explained


def mean(history: list[dict[str, float]], key: str, where: slice) -> float:
    """The mean of ``key`` over the steps ``where`` of a training ``history``."""
    return float(np.mean([h[key] for h in history[where]]))


Sources = dict[str, Callable[[np.random.Generator], tuple[np.ndarray, ...]]]


def train_for(path: Path, sources: Sources, steps: int = 40, lr: float = 1e-2,
              ) -> tuple[list[dict[str, float]], object, dict, dict]:
    """``steps`` steps of Adam on ``path``'s objective, each data source's batch drawn
    fresh by ``sources[SOURCE](rng)``: each step's metrics (before its update), the
    lowering, and the parameters after and before."""
    import jax
    import optax

    from taskdsl.backends.jax.lowering.lower import lower, make_train_step

    result = taskdsl.check_file(path)
    assert result.ok, result.render()
    low = lower(result.program)
    init_opt, step = make_train_step(low, optax.adam(lr), donate=False)
    params = first = low.init(jax.random.key(0))
    opt_state = init_opt(params)
    rng = np.random.default_rng(0)
    history = []
    for i in range(steps):
        batch = {r.key: sources[r.source](rng) for r in low.data_requests()}
        params, opt_state, metrics = step(params, opt_state, batch, jax.random.key(i))
        history.append({k: float(v) for k, v in metrics.items()})
    return history, low, params, first
