"""The builtin boxes: each one plain JAX function over arrays, and the table that says how
to call it.

These functions are the builtins' one definition.  The interpreter
(``interpret.py``) calls them on wire arrays while tracing a loss or a loaded
run's refinement, and ``compile`` copies their source verbatim into the modules
it writes, so there is nothing to keep in step.  Every function is called as::

    fn(key?, batch_size?, *inputs, *params, **statics(out_type))

``key`` (a PRNG key) only for random boxes (``Builtin.needs_key``),
``batch_size`` only for sources (no inputs), ``params`` the box's static
parameters (``scale``'s factor, ``drop``'s probability, ``const``'s value),
and ``statics`` the keyword arguments a box reads from its output wire's type
(its shape, its kind).  Each returns the array on its one output wire, in the
wire's representation (``values.py``): float32, one-hot on ``Class``/``Tokens``.

| builtin | inputs | params | output | key |
|---|---|---|---|---|
| ``add``, ``sub``, ``mul`` | Real, Real | | Real, elementwise | |
| ``neg`` | Real | | Real | |
| ``scale`` | Real | ``(k,)`` | Real, ``k · x`` | |
| ``concat`` | Real, ... | | Real, joined on the last axis | |
| ``flatten`` | Real[...] | | Real[prod] | |
| ``sample`` | Gaussian | | Real, ``mean + exp(logvar/2) · ε`` | yes |
| ``sample`` | Binary[...] | | Binary, 0/1 bits of the same shape, no gradient | yes |
| ``drop`` | Real or Tokens | ``(p,)`` | the same, each number (word) zeroed with probability p | yes |
| ``stop`` | any | | the same value, no gradient back through it | |
| ``sum``, ``mean``, ``norm`` | Real[...] | | Real[1], over every axis but the batch | |
| ``dot``, ``cosine`` | Real, Real | | Real[1], over every axis but the batch | |
| ``softmax`` | Real[n] | | Class[n], the class distribution | |
| ``argmax`` | Real[n] | | Class[n], one-hot, no gradient | |
| ``one_hot`` | Class[n] | | Real[n], the most likely class one-hot, no gradient | |
| ``mix`` | Real, Real, Real[1] | | Real, ``u·x + (1-u)·y`` per example | |
| ``const`` | | ``(c,)`` | any kind, constant ``c`` | |
| ``uniform`` | | | Class, Tokens, Binary, Real | yes |
| ``normal`` | | | Real, ``N(0, I)`` | yes |

Modes: a box with ``train_only`` (``drop``) is the identity at inference
(``Run.call``, ``taskdsl eval``, ``taskdsl manipulate``), like dropout in any
framework; ``sample`` and random sources still draw there, from the caller's key.

A constant on a Class or Tokens wire is a class index (one-hot at every
position); on a Gaussian wire it is the mean, with log-variance 0.

Adding a builtin: its function and its row in ``BUILTINS`` here, and its typing
rule in the checker's table (``taskdsl/builtins.py``); nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import optax

from taskdsl.types import KINDS, WireType

from .values import (
    CATEGORICAL_KINDS,
    Value,
    bad_call,
    bad_class_index,
    categorical,
    wrong_kind,
)

_ALL_KINDS = frozenset(KINDS)
_REAL = frozenset({"Real"})
_CLASS = frozenset({"Class"})


# ---------------------------------------------------------------------------
# The builtins' meaning, on arrays.


def add(x: jax.Array, y: jax.Array) -> jax.Array:
    """Elementwise sum."""
    return x + y


def sub(x: jax.Array, y: jax.Array) -> jax.Array:
    """Elementwise difference."""
    return x - y


def mul(x: jax.Array, y: jax.Array) -> jax.Array:
    """Elementwise product."""
    return x * y


def neg(x: jax.Array) -> jax.Array:
    """Elementwise negation."""
    return -x


def scale(x: jax.Array, k: float) -> jax.Array:
    """``k · x`` for a constant ``k``."""
    return x * k


def concat(*xs: jax.Array) -> jax.Array:
    """The inputs joined along the last axis."""
    return jnp.concatenate(xs, axis=-1)


def flatten(x: jax.Array) -> jax.Array:
    """Each example as one flat vector."""
    return x.reshape(x.shape[0], -1)


def sample(key: jax.Array, dist: jax.Array, bits: bool = False) -> jax.Array:
    """A reparameterised draw from a Gaussian wire's ``(batch, 2, ...)`` stack of mean and
    log-variance, so that gradients reach both; with ``bits``, 0/1 draws of the same shape
    from a Binary wire's probabilities (a Bernoulli draw has no gradient)."""
    if bits:
        return jax.random.bernoulli(key, dist).astype(jnp.float32)
    mean, logvar = dist[:, 0], dist[:, 1]
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)


def drop(key: jax.Array, x: jax.Array, p: float, words: bool = False) -> jax.Array:
    """Zero each number, or with ``words`` each word's whole distribution (no word at all),
    with probability p; no rescaling, so a dropped word reads as nothing, not as a rarer one."""
    shape = (*x.shape[:-1], 1) if words else x.shape
    keep = jax.random.bernoulli(key, 1 - p, shape)
    return jnp.where(keep, x, 0.0)


def stop(x: jax.Array) -> jax.Array:
    """The same array, through which no gradient flows back (per occurrence, one wire)."""
    return jax.lax.stop_gradient(x)


def total(x: jax.Array) -> jax.Array:
    """``sum``: each example's numbers summed, ``(batch, 1)`` (named so as not to hide
    Python's ``sum`` in the modules ``compile`` writes)."""
    return x.reshape(x.shape[0], -1).sum(axis=1, keepdims=True)


def average(x: jax.Array) -> jax.Array:
    """``mean``: each example's numbers averaged, ``(batch, 1)``."""
    return x.reshape(x.shape[0], -1).mean(axis=1, keepdims=True)


def norm(x: jax.Array) -> jax.Array:
    """Each example's Euclidean length, ``(batch, 1)``; its gradient at 0 is 0, not NaN."""
    return optax.safe_norm(x.reshape(x.shape[0], -1), 0.0, axis=1, keepdims=True)


def dot(x: jax.Array, y: jax.Array) -> jax.Array:
    """Each example's dot product, over every axis but the batch: ``(batch, 1)``."""
    return (x * y).reshape(x.shape[0], -1).sum(axis=1, keepdims=True)


def cosine(x: jax.Array, y: jax.Array) -> jax.Array:
    """Each example's cosine similarity, ``(batch, 1)``; 0 where either side is 0.  Each
    length is floored at 1e-6 (exact above it, and the gradient near 0 stays bounded);
    ``optax.cosine_similarity`` floors at sqrt(epsilon), bending short vectors' cosines."""
    flat_x, flat_y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    lengths = (optax.safe_norm(flat_x, 1e-6, axis=1, keepdims=True)
               * optax.safe_norm(flat_y, 1e-6, axis=1, keepdims=True))
    return (flat_x * flat_y).sum(axis=1, keepdims=True) / lengths


def softmax(x: jax.Array) -> jax.Array:
    """Scores as the class distribution a Class wire carries."""
    return jax.nn.softmax(x, axis=-1)


def argmax(x: jax.Array) -> jax.Array:
    """The highest score's class, one-hot (the first on a tie); no gradient."""
    return jax.nn.one_hot(jnp.argmax(x, axis=-1), x.shape[-1])


def one_hot(p: jax.Array) -> jax.Array:
    """A class distribution's most likely class as a one-hot vector of reals; no gradient."""
    return jax.nn.one_hot(jnp.argmax(p, axis=-1), p.shape[-1])


def mix(x: jax.Array, y: jax.Array, u: jax.Array) -> jax.Array:
    """``u·x + (1-u)·y`` with each example's share ``u`` (``(batch, 1)``) over all of its
    numbers: the random interpolates of a WGAN-GP's gradient penalty."""
    share = u.reshape(u.shape[0], *([1] * (x.ndim - 1)))
    return share * x + (1.0 - share) * y


def const(batch_size: int, c: float, shape: tuple[int, ...], kind: str) -> jax.Array:
    """The constant ``c`` on every example: a class index on Class/Tokens wires, the mean
    (log-variance 0) on Gaussian ones."""
    if kind in ("Class", "Tokens"):
        return categorical(jnp.full((batch_size, *shape[:-1]), c, jnp.int32), shape[-1])
    if kind == "Gaussian":
        mean = jnp.broadcast_to(jnp.asarray(c, jnp.float32), (batch_size, *shape[1:]))
        return jnp.stack([mean, jnp.zeros_like(mean)], axis=1)
    return jnp.broadcast_to(jnp.asarray(c, jnp.float32), (batch_size, *shape))


def uniform(key: jax.Array, batch_size: int, shape: tuple[int, ...], kind: str) -> jax.Array:
    """A uniform class (one-hot, per position for Tokens), fair bits, or U[0, 1) reals."""
    if kind in ("Class", "Tokens"):
        indices = jax.random.randint(key, (batch_size, *shape[:-1]), 0, shape[-1])
        return categorical(indices, shape[-1])
    if kind == "Binary":
        return jax.random.bernoulli(key, 0.5, (batch_size, *shape)).astype(jnp.float32)
    return jax.random.uniform(key, (batch_size, *shape))


def normal(key: jax.Array, batch_size: int, shape: tuple[int, ...]) -> jax.Array:
    """Standard normal reals."""
    return jax.random.normal(key, (batch_size, *shape))


# ---------------------------------------------------------------------------
# How to call them.

Statics = Callable[[WireType], dict[str, Any]]


def _no_statics(out_type: WireType) -> dict[str, Any]:
    return {}


def _shape(out_type: WireType) -> dict[str, Any]:
    return {"shape": out_type.value_shape}


def _shape_and_kind(out_type: WireType) -> dict[str, Any]:
    return {"shape": out_type.value_shape, "kind": out_type.kind}


def _bits(out_type: WireType) -> dict[str, Any]:
    return {"bits": out_type.kind == "Binary"}


def _words(out_type: WireType) -> dict[str, Any]:
    return {"words": out_type.kind == "Tokens"}


def _class_index(params: tuple, out_type: WireType) -> None:
    """A constant on a categorical wire must be one of its classes."""
    (c,) = params
    if out_type.kind in CATEGORICAL_KINDS and (
            not isinstance(c, int) or isinstance(c, bool) or not 0 <= c < out_type.value_shape[-1]):
        raise bad_class_index(out_type, c)


def _any_params(params: tuple, out_type: WireType) -> None:
    return None


@dataclass(frozen=True)
class Builtin:
    """A builtin box: its function, and the contract every caller calls it by.

    ``arity`` is the number of inputs (``None``: one or more), ``n_params`` the
    number of static parameters; ``accepts`` and ``produces`` are the kinds of
    its input and output wires.  ``statics`` gives the keyword arguments the
    function reads from the output type, ``check`` refuses static parameters
    that do not fit it.  ``train_only``: the identity at inference.  Every
    builtin has one output.
    """

    name: str
    fn: Callable[..., jax.Array]
    arity: int | None
    accepts: frozenset[str] = _REAL
    produces: frozenset[str] = _REAL
    n_params: int = 0
    needs_key: bool = False
    statics: Statics = field(default=_no_statics)
    check: Callable[[tuple, WireType], None] = field(default=_any_params)
    train_only: bool = False

    @property
    def is_source(self) -> bool:
        """Whether the box has no inputs, so its caller must give it the batch size."""
        return self.arity == 0

    def arguments(self, key: Any, batch: Any, inputs: tuple[Any, ...], params: tuple,
                  out_type: WireType) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``fn``'s positional and keyword arguments: the one calling convention, shared by
        the interpreter (with arrays or code).  Call ``check`` first."""
        leading = (*((key,) if self.needs_key else ()), *((batch,) if self.is_source else ()))
        return (*leading, *inputs, *params), self.statics(out_type)

    def __call__(self, inputs: tuple[Value, ...], params: tuple, key: jax.Array | None,
                 out_types: tuple[WireType, ...], *, batch: int | None = None,
                 train: bool = True) -> tuple[Value, ...]:
        """The box on wire values, its call checked against the contract first (at trace
        time): what a test or a caller outside a diagram uses."""
        if self.arity is None and not inputs:
            raise bad_call(self.name, "takes one or more inputs, got none")
        if self.arity is not None and len(inputs) != self.arity:
            raise bad_call(self.name, f"takes {self.arity} inputs, got {len(inputs)}")
        if len(params) != self.n_params:
            raise bad_call(self.name, f"takes {self.n_params} parameters, got {len(params)}")
        if len(out_types) != 1:
            raise bad_call(self.name, f"has one output, was given {len(out_types)} types")
        if self.needs_key and key is None:
            raise bad_call(self.name, "is random and needs a PRNG key")
        if self.is_source and batch is None:
            raise bad_call(self.name, "is a source and needs the batch size")
        sides = [("input", v.wire_type.kind, self.accepts) for v in inputs]
        for side, kind, allowed in [*sides, ("output", out_types[0].kind, self.produces)]:
            if kind not in allowed:
                raise wrong_kind("builtin", self.name, kind, allowed, side)
        self.check(params, out_types[0])
        if self.train_only and not train:
            return (Value(inputs[0].array, out_types[0]),)
        args, kwargs = self.arguments(key, batch, tuple(v.array for v in inputs), params,
                                      out_types[0])
        return (Value.from_data(self.fn(*args, **kwargs), out_types[0]),)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("add", add, arity=2),
        Builtin("sub", sub, arity=2),
        Builtin("mul", mul, arity=2),
        Builtin("neg", neg, arity=1),
        Builtin("scale", scale, arity=1, n_params=1),
        Builtin("concat", concat, arity=None),
        Builtin("flatten", flatten, arity=1),
        Builtin("sample", sample, arity=1, accepts=frozenset({"Gaussian", "Binary"}),
                produces=frozenset({"Real", "Binary"}), needs_key=True, statics=_bits),
        Builtin("drop", drop, arity=1, accepts=frozenset({"Real", "Tokens"}),
                produces=frozenset({"Real", "Tokens"}), n_params=1, needs_key=True,
                statics=_words, train_only=True),
        Builtin("stop", stop, arity=1, accepts=_ALL_KINDS, produces=_ALL_KINDS),
        Builtin("sum", total, arity=1),
        Builtin("mean", average, arity=1),
        Builtin("norm", norm, arity=1),
        Builtin("dot", dot, arity=2),
        Builtin("cosine", cosine, arity=2),
        Builtin("softmax", softmax, arity=1, produces=_CLASS),
        Builtin("argmax", argmax, arity=1, produces=_CLASS),
        Builtin("one_hot", one_hot, arity=1, accepts=_CLASS),
        Builtin("mix", mix, arity=3),
        Builtin("const", const, arity=0, produces=_ALL_KINDS, n_params=1,
                statics=_shape_and_kind, check=_class_index),
        Builtin("uniform", uniform, arity=0, needs_key=True, statics=_shape_and_kind,
                produces=frozenset({"Class", "Tokens", "Binary", "Real"})),
        Builtin("normal", normal, arity=0, needs_key=True, statics=_shape),
    )
}
"""Every builtin, and the random sources' distributions and constants, which are builtins
too: a ``random`` box runs the builtin its distribution names, a ``const`` box ``const``."""
