"""A wire's value in the JAX backend: the array that flows, and the logits it came from.

Every wire carries a batch: a leading axis ``B`` followed by the wire type's
``value_shape``.  ``Class``, ``Binary`` and ``Tokens`` wires carry probabilities
(so that any box can consume them), but when a learner produced them the value
also keeps its logits, because divergences computed from logits stay finite
where ``log(softmax(x))`` would underflow.

Shapes and kinds are static under ``jax.jit``, so every check here runs while
tracing and fails the same way eagerly and under jit.  All the messages the
JAX value layer (values, divergences, builtins) raises are built in the
"Errors" section below, from templates in ``backends/jax/messages.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from taskdsl.types import WireType

from ..errors import BackendError
from ..messages import listed, phrase

# Kinds whose last axis is a categorical distribution (one-hot for data, softmax for learners).
CATEGORICAL_KINDS = frozenset({"Class", "Tokens"})


# ---------------------------------------------------------------------------
# Errors: what values.py, divergences.py and builtins.py raise, worded by code in messages.py.


class WireValueError(BackendError, ValueError):
    """An array does not fit the wire it is put on, or an operation does not fit its kind.

    A ``ValueError`` because the *value* is wrong, not the call: the lowering
    passes what the diagram produced, and the message says what the wire wanted.
    """

    default_code = "wire-shape"


class BuiltinCallError(BackendError, TypeError):
    """The lowering called a builtin against its contract: a bug in the caller, not the file."""

    default_code = "builtin-call"


def _batched(shape: tuple[int, ...]) -> str:
    return "(batch, " + ", ".join(str(d) for d in shape) + ")" if shape else "(batch,)"


def wrong_shape(what: str, wire_type: WireType, expected: tuple[int, ...],
                found: tuple[int, ...]) -> WireValueError:
    """A value's array has the wrong shape for its wire."""
    return WireValueError.of("wire-shape", what=what, wire=wire_type.described(),
                             expected=_batched(expected), found=found)


def sides_differ(name: str, what: str, lhs: object, rhs: object) -> WireValueError:
    """The two sides of a divergence do not carry comparable values."""
    return WireValueError.of("wire-sides-differ", name=name, what=what, lhs=lhs, rhs=rhs)


def wrong_kind(role: str, name: str, kind: str, allowed: Iterable[str],
               side: str = "") -> WireValueError:
    """A divergence or builtin meets a kind of wire it is not defined for."""
    wires = phrase("side-wires", side=side) if side else phrase("wires")
    return WireValueError.of("wire-kind", role=role, name=name, kind=kind, wires=wires,
                             allowed=listed(allowed, sort=True))


def unknown_name(role: str, name: str, known: Iterable[str]) -> WireValueError:
    """A divergence or builtin looked up by a name that does not exist."""
    return WireValueError.of("function-unknown", role=role, name=name,
                             known=listed(known, sort=True))


def bad_call(name: str, problem: str) -> BuiltinCallError:
    """The lowering called a builtin against its contract (a bug in the caller)."""
    return BuiltinCallError.of("builtin-call", name=name, problem=problem)


def bad_class_index(wire_type: WireType, index: object) -> WireValueError:
    """A constant on a categorical wire that is not one of its classes."""
    return WireValueError.of("wire-class-index", wire=wire_type.described(),
                             last=wire_type.value_shape[-1] - 1, index=index)


# ---------------------------------------------------------------------------
# Wire conversions: plain functions over arrays, emitted verbatim by ``compile``.


def real(data: jax.Array) -> jax.Array:
    """Data on a Real, Binary or Gaussian wire: the numbers as float32."""
    return jnp.asarray(data).astype(jnp.float32)


def categorical(data: jax.Array, classes: int) -> jax.Array:
    """Data on a Class or Tokens wire: class indices (integers) become one-hot over
    ``classes``, distributions stay as they are; float32 either way."""
    data = jnp.asarray(data)
    if jnp.issubdtype(data.dtype, jnp.integer):
        data = jax.nn.one_hot(data, classes)
    return data.astype(jnp.float32)


def class_probabilities(logits: jax.Array) -> jax.Array:
    """A learner's Class or Tokens logits as the distribution the wire carries."""
    return jax.nn.softmax(logits, axis=-1)


def bit_probabilities(logits: jax.Array) -> jax.Array:
    """A learner's Binary logits as the bit probabilities the wire carries."""
    return jax.nn.sigmoid(logits)


# ---------------------------------------------------------------------------
# Values


def check_shape(array: jax.Array, expected: tuple[int, ...], wire_type: WireType,
                what: str) -> None:
    """Raise ``WireValueError`` unless ``array`` is a batch of ``expected``-shaped examples."""
    if array.ndim != len(expected) + 1 or tuple(array.shape[1:]) != expected:
        raise wrong_shape(what, wire_type, expected, tuple(array.shape))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Value:
    """The batch on one wire: ``array`` flows into the next box, ``logits`` feed divergences.

    ``wire_type`` is static pytree metadata (hashable, and shapes are static
    anyway), so a jitted function taking ``Value``s retraces per wire type and
    can check shapes and kinds while tracing.  Build values with
    ``from_learner`` or ``from_data``, which check the shape against the wire.
    """

    array: jax.Array
    wire_type: WireType = field(metadata={"static": True})
    logits: jax.Array | None = None

    @classmethod
    def from_learner(cls, output: jax.Array, wire_type: WireType) -> Value:
        """A learner's raw output: logits for Class/Tokens (softmax) and Binary (sigmoid).

        The logits are kept next to the probabilities; Real and Gaussian outputs
        are the value itself.
        """
        output = jnp.asarray(output)
        check_shape(output, wire_type.value_shape, wire_type, "a learner's output")
        squash = SQUASH.get(wire_type.kind)
        return cls(output, wire_type) if squash is None else cls(squash(output), wire_type, output)

    @classmethod
    def from_data(cls, data: jax.Array, wire_type: WireType) -> Value:
        """An array from a data set or a fixed box, as float32 on the wire.

        Integer arrays on Class/Tokens wires are class indices (``(B,)`` or token
        ids ``(B, l)``) and become one-hot; out-of-range indices become all-zero
        rows (``jax.nn.one_hot``), since values cannot be checked under jit.
        Everything else (0/1 bits, images, distributions) is cast to float32.
        """
        data = jnp.asarray(data)
        if wire_type.kind in CATEGORICAL_KINDS and jnp.issubdtype(data.dtype, jnp.integer):
            check_shape(data, wire_type.value_shape[:-1], wire_type, "class indices")
        data = convert(data, wire_type)
        check_shape(data, wire_type.value_shape, wire_type, "data")
        return cls(data, wire_type)


# How a learner's raw output becomes its wire's value, by kind (the others carry it as is).
SQUASH = {"Class": class_probabilities, "Tokens": class_probabilities,
          "Binary": bit_probabilities}


def convert(data: jax.Array, wire_type: WireType) -> jax.Array:
    """Raw data (a batch, a constant, a draw) as the value on a ``wire_type`` wire."""
    if wire_type.kind in CATEGORICAL_KINDS:
        return categorical(data, wire_type.value_shape[-1])
    return real(data)
