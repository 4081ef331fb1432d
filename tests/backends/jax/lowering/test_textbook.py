"""The diagrams say what the textbooks say: each stdlib pattern, used from a small ``.task``
text, lowers to the loss an ML paper writes, computed here by hand in JAX on the same
parameters and batch.

The nets are the lowered learners themselves (``Lowered.apply``, raw outputs: logits
for ``Class``/``Binary``); only the losses are written by hand.  Noise and attributes
come from data sources rather than random boxes, so the hand-written side sees the very
same samples; the one random box left, the VAE's reparameterised ``sample``, draws from
the key the lowering documents, ``fold_in(fold_in(key, equation_index), box_id)``.

The VAE agrees up to the constants named in docs/patterns.md: with a Gaussian decoder
of per-pixel variance s2 over D numbers and the objective ``reconstruct + beta *
regularise``, s2 = beta * D / 2 and

    reconstruct + beta * regularise = beta * (-ELBO - (D / 2) * log(2 pi s2)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import taskdsl
from taskdsl.backends.jax.lowering.lower import Lowered, lower, make_train_step
from taskdsl.backends.jax.lowering.step import scheduled
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.ir import BoxKind, Program

B = 8
RTOL = 2e-5
TINY = "nets.mlp(width = 8, depth = 1)"
Params = dict
Batch = dict[str, tuple[np.ndarray, ...]]


def program(text: str) -> Program:
    result = taskdsl.check_text(text)
    assert result.ok, result.render()
    return result.program


def draws(low: Lowered, source: str) -> list[str]:
    """The batch keys of ``source``'s draws, in the order of the objective's terms."""
    return [r.key for r in low.data_requests() if r.source == source]


def fill(low: Lowered, seed: int = 0, classes: Mapping[str, int] | None = None) -> Batch:
    """A batch of random data for every draw: class indices for the ``classes`` sources."""
    rng = np.random.default_rng(seed)
    batch = {}
    for request in low.data_requests():
        arrays = []
        for wire in request.types:
            if wire.kind == "Class":
                arrays.append(rng.integers(0, wire.shape[0], B).astype(np.int32))
            else:
                arrays.append(rng.normal(size=(B, *wire.value_shape)).astype(np.float32))
        batch[request.key] = tuple(arrays)
    return batch


def one_hot(y: np.ndarray, n: int) -> jax.Array:
    return jax.nn.one_hot(y, n)


def close(a: object, b: object) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=1e-6)


def close_trees(a: object, b: object) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)


def loss_and_gradient(low: Lowered, params: Params, batch: Batch, key: jax.Array
                      ) -> tuple[jax.Array, dict[str, jax.Array], Params]:
    """The lowered total, each task's value, and the total's gradient (one jitted call)."""
    def total(p: Params) -> tuple[jax.Array, dict[str, jax.Array]]:
        return low.loss(p, batch, key, B)

    (value, tasks), grads = jax.jit(jax.value_and_grad(total, has_aux=True))(params)
    return value, tasks, grads


def assert_same_loss_and_gradient(low: Lowered, batch: Batch, key: jax.Array,
                                  textbook: Callable[[Params], jax.Array]) -> None:
    """The lowered total equals ``textbook(params)``, and so do their gradients."""
    params = low.init(jax.random.key(0))
    total, _, grads = loss_and_gradient(low, params, batch, key)
    expected, expected_grads = jax.jit(jax.value_and_grad(textbook))(params)
    close(total, expected)
    close_trees(grads, expected_grads)


# ---------------------------------------------------------------- classification, regression


CLASSIFIER = f"""
import classification from stdlib
data pairs : -> Real[5], Class[4]
learner f : Real[5] -> Class[4]
use classification(classifier = f, data = pairs)
impl f = {TINY}
"""


def test_classification_is_softmax_cross_entropy() -> None:
    low = lower(program(CLASSIFIER), "classify")
    batch = fill(low)
    x, y = batch[draws(low, "pairs")[0]]

    def textbook(params: Params) -> jax.Array:
        (logits,) = low.apply("f", params, x)
        log_p = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    assert_same_loss_and_gradient(low, batch, jax.random.key(1), textbook)


REGRESSION = f"""
import regression from stdlib
data pairs : -> Real[2, 3], Real[2]
learner f : Real[2, 3] -> Real[2]
use regression(regressor = f, data = pairs)
impl f = {TINY}
"""


def huber(r: jax.Array) -> jax.Array:
    """Huber's loss with delta 1."""
    return jnp.where(jnp.abs(r) <= 1, 0.5 * r**2, jnp.abs(r) - 0.5)


@pytest.mark.parametrize(("task", "loss"), [("regress", jnp.square), ("regress_robust", huber)])
def test_regression_is_mean_squared_error_or_huber(
        task: str, loss: Callable[[jax.Array], jax.Array]) -> None:
    low = lower(program(REGRESSION), task)
    batch = fill(low)
    x, y = batch[draws(low, "pairs")[0]]
    y = 3 * y  # residuals beyond Huber's delta, so its linear part is tested too

    def textbook(params: Params) -> jax.Array:
        (prediction,) = low.apply("f", params, x)
        return jnp.mean(loss(prediction - y))

    assert_same_loss_and_gradient(low, {draws(low, "pairs")[0]: (x, y)}, jax.random.key(1),
                                  textbook)


# ---------------------------------------------------------------- autoencoder, VAE, CVAE


AUTOENCODER = f"""
import autoencoder from stdlib
data images : -> Real[4, 4, 1]
learner enc : Real[4, 4, 1] -> Real[3]
learner dec : Real[3] -> Real[4, 4, 1]
use autoencoder(encoder = enc, decoder = dec, data = images)
impl enc = {TINY}
impl dec = {TINY}
"""


def test_autoencoder_is_mean_squared_reconstruction_error() -> None:
    low = lower(program(AUTOENCODER), "reconstruct")
    batch = fill(low)
    (x,) = batch[draws(low, "images")[0]]

    def textbook(params: Params) -> jax.Array:
        (code,) = low.apply("enc", params, x)
        (back,) = low.apply("dec", params, code)
        return jnp.mean(jnp.square(back - x))

    assert_same_loss_and_gradient(low, batch, jax.random.key(1), textbook)


BETA = 0.001  # examples/mnist_vae.task's weight: s2 = BETA * 784 / 2 = 0.392
D = 28 * 28
LATENT = 4

VAE = f"""
import vae from stdlib
data images : -> Real[28, 28, 1]
const prior : -> Gaussian[{LATENT}] = 0
learner enc : Real[28, 28, 1] -> Gaussian[{LATENT}]
learner dec : Real[{LATENT}] -> Real[28, 28, 1]
use vae(encoder = enc, decoder = dec, data = images, prior = prior)
objective negative_elbo = reconstruct + {BETA} * regularise
impl enc = {TINY}
impl dec = {TINY}
"""

CVAE = f"""
import cvae from stdlib
data images : -> Real[28, 28, 1], Class[10]
const prior : -> Gaussian[{LATENT}] = 0
learner enc : Real[28, 28, 1], Class[10] -> Gaussian[{LATENT}]
learner dec : Real[{LATENT}], Class[10] -> Real[28, 28, 1]
use cvae(encoder = enc, decoder = dec, data = images, prior = prior)
objective negative_elbo = reconstruct + {BETA} * regularise
impl enc = {TINY}
impl dec = {TINY}
"""


def sample_noise(low: Lowered, key: jax.Array) -> jax.Array:
    """The eps of ``reconstruct``'s reparameterised draw, from the documented key."""
    (term,) = [(i, t) for i, t in enumerate(low.objective.terms)
               if t.equation.name == "reconstruct"]
    index, found = term
    (box,) = [b for b in found.equation.lhs.boxes
              if b.kind is BoxKind.BUILTIN and b.name == "sample"]
    return jax.random.normal(jax.random.fold_in(jax.random.fold_in(key, index), box.id),
                             (B, LATENT))


def negative_elbo(low: Lowered, params: Params, x: jax.Array, eps: jax.Array,
                  condition: tuple[jax.Array, ...], s2: float) -> jax.Array:
    """-ELBO of a Gaussian decoder N(dec(z), s2 I) and prior N(0, I), one sample, batch mean."""
    (posterior,) = low.apply("enc", params, x, *condition)
    mean, logvar = posterior[:, 0], posterior[:, 1]
    z = mean + jnp.exp(0.5 * logvar) * eps
    (decoded,) = low.apply("dec", params, z, *condition)
    squared = jnp.sum(jnp.square(x - decoded).reshape(B, -1), axis=1)
    log_likelihood = -squared / (2 * s2) - D / 2 * math.log(2 * math.pi * s2)
    kl = 0.5 * jnp.sum(jnp.exp(logvar) + jnp.square(mean) - 1 - logvar, axis=1)
    return jnp.mean(kl - log_likelihood)


@pytest.mark.parametrize("text", [VAE, CVAE], ids=["vae", "cvae"])
def test_vae_is_the_negative_elbo_up_to_its_constant_and_scale(text: str) -> None:
    """reconstruct + beta * regularise = beta * (-ELBO - (D/2) log(2 pi s2)), s2 = beta D / 2."""
    low = lower(program(text), "negative_elbo")
    batch, key = fill(low), jax.random.key(3)
    assert len({tuple(len(a) for a in v) for v in batch.values()}) == 1
    # Both equations draw their own x; the test gives them the same one, so both terms
    # of the ELBO are about the same images.
    first, *others = draws(low, "images")
    batch.update({k: batch[first] for k in others})
    x, *label = batch[first]
    condition = tuple(one_hot(y, 10) for y in label)
    s2 = BETA * D / 2
    constant = D / 2 * math.log(2 * math.pi * s2)
    eps = sample_noise(low, key)

    def textbook(params: Params) -> jax.Array:
        return BETA * (negative_elbo(low, params, x, eps, condition, s2) - constant)

    assert_same_loss_and_gradient(low, batch, key, textbook)


# ---------------------------------------------------------------- GAN


GAN = f"""
import gan from stdlib
data images : -> Real[4]
data noise : -> Real[3]
learner gen : Real[3] -> Real[4]
learner disc : Real[4] -> Binary[1]
use gan(generator = gen, discriminator = disc, data = images, noise = noise)
impl gen = {TINY}
impl disc = {TINY}
"""


def gan_losses(low: Lowered, params: Params, batch: Batch
               ) -> tuple[jax.Array, jax.Array]:
    """The textbook non-saturating losses on the batch's draws: D's and G's.

    D: -log D(x) - log(1 - D(G(z))) on ``fake``'s noise; G: -log D(G(z)) on ``fool``'s.
    """
    (x,) = batch[draws(low, "images")[0]]
    fake_key, fool_key = draws(low, "noise")
    (real_logit,) = low.apply("disc", params, x)
    (fake_logit,) = low.apply("disc", params, low.apply("gen", params, *batch[fake_key])[0])
    (fool_logit,) = low.apply("disc", params, low.apply("gen", params, *batch[fool_key])[0])
    log_d = jax.nn.log_sigmoid  # log D = log sigmoid(logit), log(1 - D) = log sigmoid(-logit)
    d_loss = -jnp.mean(log_d(real_logit) + log_d(-fake_logit))
    g_loss = -jnp.mean(log_d(fool_logit))
    return d_loss, g_loss


@pytest.fixture(scope="module")
def gan() -> tuple[Program, Lowered]:
    prog = program(GAN)
    return prog, lower(prog, "adversarial")


def test_gan_is_the_non_saturating_game(gan: tuple[Program, Lowered]) -> None:
    """real + fake is D's loss, fool is G's; each player's gradient is its own loss's."""
    _, low = gan
    params, batch = low.init(jax.random.key(0)), fill(low)
    _, tasks, grads = loss_and_gradient(low, params, batch, jax.random.key(1))
    (d_loss, g_loss), vjp = jax.vjp(jax.jit(lambda p: gan_losses(low, p, batch)), params)
    close(tasks["real"] + tasks["fake"], d_loss)
    close(tasks["fool"], g_loss)
    close_trees(grads["disc"], vjp((jnp.ones(()), jnp.zeros(())))[0]["disc"])
    close_trees(grads["gen"], vjp((jnp.zeros(()), jnp.ones(())))[0]["gen"])


def hand_written_gan(low: Lowered, params: Params, batches: list[Batch], lr: float,
                     updates: Callable[[int], set[str]]) -> Params:
    """The textbook loop: one Adam per player, each stepping on its own loss when it may."""
    optimizers = {"disc": optax.adam(lr), "gen": optax.adam(lr)}
    states = {n: optimizers[n].init(params[n]) for n in optimizers}
    d_grads = jax.jit(jax.grad(lambda p, b: gan_losses(low, p, b)[0]))
    g_grads = jax.jit(jax.grad(lambda p, b: gan_losses(low, p, b)[1]))
    for i, batch in enumerate(batches):
        d_grad, g_grad = d_grads(params, batch)["disc"], g_grads(params, batch)["gen"]
        new = dict(params)
        for name, grad in (("disc", d_grad), ("gen", g_grad)):
            if name in updates(i):
                step, states[name] = optimizers[name].update(grad, states[name], params[name])
                new[name] = optax.apply_updates(params[name], step)
        params = new
    return params


@pytest.mark.parametrize(("schedule", "updates"), [
    ("simultaneous", lambda i: {"disc", "gen"}),
    ("alternate(disc=1, gen=1)", lambda i: [{"disc"}, {"gen"}][i % 2]),
    ("alternate(disc=2, gen=1)", lambda i: [{"disc"}, {"disc"}, {"gen"}][i % 3]),
])
def test_gan_training_matches_the_hand_written_loop(
        gan: tuple[Program, Lowered], schedule: str, updates: Callable[[int], set[str]]) -> None:
    """Steps of taskdsl's train step under each schedule = the textbook loop, step for step."""
    prog, low = gan
    lr, steps = 1e-2, 6
    phases = resolve(prog, "adversarial", [f"schedule={schedule}"]).schedule.phases
    init_opt, step = make_train_step(low, scheduled(optax.adam(lr), phases), donate=False)
    params = low.init(jax.random.key(0))
    batches = [fill(low, seed) for seed in range(steps)]
    expected = hand_written_gan(low, params, batches, lr, updates)
    opt_state = init_opt(params)
    for i, batch in enumerate(batches):
        params, opt_state, _ = step(params, opt_state, batch, jax.random.key(i))
    close_trees(params, expected)
    assert not np.allclose(jax.tree.leaves(params["gen"])[0],
                           jax.tree.leaves(low.init(jax.random.key(0))["gen"])[0])


# ---------------------------------------------------------------- lens laws


LENS = f"""
import lens from stdlib
data states : -> Real[6]
data views : -> Class[3]
learner get : Real[6] -> Class[3]
learner put : Real[6], Class[3] -> Real[6]
use lens(get = get, put = put, states = states, views = views)
objective every_law = put_get + get_put + put_put + undo
impl get = {TINY}
impl put = {TINY}
"""


def test_lens_laws_are_their_residuals() -> None:
    """PutGet: CE(v, get(put(s, v))); GetPut, PutPut, undo: mean squared residuals."""
    low = lower(program(LENS), "every_law")
    params, batch = low.init(jax.random.key(0)), fill(low)
    _, tasks = low.loss(params, batch, jax.random.key(1), B)
    term = {name: i for i, name in enumerate(low.task_names)}

    def drawn(source: str, task: str) -> list[jax.Array]:
        """The draws of ``source`` in ``task``, in the order the law binds them (v, then w)."""
        keys = [k for k in draws(low, source) if int(k.split("/")[0]) == term[task]]
        arrays = [batch[k][0] for k in sorted(keys, key=lambda k: int(k.split("/")[1]))]
        return [one_hot(a, 3) if source == "views" else a for a in arrays]

    def put(s: jax.Array, v: jax.Array) -> jax.Array:
        return low.apply("put", params, s, v)[0]

    def get(s: jax.Array) -> jax.Array:  # logits
        return low.apply("get", params, s)[0]

    def mse(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.mean(jnp.square(a - b))

    (s,), (v,) = drawn("states", "put_get"), drawn("views", "put_get")
    close(tasks["put_get"], -jnp.mean(jnp.sum(v * jax.nn.log_softmax(get(put(s, v))), axis=1)))
    (s,) = drawn("states", "get_put")
    close(tasks["get_put"], mse(put(s, jax.nn.softmax(get(s))), s))
    (s,), (v, w) = drawn("states", "put_put"), drawn("views", "put_put")
    close(tasks["put_put"], mse(put(put(s, v), w), put(s, w)))
    (s,), (v,) = drawn("states", "undo"), drawn("views", "undo")
    close(tasks["undo"], mse(put(put(s, v), jax.nn.softmax(get(s))), s))
