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

from ..errors import BackendError
from ..messages import Problem, listed, problem, show, suggestion
from ..messages import signature as signature  # re-exported: check.py imports it from here


class NetError(BackendError, ValueError):
    """An ``impl`` line names a net that does not exist or cannot implement its learner.

    Built from a :class:`Problem`, it keeps the check's code and words (``problem``).
    """

    default_code = "net-failed"


def unknown_net(name: str, known: Iterable[str]) -> Problem:
    """``name`` is neither a registered net nor a dotted Python path."""
    known = [f"nets.{k}" for k in sorted(known)]
    return problem("net-unknown", name=f"nets.{name}", known=listed(known),
                   suggestion=suggestion(f"nets.{name}", known, tail=" "))


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
