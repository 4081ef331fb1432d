"""Divergences: how far the lhs value of an equation is from its rhs, per example.

Each divergence maps ``(lhs, rhs)`` to a loss of shape ``(B,)``; the lowering
averages it over the batch and weights it.  Where the lhs came from a learner,
the divergences that need ``log lhs`` (``ce``, ``kl`` on classes, ``bce``) use
its logits, which stays finite where the log of a saturated probability would
not.  Every divergence first checks, at trace time, that both sides carry
arrays of one shape and one wire type and that the divergence is defined for
that kind (``ALLOWED``), so a mistake fails the same way eagerly and under jit.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import jax
import jax.numpy as jnp
import optax

from taskdsl.builtins import DIVERGENCES
from taskdsl.types import WireType

from .values import Value, sides_differ, unknown_name, wrong_kind

Divergence = Callable[[Value, Value], jax.Array]

# The divergences each kind of wire may be compared by, and the default (the
# first): one table, shared with the checker (design §5).
ALLOWED: dict[str, frozenset[str]] = {kind: frozenset(names) for kind, names in DIVERGENCES.items()}
DEFAULTS: dict[str, str] = {kind: names[0] for kind, names in DIVERGENCES.items()}

# Probabilities are clipped to this before a log, when no logits are at hand.
_EPS = 1e-12

_REGISTRY: dict[str, Divergence] = {}


def _divergence(fn: Callable[[Value, Value], jax.Array]) -> Divergence:
    """Register ``fn`` under its name, wrapped in the checks every divergence shares."""
    name = fn.__name__

    @wraps(fn)
    def checked(lhs: Value, rhs: Value) -> jax.Array:
        if lhs.array.shape != rhs.array.shape:
            raise sides_differ(name, "shapes", lhs.array.shape, rhs.array.shape)
        if lhs.wire_type != rhs.wire_type:
            raise sides_differ(name, "wire types", lhs.wire_type.described(),
                               rhs.wire_type.described())
        kind = lhs.wire_type.kind
        if name not in ALLOWED.get(kind, frozenset()):
            raise wrong_kind("divergence", name, kind,
                             (k for k, names in ALLOWED.items() if name in names))
        return fn(lhs, rhs)

    _REGISTRY[name] = checked
    return checked


def divergence(name: str) -> Divergence:
    """The divergence called ``name`` (as written after ``by`` in an equation)."""
    if name not in _REGISTRY:
        raise unknown_name("divergence", name, _REGISTRY)
    return _REGISTRY[name]


def default_divergence(wire_type: WireType) -> str:
    """The name of the divergence used for ``wire_type`` when an equation names none."""
    if wire_type.kind not in DEFAULTS:
        raise unknown_name("wire kind", wire_type.kind, DEFAULTS)
    return DEFAULTS[wire_type.kind]


def _per_example(x: jax.Array) -> jax.Array:
    """Mean over every axis but the batch axis: a ``(B,)`` loss whatever the wire's shape."""
    return x.reshape(x.shape[0], -1).mean(axis=1)


def _safe_log(p: jax.Array) -> jax.Array:
    return jnp.log(jnp.clip(p, _EPS, None))


def _log_probs(value: Value) -> jax.Array:
    """Log-probabilities over the last axis, from the logits when the value has them.

    Clipping (not adding) makes ``0 · log 0`` exactly 0 with a finite gradient.
    """
    if value.logits is not None:
        return jax.nn.log_softmax(value.logits, axis=-1)
    return _safe_log(value.array)


def _cross_entropy(target: Value, model: Value) -> jax.Array:
    """``-Σ target · log model`` over the last axis, one number per distribution."""
    return -jnp.sum(target.array * _log_probs(model), axis=-1)


@_divergence
def mse(lhs: Value, rhs: Value) -> jax.Array:
    """Mean squared difference over the example's elements."""
    return _per_example(jnp.square(lhs.array - rhs.array))


@_divergence
def l1(lhs: Value, rhs: Value) -> jax.Array:
    """Mean absolute difference over the example's elements."""
    return _per_example(jnp.abs(lhs.array - rhs.array))


@_divergence
def huber(lhs: Value, rhs: Value) -> jax.Array:
    """Huber loss with delta 1 (quadratic near 0, linear beyond), mean over elements."""
    return _per_example(optax.huber_loss(lhs.array, rhs.array, delta=1.0))


@_divergence
def ce(lhs: Value, rhs: Value) -> jax.Array:
    """Cross-entropy of the rhs distribution under the lhs, ``-Σ rhs · log lhs``.

    Summed over the classes; for Tokens, averaged over positions.
    """
    return _per_example(_cross_entropy(rhs, lhs))


@_divergence
def bce(lhs: Value, rhs: Value) -> jax.Array:
    """Binary cross-entropy of the rhs bits under the lhs, mean over the bits."""
    if lhs.logits is not None:
        losses = optax.sigmoid_binary_cross_entropy(lhs.logits, rhs.array)
    else:
        p, y = lhs.array, rhs.array
        losses = -(y * _safe_log(p) + (1.0 - y) * _safe_log(1.0 - p))
    return _per_example(losses)


@_divergence
def kl(lhs: Value, rhs: Value) -> jax.Array:
    """Kullback–Leibler divergence, in the direction each kind makes natural.

    Class: ``KL(rhs ‖ lhs)``, which is ``ce`` minus the entropy of the rhs, so it
    is 0 at a match and has the same gradient in the lhs.  Gaussian:
    ``KL(N(lhs) ‖ N(rhs))`` in closed form, summed over dimensions, the
    direction of the VAE prior term ``KL(q(z|x) ‖ p(z))``.
    """
    if lhs.wire_type.kind == "Gaussian":
        return _gaussian_kl(lhs.array, rhs.array)
    return _per_example(_cross_entropy(rhs, lhs) - _cross_entropy(rhs, rhs))


def _gaussian_kl(lhs: jax.Array, rhs: jax.Array) -> jax.Array:
    """KL between diagonal Gaussians given as ``(B, 2, d...)`` mean / log-variance stacks."""
    mean_l, logvar_l = lhs[:, 0], lhs[:, 1]
    mean_r, logvar_r = rhs[:, 0], rhs[:, 1]
    per_dim = 0.5 * (
        logvar_r - logvar_l
        + (jnp.exp(logvar_l) + jnp.square(mean_l - mean_r)) * jnp.exp(-logvar_r)
        - 1.0
    )
    return per_dim.reshape(per_dim.shape[0], -1).sum(axis=1)
