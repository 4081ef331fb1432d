"""BYOL and a mean teacher (issue 12): learners that follow another by moving average.

Each file is checked clean and ``fmt``-clean, explained as the paper writes it (the EMA
learner shown as ``ema(online, d)``), and trained for a few dozen steps on synthetic
data drawn here: its loss falls, while the EMA learner gets no gradient and ends as the
moving average it is declared to be (close to, but not equal to, the learner it follows).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.lowering.lower import Lowered, lower, make_train_step
from tests.practice.practice import assert_reads_as_written, mean

HERE = Path(__file__).parent
BATCH, STEPS = 64, 40

EXPLAINED = {
    "byol": ["learner  target    : View -> Embedding = ema(online, 0.99)",
             "byol: E[x~points; n~jitter] MSE(predictor(online(drop[0.2](x))), "
             "sg(target(add(x, scale[0.1](n)))))"],
    "mean_teacher": ["learner  teacher    : Real[4] -> Class[3] = ema(student, 0.95)",
                     "consistent: E[x~unlabelled] KL(student(drop[0.2](x)), sg(teacher(x)))"],
}

CENTRES = np.random.default_rng(7).standard_normal((4, 8)) * 2


def points(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Four clusters in 8-D: views of one point should embed alike."""
    x = CENTRES[rng.integers(0, 4, BATCH)] + 0.3 * rng.standard_normal((BATCH, 8))
    return x.astype(np.float32),


def labelled(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Three classes, told apart by which of the first three inputs is largest."""
    x = rng.standard_normal((BATCH, 4)).astype(np.float32)
    return x, np.argmax(x[:, :3], axis=1)


DATA: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, ...]]] = {
    "points": points, "labelled": labelled, "unlabelled": lambda rng: labelled(rng)[:1]}


def trained(name: str) -> tuple[list[dict[str, float]], Lowered, dict]:
    """Each step's metrics over ``STEPS`` steps of Adam, the lowering and the last params."""
    result = taskdsl.check_file(HERE / f"{name}.task")
    assert result.ok, result.render()
    low = lower(result.program)
    init_opt, step = make_train_step(low, optax.adam(1e-2), donate=False)
    params = low.init(jax.random.key(0))
    opt_state = init_opt(params)
    rng = np.random.default_rng(0)
    history = []
    for i in range(STEPS):
        batch = {r.key: DATA[r.source](rng) for r in low.data_requests()}
        params, opt_state, metrics = step(params, opt_state, batch, jax.random.key(i))
        history.append({k: float(v) for k, v in metrics.items()})
    return history, low, params



@pytest.mark.parametrize("name", sorted(EXPLAINED))
def test_each_file_checks_formats_and_explains_as_the_paper_writes_it(name: str) -> None:
    assert_reads_as_written(HERE / f"{name}.task", EXPLAINED[name])


def distance(params: dict, a: str, b: str) -> float:
    return float(sum(np.abs(np.asarray(x) - np.asarray(y)).sum() for x, y in zip(
        jax.tree.leaves(params[a]), jax.tree.leaves(params[b]), strict=True)))


@pytest.mark.parametrize(("name", "task", "ema", "followed", "share"), [
    ("byol", "byol", "target", "online", 0.2),
    ("mean_teacher", "supervised", "teacher", "student", 0.6),
])
def test_training_lowers_the_loss_and_the_ema_learner_trails_the_followed_one(
        name: str, task: str, ema: str, followed: str, share: float) -> None:
    history, low, params = trained(name)
    start, end = mean(history, task, slice(0, 3)), mean(history, task, slice(-3, None))
    assert end < share * start, (start, end)
    assert ema not in low.trained and all(h[f"grad_norm/{ema}"] == 0 for h in history)
    assert all(h[f"grad_norm/{followed}"] > 0 for h in history)
    assert distance(params, ema, followed) > 0  # it trails: an average, not a copy
