"""Divergences: how far the lhs value of an equation is from its rhs, per example.

Each divergence is one plain JAX function ``fn(lhs, rhs, lhs_logits=None,
rhs_logits=None)`` over the two sides' arrays (and the logits a learner gave,
where it gave them), returning a loss of shape ``(B,)``: the interpreter calls
it while tracing and ``compile`` copies its source verbatim.  :func:`function`
picks it by name and wire kind (``kl`` has one form per kind); the lowering
averages it over the batch and weights it.  Where the lhs came from a learner,
the divergences that need ``log lhs`` (``ce``, ``kl`` on classes, ``bce``) use
its logits, which stays finite where the log of a saturated probability would
not.  Every divergence first checks, at trace time, that both sides carry
arrays of one shape and one wire type and that the divergence is defined for
that kind (``ALLOWED``), so a mistake fails the same way eagerly and under jit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from taskdsl.builtins import CROSS_DIVERGENCES, DIVERGENCES, is_user_divergence
from taskdsl.types import WireType

from .. import trust
from ..messages import Problem, problem
from .errors import LowerError
from .values import Value, sides_differ, unknown_name, wrong_kind

Divergence = Callable[[Value, Value], jax.Array]

# The divergences each kind of wire may be compared by, and the default (the
# first): one table, shared with the checker (docs/design.md, dynamic semantics).
ALLOWED: dict[str, frozenset[str]] = {kind: frozenset(names) for kind, names in DIVERGENCES.items()}
# The divergences that compare sides of two different kinds (a distribution on the left,
# Real data on the right), by (lhs kind, rhs kind).
CROSS: dict[tuple[str, str], frozenset[str]] = {
    kinds: frozenset(names) for kinds, names in CROSS_DIVERGENCES.items()}


# ---------------------------------------------------------------------------
# The divergences' meaning, on arrays.


def per_example(x: jax.Array) -> jax.Array:
    """Mean over every axis but the batch axis: a ``(B,)`` loss whatever the wire's shape."""
    return x.reshape(x.shape[0], -1).mean(axis=1)


def safe_log(p: jax.Array) -> jax.Array:
    """``log p`` with p clipped to 1e-12 first, where no logits are at hand.

    Clipping (not adding) makes ``0 · log 0`` exactly 0 with a finite gradient.
    """
    return jnp.log(jnp.clip(p, 1e-12, None))


def log_probs(p: jax.Array, logits: jax.Array | None = None) -> jax.Array:
    """Log-probabilities over the last axis, from the logits when a learner gave them."""
    if logits is not None:
        return jax.nn.log_softmax(logits, axis=-1)
    return safe_log(p)


def mse(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
        rhs_logits: jax.Array | None = None) -> jax.Array:
    """Mean squared difference over the example's elements."""
    return per_example(jnp.square(lhs - rhs))


def l1(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
       rhs_logits: jax.Array | None = None) -> jax.Array:
    """Mean absolute difference over the example's elements."""
    return per_example(jnp.abs(lhs - rhs))


def huber(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
          rhs_logits: jax.Array | None = None) -> jax.Array:
    """Huber loss with delta 1 (quadratic near 0, linear beyond), mean over elements."""
    return per_example(optax.huber_loss(lhs, rhs, delta=1.0))


def ce(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
       rhs_logits: jax.Array | None = None) -> jax.Array:
    """Cross-entropy of the rhs distribution under the lhs, ``-Σ rhs · log lhs``.

    Summed over the classes; for Tokens, averaged over positions.
    """
    return per_example(-jnp.sum(rhs * log_probs(lhs, lhs_logits), axis=-1))


def bce(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
        rhs_logits: jax.Array | None = None) -> jax.Array:
    """Binary cross-entropy of the rhs bits under the lhs, mean over the bits."""
    if lhs_logits is not None:
        return per_example(optax.sigmoid_binary_cross_entropy(lhs_logits, rhs))
    return per_example(-(rhs * safe_log(lhs) + (1.0 - rhs) * safe_log(1.0 - lhs)))


def kl(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
       rhs_logits: jax.Array | None = None) -> jax.Array:
    """``KL(rhs ‖ lhs)`` between class distributions: ``ce`` minus the entropy of the rhs,
    so it is 0 at a match and has the same gradient in the lhs."""
    return per_example(-jnp.sum(rhs * log_probs(lhs, lhs_logits), axis=-1)
                       + jnp.sum(rhs * log_probs(rhs, rhs_logits), axis=-1))


def kl_gaussian(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
                rhs_logits: jax.Array | None = None) -> jax.Array:
    """``KL(N(lhs) ‖ N(rhs))`` for ``(B, 2, d...)`` stacks of mean and log-variance, in
    closed form, summed over dimensions: the direction of the VAE prior term
    ``KL(q(z|x) ‖ p(z))``."""
    mean_l, logvar_l, mean_r, logvar_r = lhs[:, 0], lhs[:, 1], rhs[:, 0], rhs[:, 1]
    per_dim = 0.5 * (logvar_r - logvar_l
                     + (jnp.exp(logvar_l) + jnp.square(mean_l - mean_r)) * jnp.exp(-logvar_r)
                     - 1.0)
    return per_dim.reshape(per_dim.shape[0], -1).sum(axis=1)


def nll_bernoulli(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
                  rhs_logits: jax.Array | None = None) -> jax.Array:
    """``-log p(rhs)`` under independent Bernoullis of probabilities ``lhs`` (from its
    logits where a learner gave them), summed over the bits: the reconstruction term of a
    Bernoulli VAE.  ``rhs`` may be any numbers in [0, 1] (a grey image), not only bits."""
    if lhs_logits is not None:
        per_bit = optax.sigmoid_binary_cross_entropy(lhs_logits, rhs)
    else:
        per_bit = -(rhs * safe_log(lhs) + (1.0 - rhs) * safe_log(1.0 - lhs))
    return per_bit.reshape(per_bit.shape[0], -1).sum(axis=1)


def nll_gaussian(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
                 rhs_logits: jax.Array | None = None) -> jax.Array:
    """``-log N(rhs; mean, exp(logvar))`` for a ``(B, 2, d...)`` stack of mean and
    log-variance on the left and ``(B, d...)`` Real data on the right, summed over
    dimensions: heteroscedastic regression's loss,
    ``½ (log 2π + logvar + (y - mean)² e^{-logvar})``."""
    mean, logvar = lhs[:, 0], lhs[:, 1]
    per_dim = 0.5 * (jnp.log(2.0 * jnp.pi) + logvar + jnp.square(rhs - mean) * jnp.exp(-logvar))
    return per_dim.reshape(per_dim.shape[0], -1).sum(axis=1)


def hinge(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
          rhs_logits: jax.Array | None = None) -> jax.Array:
    """The hinge loss with margin 1, mean over elements: ``max(0, 1 - y·s)`` for scores
    ``s`` (lhs) and targets ``y`` (rhs, ±1) on Real wires."""
    return per_example(jax.nn.relu(1.0 - rhs * lhs))


def hinge_classes(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
                  rhs_logits: jax.Array | None = None) -> jax.Array:
    """The multiclass hinge loss with margin 1 (Crammer and Singer, 2001) on class scores,
    ``max(0, 1 + max_{j≠y} s_j - s_y)``: ``s`` the lhs's logits (its probabilities where it
    has none), ``y`` the most likely class of the rhs; for Tokens, averaged over positions."""
    scores = lhs if lhs_logits is None else lhs_logits
    target = jax.nn.one_hot(jnp.argmax(rhs, axis=-1), rhs.shape[-1], dtype=scores.dtype)
    true_score = jnp.sum(scores * target, axis=-1)
    other = jnp.max(jnp.where(target > 0, -jnp.inf, scores), axis=-1)
    return per_example(jax.nn.relu(1.0 + other - true_score))


def wass(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
         rhs_logits: jax.Array | None = None) -> jax.Array:
    """The linear critic term of a Wasserstein GAN: ``lhs - rhs``, mean over elements,
    *signed*: ``critic(x) = 0 by wass`` is the critic's mean output, to be minimised or,
    with a negative weight in an objective, maximised."""
    return per_example(lhs - rhs)


def infonce(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
            rhs_logits: jax.Array | None = None, temperature: float = 0.1) -> jax.Array:
    """InfoNCE with in-batch negatives (SimCLR's NT-Xent, one direction): the cross-entropy
    of example ``i``'s row of cosine similarities ``cos(lhs_i, rhs_j) / T`` over the batch,
    its positive ``rhs_i`` on the diagonal and every other ``rhs_j`` a negative.  Per
    example, so its mean over the batch is the InfoNCE loss."""
    flat_l, flat_r = lhs.reshape(lhs.shape[0], -1), rhs.reshape(rhs.shape[0], -1)
    unit_l = flat_l / optax.safe_norm(flat_l, 1e-6, axis=1, keepdims=True)
    unit_r = flat_r / optax.safe_norm(flat_r, 1e-6, axis=1, keepdims=True)
    similarities = unit_l @ unit_r.T / temperature
    return optax.softmax_cross_entropy_with_integer_labels(
        similarities, jnp.arange(lhs.shape[0]))


def slope(lhs: jax.Array, rhs: jax.Array, lhs_logits: jax.Array | None = None,
          rhs_logits: jax.Array | None = None) -> jax.Array:
    """``(‖∂f(w)/∂w‖ - target)²`` per example: ``lhs`` is the slope :func:`input_slope`
    measured (the plan puts it in place of ``f(w)``), ``rhs`` the target (1 for a WGAN-GP)."""
    return per_example(jnp.square(lhs - rhs))


def input_slope(fn: Callable[..., Any], params: Any, x: jax.Array) -> jax.Array:
    """Each example's ``‖∂fn(x)/∂x‖`` for a learner ``fn(params, x) -> (outputs,)``,
    ``(batch, 1)``: the gradient of the summed outputs, each example's own since a net
    treats the examples of a batch apart.  Differentiable in ``params`` (double backprop)."""

    def summed(inputs: jax.Array) -> jax.Array:
        return jnp.sum(fn(params, inputs)[0])

    grads = jax.grad(summed)(x)
    return optax.safe_norm(grads.reshape(grads.shape[0], -1), 0.0, axis=1, keepdims=True)


FUNCTIONS: dict[str, Callable[..., jax.Array]] = {
    "mse": mse, "l1": l1, "huber": huber, "ce": ce, "bce": bce, "kl": kl,
    "nll": nll_bernoulli, "hinge": hinge, "wass": wass, "infonce": infonce, "slope": slope}
"""Each divergence an equation may name (``by NAME``), by name; see :func:`function`."""

# The divergences whose form depends on the wire's kind.
BY_KIND: dict[tuple[str, str], Callable[..., jax.Array]] = {
    ("kl", "Gaussian"): kl_gaussian, ("nll", "Gaussian"): nll_gaussian,
    ("hinge", "Class"): hinge_classes, ("hinge", "Tokens"): hinge_classes}


def function(name: str, kind: str) -> Callable[..., jax.Array]:
    """The function of the divergence ``name`` on wires of ``kind``; a dotted path
    (``mypkg.losses:huber``) is the user's own, imported through the trust boundary."""
    if is_user_divergence(name):
        return user_divergence(name)
    if name not in FUNCTIONS:
        raise unknown_name("divergence", name, FUNCTIONS)
    return BY_KIND.get((name, kind), FUNCTIONS[name])


# ---------------------------------------------------------------------------
# On values, checked.


def divergence(name: str) -> Divergence:
    """The divergence called ``name`` (as written after ``by`` in an equation), on wire
    values, checked at trace time: both sides of one shape and wire type, and a kind the
    divergence is defined for."""
    if name not in FUNCTIONS:
        raise unknown_name("divergence", name, FUNCTIONS)

    def checked(lhs: Value, rhs: Value) -> jax.Array:
        check_sides(name, lhs.wire_type, rhs.wire_type, lhs.array.shape, rhs.array.shape)
        return function(name, lhs.wire_type.kind)(lhs.array, rhs.array, lhs.logits, rhs.logits)

    checked.__name__ = checked.__qualname__ = name
    return checked


def check_sides(name: str, lhs: WireType, rhs: WireType, lhs_shape: tuple[int, ...] | None = None,
                rhs_shape: tuple[int, ...] | None = None) -> None:
    """Refuse comparing sides of different shapes or wire types, or of a kind ``name`` is
    not defined for."""
    if (lhs.kind, rhs.kind) in CROSS and lhs.shape == rhs.shape:
        if name not in CROSS[lhs.kind, rhs.kind]:
            raise wrong_kind("divergence", name, f"{lhs.kind} and {rhs.kind}",
                             (k for k, names in ALLOWED.items() if name in names))
        return
    if lhs_shape is not None and tuple(lhs_shape) != tuple(rhs_shape or ()):
        raise sides_differ(name, "shapes", tuple(lhs_shape), tuple(rhs_shape or ()))
    if lhs != rhs:
        raise sides_differ(name, "wire types", lhs.described(), rhs.described())
    if name not in ALLOWED.get(lhs.kind, frozenset()):
        raise wrong_kind("divergence", name, lhs.kind,
                         (k for k, names in ALLOWED.items() if name in names))



# ---------------------------------------------------------------------------
# A user's own divergence (or fixed function), by dotted path: ``mypkg.losses:huber``.

# The batch sizes a user's divergence is traced at (abstractly, no FLOPs) by the check: two,
# so that a per-example value is told from one that happens to have the batch's length.
TRACE_BATCHES = (3, 5)


def resolve_user(path: str, role: str = "divergence") -> tuple[Callable[..., Any] | None,
                                                                Problem | None]:
    """The function ``module.path:name`` names, imported only if the trust policy allows
    its module (``trust.py``), or the problem that stops it: not allowed, not importable,
    not a callable."""
    module, _, attr = path.partition(":")
    top = module.partition(".")[0]
    if not trust.current().permits(module):
        return None, problem("user-function-not-allowed", role=role, path=path,
                             module=module, top=top, env=trust.ENV,
                             config=trust.config_file())
    try:
        loaded = trust.guarded_import(module)
    except Exception as error:  # the user's module: anything it raises is theirs to see
        return None, problem("user-function-import", role=role, path=path, module=module,
                             reason=f"{type(error).__name__}: {error}")
    fn = getattr(loaded, attr, None)
    if not callable(fn):
        found = "nothing" if fn is None else f"a {type(fn).__name__}"
        return None, problem("user-function-missing", role=role, path=path, module=module,
                             name=attr, found=found)
    return fn, None


def user_divergence(path: str) -> Callable[..., jax.Array]:
    """The user's divergence ``path``, imported (or the located ``LowerError`` why not)."""
    fn, found = resolve_user(path, "divergence")
    if found is not None:
        raise LowerError(found)
    assert fn is not None
    return fn


def user_divergence_problems(path: str, lhs: WireType, rhs: WireType) -> list[Problem]:
    """What is wrong with comparing ``lhs`` and ``rhs`` wires by the user's ``path``:
    it cannot be imported, or ``jax.eval_shape`` of it on the two sides' abstract batches
    raises or gives anything but one float per example, ``(batch,)``."""
    fn, found = resolve_user(path, "divergence")
    if found is not None:
        return [found]
    for batch in TRACE_BATCHES:
        sides = [jax.ShapeDtypeStruct((batch, *t.value_shape), jnp.float32) for t in (lhs, rhs)]
        try:
            out = jax.eval_shape(fn, *sides)
        except Exception as error:  # the user's code, traced: say what it raised
            return [problem("user-divergence-shape", path=path, lhs=lhs.described(),
                            rhs=rhs.described(), batch=batch,
                            found=f"{type(error).__name__}: {error}")]
        shape = getattr(out, "shape", None)
        if shape is None or tuple(shape) != (batch,) or not jnp.issubdtype(out.dtype,
                                                                            jnp.floating):
            shown = (f"{type(out).__name__}" if shape is None
                     else f"shape {tuple(shape)} of {out.dtype}")
            return [problem("user-divergence-shape", path=path, lhs=lhs.described(),
                            rhs=rhs.described(), batch=batch, found=shown)]
    return []


def user_value(path: str, fn: Callable[..., Any], lhs: jax.Array, rhs: jax.Array
               ) -> jax.Array:
    """The user's divergence on the two sides, its shape checked at trace time (the same
    refusal ``taskdsl check`` gives, for a program lowered without it)."""
    out = jnp.asarray(fn(lhs, rhs))
    if out.shape != (lhs.shape[0],):
        raise LowerError(problem("user-divergence-shape", path=path, lhs="its lhs",
                                 rhs="its rhs", batch=lhs.shape[0],
                                 found=f"shape {out.shape} of {out.dtype}"))
    return out
