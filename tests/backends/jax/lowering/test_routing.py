"""Gradient routing: an equation trains only its `trains` learners, yet gradient flows through
the others (stop_gradient on their parameters, never on their outputs; docs/design.md).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import taskdsl
from taskdsl.backends.jax.lowering.lower import Lowered, lower
from taskdsl.backends.jax.lowering.routing import route
from taskdsl.backends.jax.nets import build
from taskdsl.ir import BoxKind

B = 8
TINY = taskdsl.ir.Call("nets.mlp", (), {"width": 8, "depth": 1})

EDITOR = """
type Image = Real[4]
type Digit = Class[3]
data pairs : -> Image, Digit
learner get : Image -> Digit
learner put : Image, Digit -> Image

task put_get:
    x, a <- pairs
    get(put(x, a)) = a      trains put
"""

GAN = """
type Image = Real[4]
data real : -> Image
random noise : -> Real[2] ~ normal
const yes : -> Binary[1] = 1
const no : -> Binary[1] = 0
learner gen : Real[2] -> Image
learner dsc : Image -> Binary[1]

task real_ok:
    x <- real
    dsc(x) = yes            trains dsc
task fake:
    z <- noise
    dsc(gen(z)) = no        trains dsc
task fool:
    z <- noise
    dsc(gen(z)) = yes       trains gen

objective gan = real_ok + fake + 0.5 * fool
"""


def lowered(text: str, objective: str | None = None) -> Lowered:
    result = taskdsl.check_text(text)
    assert result.ok, result.render()
    program = result.program
    impls = {n: TINY for n, d in program.declarations.items() if d.kind is BoxKind.LEARNER}
    return lower(program, objective, impls)


def random_batch(low: Lowered, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    """Uniform floats for Real wires, class indices for Class wires, one entry per draw."""
    rng = np.random.default_rng(seed)

    def array(t: taskdsl.types.WireType) -> np.ndarray:
        if t.kind == "Class":
            return rng.integers(0, t.shape[0], B)
        return rng.random((B, *t.value_shape), dtype=np.float32)

    return {r.key: tuple(array(t) for t in r.types) for r in low.data_requests()}


def max_abs(tree: object) -> float:
    return max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(tree))


def total_grad(low: Lowered, params: dict, batch: dict, key: jax.Array) -> dict:
    """d total / d params, jitted (one compilation beats op-by-op dispatch)."""
    return jax.jit(jax.grad(lambda p: low.loss(p, batch, key, B)[0]))(params)


def editor_case() -> tuple[Lowered, dict, dict, jax.Array]:
    low = lowered(EDITOR)
    params = low.init(jax.random.key(0))
    return low, params, random_batch(low), jax.random.key(1)


def test_route_stops_only_the_untrained_parameters() -> None:
    params = {"f": jnp.array(2.0), "g": jnp.array(3.0)}

    def product(p: dict) -> jax.Array:
        routed = route(p, {"f"})
        return routed["f"] * routed["g"]

    grads = jax.grad(product)(params)
    assert float(grads["f"]) == 3.0
    assert float(grads["g"]) == 0.0


def test_trained_editor_gets_the_gradient_of_the_hand_written_loss() -> None:
    """(a) `get(put(x, a)) = a trains put`: d/d put equals jax.grad of the same loss by hand."""
    low, params, batch, key = editor_case()
    image = taskdsl.types.WireType("Real", (4,))
    digit = taskdsl.types.WireType("Class", (3,))
    options = dict(TINY.kwargs)
    get = nnx.merge(nnx.graphdef(build("mlp", (image,), (digit,), options, nnx.Rngs(0))),
                    params["get"])
    put_graph = nnx.graphdef(build("mlp", (image, digit), (image,), options, nnx.Rngs(0)))
    x, labels = batch[low.data_requests()[0].key]
    a = jax.nn.one_hot(labels, 3)

    def by_hand(put_state: nnx.State) -> jax.Array:
        (edited,) = nnx.merge(put_graph, put_state)(x, a)
        (logits,) = get(edited)
        return jnp.mean(optax.softmax_cross_entropy(logits, a))

    expected = jax.grad(by_hand)(params["put"])
    grads = total_grad(low, params, batch, key)
    assert max_abs(expected) > 1e-4
    for want, got in zip(jax.tree.leaves(expected), jax.tree.leaves(grads["put"]), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_frozen_classifier_gets_exactly_zero_gradient() -> None:
    """(b) get runs in put_get but is not trained there: its gradient is exactly 0."""
    low, params, batch, key = editor_case()
    grads = total_grad(low, params, batch, key)
    assert all(bool(jnp.all(leaf == 0)) for leaf in jax.tree.leaves(grads["get"]))
    assert low.trained == ("put",)


def test_detaching_outputs_instead_would_cut_the_editor_off() -> None:
    """The reference tool's bug, for contrast: stop_gradient on get's *output* zeroes put's grad."""
    low, params, batch, key = editor_case()
    x, labels = batch[low.data_requests()[0].key]
    a = jax.nn.one_hot(labels, 3)

    def detached(p: dict) -> jax.Array:
        (edited,) = low.apply("put", p, x, a)
        (logits,) = low.apply("get", p, edited)
        logits = jax.lax.stop_gradient(logits)
        return jnp.mean(optax.softmax_cross_entropy(logits, a))

    assert max_abs(jax.grad(detached)(params)["put"]) == 0.0
    routed = total_grad(low, params, batch, key)
    assert max_abs(routed["put"]) > 1e-4


def per_task_grads(low: Lowered, params: dict, batch: dict, key: jax.Array) -> dict[str, dict]:
    """Each task's own gradient: task name -> learner -> gradient."""
    return jax.jit(jax.jacrev(lambda p: low.loss(p, batch, key, B)[1]))(params)


def test_gan_equations_each_move_only_their_own_player() -> None:
    """(c) real/fake train only the discriminator, fool only the generator (through dsc)."""
    low = lowered(GAN)
    params = low.init(jax.random.key(0))
    batch, key = random_batch(low), jax.random.key(1)
    grads = per_task_grads(low, params, batch, key)
    for task in ("real_ok", "fake"):
        assert max_abs(grads[task]["dsc"]) > 1e-4, task
        assert max_abs(grads[task]["gen"]) == 0.0, task
    assert max_abs(grads["fool"]["gen"]) > 1e-4
    assert max_abs(grads["fool"]["dsc"]) == 0.0


def test_a_parameters_gradient_is_the_weighted_sum_over_the_equations_that_train_it() -> None:
    low = lowered(GAN)
    params = low.init(jax.random.key(0))
    batch, key = random_batch(low), jax.random.key(1)
    grads = per_task_grads(low, params, batch, key)
    weights = dict(zip(low.task_names, (t.weight for t in low.objective.terms), strict=True))
    expected = jax.tree.map(lambda *g: sum(w * x for w, x in zip(weights.values(), g,
                                                                  strict=True)),
                            *(grads[n] for n in weights))
    total = total_grad(low, params, batch, key)
    for want, got in zip(jax.tree.leaves(expected), jax.tree.leaves(total), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
