"""The problems an ``impl`` line's net can have, and the error that carries one.

A ``NetError`` is the user's mistake in an ``impl`` line (a name, an option, or
an architecture that cannot have the learner's type).  The wording lives with
every other check's in ``backends/jax/messages.py``; these functions fill it in
from what the registry knows, so ``taskdsl check`` and ``nets.build`` say the
same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from taskdsl.types import WireType

from ..messages import Problem, listed, problem, show, suggestion


class NetError(ValueError):
    """An ``impl`` line names a net that does not exist or cannot implement its learner."""

    def __init__(self, reason: Problem | str) -> None:
        self.problem = reason if isinstance(reason, Problem) else None
        super().__init__(str(reason))


def signature(inputs: Sequence[WireType], outputs: Sequence[WireType]) -> str:
    """A learner's type as a user wrote it: ``Image, Class[10] -> Image``."""
    ins = ", ".join(t.described() for t in inputs)
    outs = ", ".join(t.described() for t in outputs)
    return f"{ins} -> {outs}" if ins else f"-> {outs}"


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, for suggesting the name a user probably meant."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def unknown_net(name: str, known: Iterable[str]) -> Problem:
    """``name`` is neither a registered net nor a dotted Python path."""
    known = sorted(known)
    closest = min(known, key=lambda k: (edit_distance(name, k), k))
    return problem("net-unknown", name=f"nets.{name}", known=listed(f"nets.{k}" for k in known),
                   suggestion=f"did you mean `nets.{closest}`? ")


def user_import(path: str, reason: str) -> Problem:
    """A dotted path that does not lead to a class."""
    return problem("net-user-import", path=path, reason=reason)


def bad_signature(net: str, expected: str, inputs: Sequence[WireType],
                  outputs: Sequence[WireType]) -> Problem:
    """The net cannot take the learner's inputs or produce its outputs."""
    return problem("net-signature", net=net, expects=expected,
                   signature=signature(inputs, outputs))


def bad_option(net: str, option: str, valid: Iterable[str]) -> Problem:
    """An option the net does not have."""
    valid = sorted(valid)
    return problem("net-option", net=net, option=option, valid=listed(valid),
                   suggestion=suggestion(option, valid))


def bad_option_value(net: str, option: str, value: object, expected: str) -> Problem:
    """An option given a value of the wrong type or outside its choices."""
    return problem("net-option-value", net=net, option=option, expected=expected,
                   found=show(value))


def bad_user_outputs(net: str, found: str, inputs: Sequence[WireType],
                     outputs: Sequence[WireType]) -> Problem:
    """A user module returned something other than one batch per output wire."""
    wanted = ", ".join(f"(batch, {', '.join(map(str, t.value_shape))})" for t in outputs)
    return problem("net-user-outputs", net=net, wanted=wanted, found=found,
                   signature=signature(inputs, outputs))
