"""The fixed builtin boxes: pure functions on ``Value``s that the lowering calls by name.

Every entry of ``BUILTINS`` is called the same way::

    outputs = BUILTINS[name](inputs, params, key, out_types, batch=B)

``inputs`` are the input wires' values, ``params`` the box's static
parameters (``scale``'s factor, ``const``'s value), ``key`` a PRNG key (only
random boxes use it; see ``Builtin.needs_key``), ``out_types`` the output
wires' types, and ``batch`` the batch size, which only sources (boxes with no
inputs) need.  The result is a tuple of output values.  Each entry checks its
call (arity, parameters, key, batch) and the kinds it meets before computing,
at trace time.

| builtin | inputs | params | output | key |
|---|---|---|---|---|
| ``add``, ``sub``, ``mul`` | Real, Real | | Real, elementwise | |
| ``neg`` | Real | | Real | |
| ``scale`` | Real | ``(k,)`` | Real, ``k · x`` | |
| ``concat`` | Real, ... | | Real, joined on the last axis | |
| ``flatten`` | Real[...] | | Real[prod] | |
| ``sample`` | Gaussian | | Real, ``mean + exp(logvar/2) · ε`` | yes |
| ``drop`` | Real or Tokens | ``(p,)`` | the same, each number (word) zeroed with probability p | yes |
| ``const`` | | ``(c,)`` | any kind, constant ``c`` | |
| ``uniform`` | | | Class, Tokens, Binary, Real | yes |
| ``normal`` | | | Real, ``N(0, I)`` | yes |

A constant on a Class or Tokens wire is a class index (one-hot at every
position); on a Gaussian wire it is the mean, with log-variance 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from taskdsl.types import KINDS, WireType

from .values import CATEGORICAL_KINDS, Value, bad_call, bad_class_index, wrong_kind

# ``(inputs, params, key, out_type, batch) -> output``: the body of a one-output builtin.
Body = Callable[[tuple[Value, ...], tuple, jax.Array | None, WireType, int | None], Value]

_ALL_KINDS = frozenset(KINDS)
_REAL = frozenset({"Real"})


@dataclass(frozen=True)
class Builtin:
    """A fixed box: its body, and the contract the lowering must call it by.

    ``arity`` is the number of inputs (``None``: one or more), ``n_params`` the
    number of static parameters; ``accepts`` and ``produces`` are the kinds of
    its input and output wires.  Every builtin has one output.
    """

    name: str
    body: Body
    arity: int | None
    accepts: frozenset[str] = _REAL
    produces: frozenset[str] = _REAL
    n_params: int = 0
    needs_key: bool = False

    @property
    def is_source(self) -> bool:
        """Whether the box has no inputs, so the lowering must give it the batch size."""
        return self.arity == 0

    def __call__(self, inputs: tuple[Value, ...], params: tuple, key: jax.Array | None,
                 out_types: tuple[WireType, ...], *, batch: int | None = None
                 ) -> tuple[Value, ...]:
        """Check the call against the contract at trace time, then run the body."""
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
        return (self.body(inputs, params, key, out_types[0], batch),)


def _lift(op: Callable[..., jax.Array]) -> Body:
    """The body of a deterministic box: ``op`` on the input arrays, then the params."""

    def body(inputs: tuple[Value, ...], params: tuple, key: jax.Array | None,
             out_type: WireType, batch: int | None) -> Value:
        return Value.from_data(op(*(v.array for v in inputs), *params), out_type)

    return body


def _sample(inputs: tuple[Value, ...], params: tuple, key: jax.Array | None,
            out_type: WireType, batch: int | None) -> Value:
    """Reparameterised draw, so gradients reach the Gaussian's mean and log-variance."""
    (gaussian,) = inputs
    mean, logvar = gaussian.array[:, 0], gaussian.array[:, 1]
    noise = jax.random.normal(key, mean.shape, mean.dtype)
    return Value.from_data(mean + jnp.exp(0.5 * logvar) * noise, out_type)


def _drop(inputs: tuple[Value, ...], params: tuple, key: jax.Array | None,
          out_type: WireType, batch: int | None) -> Value:
    """Zero each number, or each word's whole distribution (no word at all), with
    probability p; no rescaling, so a dropped word reads as nothing, not as a rarer one."""
    (x,), (p,) = inputs, params
    shape = (*x.array.shape[:-1], 1) if x.wire_type.kind == "Tokens" else x.array.shape
    keep = jax.random.bernoulli(key, 1 - p, shape)
    return Value.from_data(jnp.where(keep, x.array, 0.0), out_type)


def _const(inputs: tuple[Value, ...], params: tuple, key: jax.Array | None,
           out_type: WireType, batch: int) -> Value:
    """The constant ``c`` on every example; a class index on categorical wires."""
    (c,) = params
    shape = out_type.value_shape
    if out_type.kind in CATEGORICAL_KINDS:
        if not isinstance(c, int) or not 0 <= c < shape[-1]:
            raise bad_class_index(out_type, c)
        return Value.from_data(jnp.full((batch, *shape[:-1]), c, jnp.int32), out_type)
    if out_type.kind == "Gaussian":
        mean = jnp.broadcast_to(jnp.asarray(c, jnp.float32), (batch, *shape[1:]))
        return Value.from_data(jnp.stack([mean, jnp.zeros_like(mean)], axis=1), out_type)
    return Value.from_data(jnp.broadcast_to(jnp.asarray(c, jnp.float32), (batch, *shape)),
                           out_type)


def _uniform(inputs: tuple[Value, ...], params: tuple, key: jax.Array,
             out_type: WireType, batch: int) -> Value:
    """A uniform class (one-hot, per position for Tokens), fair bits, or U[0, 1) reals."""
    shape = out_type.value_shape
    if out_type.kind in CATEGORICAL_KINDS:
        *index_shape, classes = shape
        data = jax.random.randint(key, (batch, *index_shape), 0, classes)
    elif out_type.kind == "Binary":
        data = jax.random.bernoulli(key, 0.5, (batch, *shape))
    else:
        data = jax.random.uniform(key, (batch, *shape))
    return Value.from_data(data, out_type)


def _normal(inputs: tuple[Value, ...], params: tuple, key: jax.Array,
            out_type: WireType, batch: int) -> Value:
    """Standard normal reals."""
    return Value.from_data(jax.random.normal(key, (batch, *out_type.value_shape)), out_type)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("add", _lift(jnp.add), arity=2),
        Builtin("sub", _lift(jnp.subtract), arity=2),
        Builtin("mul", _lift(jnp.multiply), arity=2),
        Builtin("neg", _lift(jnp.negative), arity=1),
        Builtin("scale", _lift(jnp.multiply), arity=1, n_params=1),
        Builtin("concat", _lift(lambda *xs: jnp.concatenate(xs, axis=-1)), arity=None),
        Builtin("flatten", _lift(lambda x: x.reshape(x.shape[0], -1)), arity=1),
        Builtin("sample", _sample, arity=1, accepts=frozenset({"Gaussian"}), needs_key=True),
        Builtin("drop", _drop, arity=1, accepts=frozenset({"Real", "Tokens"}),
                produces=frozenset({"Real", "Tokens"}), n_params=1, needs_key=True),
        Builtin("const", _const, arity=0, produces=_ALL_KINDS, n_params=1),
        Builtin("uniform", _uniform, arity=0, needs_key=True,
                produces=frozenset({"Class", "Tokens", "Binary", "Real"})),
        Builtin("normal", _normal, arity=0, needs_key=True),
    )
}
