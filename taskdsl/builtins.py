"""The fixed boxes every program has, and the tables the checker types them by.

Builtins are generic (``add`` works on any ``Real`` shape), so each has a
typing rule from its input types (and static parameters) to its output types.
Backends implement the same names; :data:`BUILTINS` is the list they must
cover.  The divergence and distribution tables live here too, for the same
reason: the checker and every backend read one copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from taskdsl.types import WireType


class BuiltinTypeError(Exception):
    """A builtin applied to wires it does not accept; the message says what it wanted."""


@dataclass(frozen=True)
class Builtin:
    name: str
    arity: int
    doc: str
    rule: Callable[[tuple[WireType, ...], tuple[object, ...]], tuple[WireType, ...]]
    n_params: int = 0  # static parameters in brackets, e.g. scale[0.5]
    random: bool = False  # needs a PRNG key


def _real(t: WireType) -> None:
    if t.kind != "Real":
        raise BuiltinTypeError(f"takes Real wires, found `{t.described()}`")


def _same_real(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    a, b = types
    _real(a)
    if a != b:
        raise BuiltinTypeError(
            f"both inputs must have the same type, found `{a.described()}` and `{b.described()}`"
        )
    return (a,)


def _unary_real(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    _real(types[0])
    return (types[0],)


def _scale(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    if not isinstance(params[0], int | float):
        raise BuiltinTypeError("takes a number k in brackets: scale[k]")
    return _unary_real(types, params)


def _drop(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    (a,) = types
    p = params[0]
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
        raise BuiltinTypeError(f"takes a probability 0 <= p < 1 in brackets: drop[0.1], not {p!r}")
    if a.kind not in ("Real", "Tokens"):
        raise BuiltinTypeError(f"takes a Real or Tokens wire, found `{a.described()}`")
    return (a,)


def _concat(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    a, b = types
    _real(a)
    _real(b)
    if a.shape[:-1] != b.shape[:-1]:
        raise BuiltinTypeError(
            f"joins along the last axis; the other axes differ: "
            f"`{a.described()}` and `{b.described()}`"
        )
    last = a.shape[-1] + b.shape[-1] if a.is_concrete and b.is_concrete else f"{a.shape[-1]}+{b.shape[-1]}"
    return (WireType("Real", (*a.shape[:-1], last)),)


def _flatten(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    (a,) = types
    _real(a)
    size = math.prod(a.shape) if a.is_concrete else "*".join(map(str, a.shape))
    return (WireType("Real", (size,)),)


def _sample(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    (a,) = types
    if a.kind == "Binary":  # bits drawn from each element's probability, of the same shape
        return (WireType("Binary", a.shape),)
    if a.kind != "Gaussian":
        raise BuiltinTypeError(f"takes a Gaussian or Binary wire, found `{a.described()}`")
    return (WireType("Real", a.shape),)


def _any(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    return (types[0],)


SCALAR = WireType("Real", (1,))
"""What a reduction gives: the language has no scalar type, so one number is ``Real[1]``."""


def _reduce(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    _real(types[0])
    return (SCALAR,)


def _pair_reduce(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    _same_real(types, params)
    return (SCALAR,)


def _vector(t: WireType) -> None:
    _real(t)
    if len(t.shape) != 1:
        raise BuiltinTypeError(
            f"takes a Real[n] wire (one axis, the classes), found `{t.described()}`; "
            f"flatten it first"
        )


def _to_class(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    (a,) = types
    _vector(a)
    return (WireType("Class", a.shape),)


def _to_real(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    (a,) = types
    if a.kind != "Class":
        raise BuiltinTypeError(f"takes a Class wire, found `{a.described()}`")
    return (WireType("Real", a.shape),)


def _mix(types: tuple[WireType, ...], params: tuple[object, ...]) -> tuple[WireType, ...]:
    x, y, u = types
    _same_real((x, y), params)
    if u != SCALAR:
        raise BuiltinTypeError(
            f"takes the share u as a `Real[1]` third input, found `{u.described()}`")
    return (x,)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("add", 2, "elementwise sum of two Real wires", _same_real),
        Builtin("sub", 2, "elementwise difference", _same_real),
        Builtin("mul", 2, "elementwise product", _same_real),
        Builtin("neg", 1, "elementwise negation", _unary_real),
        Builtin("scale", 1, "multiply by a constant: scale[0.5](x)", _scale, n_params=1),
        Builtin("concat", 2, "join two Real wires along the last axis", _concat),
        Builtin("flatten", 1, "a Real wire as one flat vector", _flatten),
        Builtin(
            "sample", 1, "draw from a Gaussian wire (reparameterised), or bits from a Binary wire's "
            "probabilities (no gradient)", _sample, random=True
        ),
        Builtin(
            "drop", 1, "zero each number of a Real wire, or each word of a Tokens wire, "
            "with probability p: drop[0.1](x) (dropout, word dropout)", _drop, n_params=1,
            random=True,
        ),
        Builtin(
            "stop", 1, "the same wire, but no gradient flows back through it: "
            "f(aug(x)) = stop(f(x)) trains f only through the left", _any,
        ),
        Builtin("sum", 1, "the sum of a Real wire's numbers, as Real[1]", _reduce),
        Builtin("mean", 1, "the mean of a Real wire's numbers, as Real[1]", _reduce),
        Builtin("norm", 1, "the Euclidean length of a Real wire, as Real[1]", _reduce),
        Builtin("dot", 2, "the dot product of two Real wires of one type, as Real[1]",
                _pair_reduce),
        Builtin("cosine", 2, "the cosine similarity of two Real wires of one type, in "
                "[-1, 1], as Real[1]", _pair_reduce),
        Builtin("softmax", 1, "the class distribution of Real[n] scores: Class[n]", _to_class),
        Builtin("argmax", 1, "the highest of Real[n] scores as a class: Class[n] (no gradient)",
                _to_class),
        Builtin("one_hot", 1, "a Class[n] wire's most likely class as a one-hot Real[n] "
                "(no gradient)", _to_real),
        Builtin("mix", 3, "the point u of the way from y to x, u·x + (1-u)·y, for a Real[1] "
                "u in [0, 1] per example: mix(x, y, u), the interpolates of a WGAN-GP", _mix),
    )
}

# Structural boxes of point-free form: they only rewire.
STRUCTURAL = ("id", "copy", "discard", "swap")

# Which divergences compare which kinds of wire; the first is the default.
DIVERGENCES: dict[str, tuple[str, ...]] = {
    "Real": ("mse", "l1", "huber", "hinge", "wass", "infonce", "slope"),
    "Class": ("ce", "kl", "mse", "hinge"),
    "Binary": ("bce", "mse", "l1", "nll"),
    "Gaussian": ("kl",),
    "Tokens": ("ce",),
}

# Sides of two different kinds that a divergence still compares, by (lhs kind, rhs kind),
# the first the default: a likelihood of Real data under a distribution a learner gives.
# Their shapes must agree (``Gaussian[d..]`` with ``Real[d..]``); the distribution is on
# the left, as the model whose likelihood is taken.
CROSS_DIVERGENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Gaussian", "Real"): ("nll",),
    ("Binary", "Real"): ("nll",),
}

# The divergences that take a number in brackets (``by kl[2]``): its meaning and default.
DIVERGENCE_PARAMS: dict[str, tuple[str, float]] = {"kl": ("temperature", 1.0),
                                                   "infonce": ("temperature", 0.1)}

# The divergences that compare a whole batch or a learner's slope, not two values example by
# example: never an equation the reasoning may rewrite by (``Equation.is_equality``).
# ``infonce``: each lhs row against every rhs row of the batch, positives on the diagonal;
# ``slope``: the lhs must be one learner applied to one Real wire, ``f(w) = 1 by slope``
# is ``(‖∂f(w)/∂w‖ - 1)²``, a WGAN-GP's gradient penalty.
NOT_EQUALITIES = frozenset({"wass", "hinge", "infonce", "slope"})

# A divergence named by a dotted path to the user's own function, ``by mypkg.losses:huber``.
USER_DIVERGENCE_MARK = ":"


def is_user_divergence(name: str) -> bool:
    """Whether ``name`` is a dotted path to a user's divergence (``mypkg.losses:huber``)."""
    return USER_DIVERGENCE_MARK in name

ALL_DIVERGENCES = tuple(dict.fromkeys(
    [*(d for ds in DIVERGENCES.values() for d in ds),
     *(d for ds in CROSS_DIVERGENCES.values() for d in ds)]))


def divergences_for(lhs: str, rhs: str) -> tuple[str, ...] | None:
    """The divergences that compare an ``lhs``-kind side with an ``rhs``-kind side, the
    default first; None where no divergence compares those kinds."""
    if lhs == rhs:
        return DIVERGENCES.get(lhs)
    return CROSS_DIVERGENCES.get((lhs, rhs))

# Which distributions a random source of each kind may be drawn from.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "Real": ("normal", "uniform"),
    "Class": ("uniform",),
    "Binary": ("uniform",),
    "Gaussian": (),
    "Tokens": ("uniform",),
}
