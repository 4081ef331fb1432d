"""Objectives a researcher writes (issue 12), each checked, explained and trained.

Each ``.task`` file here is checked clean (and ``fmt``-clean), its ``explain`` lines are
pinned to the textbook formula, and it trains for a few dozen steps on a small synthetic
data set drawn here, its loss falling below a stated share of its start (or, for the
adversarial ones, the critic's gap between data and samples opening up).
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

# Each file's explained tasks, as `taskdsl explain` writes them: the textbook formula.
EXPLAINED = {
    "heteroscedastic": ["fit: E[(x, y)~pts] -log N(y; locate(x))   trains: locate"],
    "wgan": ["real: E[x~pts] critic(x)   trains: critic",
             "fake: E[z~noise] critic(gen(z))   trains: critic",
             "fool: E[z~noise] critic(gen(z))   trains: gen"],
    "hinge_gan": ["real: E[x~pts] max(0, 1 - disc(x))   trains: disc",
                  "fake: E[z~noise] max(0, 1 + disc(gen(z)))   trains: disc",
                  "fool: E[z~noise] disc(gen(z))   trains: gen"],
    "bernoulli_vae": [
        "reconstruct: E[x~pictures] -log Bern(x; decode(sample(encode(x))))   trains: encode, decode",
        "regularise: E[x~pictures] KL(encode(x), N(0, I))   trains: encode"],
    "distillation": ["teach: E[(x, c)~labelled] CE(teacher(x), c)   trains: teacher",
                     "hard: E[(x, c)~labelled] CE(student(x), c)   trains: student",
                     "soft: E[x~labelled] KL_2(student(x), teacher(x))   trains: student"],
}


def heteroscedastic_data(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """y = 2x + noise whose scale grows with |x|."""
    x = rng.uniform(-1, 1, (BATCH, 1)).astype(np.float32)
    return x, (2 * x + (0.1 + np.abs(x)) * rng.standard_normal((BATCH, 1))).astype(np.float32)


def blob(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Data far from the generator's start: a small blob around (3, 3)."""
    return (3.0 + 0.3 * rng.standard_normal((BATCH, 2))).astype(np.float32),


def labelled(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Three classes, told apart by which of the first three inputs is largest."""
    x = rng.standard_normal((BATCH, 4)).astype(np.float32)
    return x, np.argmax(x[:, :3], axis=1)


PROTOTYPES = np.random.default_rng(42).random((4, 64)) ** 3  # four faint 8 x 8 pictures


def pictures(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Grey pictures in [0, 1]: one of four prototypes each, with a little noise."""
    noisy = PROTOTYPES[rng.integers(0, 4, BATCH)] + 0.05 * rng.standard_normal((BATCH, 64))
    return np.clip(noisy, 0, 1).astype(np.float32),


DATA: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, ...]]] = {
    "heteroscedastic": heteroscedastic_data, "wgan": blob, "hinge_gan": blob,
    "distillation": labelled, "bernoulli_vae": pictures}


def picture_grids(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The same pictures as ``(B, 8, 8, 1)`` images, for the Binary[8, 8, 1] decoder."""
    (flat,) = pictures(rng)
    return flat.reshape(BATCH, 8, 8, 1),


DATA["bernoulli_vae"] = picture_grids


def trained(name: str) -> tuple[list[dict[str, float]], Lowered, dict, dict]:
    """Each step's task values over ``STEPS`` steps of Adam on fresh synthetic batches, the
    lowering, and the parameters after and before."""
    result = taskdsl.check_file(HERE / f"{name}.task")
    assert result.ok, result.render()
    low = lower(result.program)
    init_opt, step = make_train_step(low, optax.adam(1e-2), donate=False)
    params = first = low.init(jax.random.key(0))
    opt_state = init_opt(params)
    rng = np.random.default_rng(0)
    history = []
    for i in range(STEPS):
        batch = {r.key: DATA[name](rng) for r in low.data_requests()}
        params, opt_state, metrics = step(params, opt_state, batch, jax.random.key(i))
        history.append({k: float(v) for k, v in metrics.items()})  # before this step's update
    return history, low, params, first



@pytest.mark.parametrize("name", sorted(EXPLAINED))
def test_each_file_checks_formats_and_explains_as_the_textbook_writes_it(name: str) -> None:
    assert_reads_as_written(HERE / f"{name}.task", EXPLAINED[name])


def samples_distance(low: Lowered, params: dict, generator: str) -> float:
    """How far the generator's samples lie from the data's centre (3, 3), on average."""
    z = jax.random.normal(jax.random.key(7), (256, 2))
    (x,) = low.apply(generator, params, z)
    return float(np.mean(np.linalg.norm(np.asarray(x) - 3.0, axis=1)))


def test_heteroscedastic_regression_learns_its_likelihood() -> None:
    history, *_ = trained("heteroscedastic")
    start, end = mean(history, "fit", slice(0, 3)), mean(history, "fit", slice(-3, None))
    assert end < 0.8 * start, (start, end)


@pytest.mark.slow
def test_bernoulli_vae_lowers_its_elbo() -> None:
    """-ELBO in nats per picture: the reconstruction's likelihood rises far more than the
    KL it costs."""
    history, *_ = trained("bernoulli_vae")

    def elbo(h: dict[str, float]) -> float:
        return h["reconstruct"] + h["regularise"]

    start, end = np.mean([elbo(h) for h in history[:3]]), np.mean([elbo(h) for h in history[-3:]])
    assert end < 0.8 * start, (start, end)


@pytest.mark.slow  # about 7 s each on 2 busy cores
@pytest.mark.parametrize("name", ["wgan", "hinge_gan"])
def test_a_gan_critic_moves_the_generator_toward_the_data(name: str) -> None:
    """Both adversarial files train both players: the generator's samples travel a good
    part of the way to the data, led by the critic."""
    history, low, params, first = trained(name)
    start, end = samples_distance(low, first, "gen"), samples_distance(low, params, "gen")
    assert end < 0.75 * start, (start, end)
    if name == "wgan":  # the critic's gap between data and samples opened on the way
        gap = [h["real"] - h["fake"] for h in history]
        assert max(gap) > gap[0] + 0.5, gap


@pytest.mark.slow
def test_distillation_objective_falls() -> None:
    history, *_ = trained("distillation")

    def total(h: dict[str, float]) -> float:
        return h["teach"] + h["hard"] + 4 * h["soft"]

    start, end = np.mean([total(h) for h in history[:3]]), np.mean([total(h) for h in history[-3:]])
    assert end < 0.7 * start, (start, end)
    assert mean(history, "hard", slice(-3, None)) < 0.7 * mean(history, "hard", slice(0, 3))
