"""Every message the ``nets`` package raises, composed in one place so the wording stays consistent.

A ``NetError`` is the user's mistake in an ``impl`` line (a name, an option, or
an architecture that cannot have the learner's type), so each message names the
net and says what would have been accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from taskdsl.types import WireType


class NetError(ValueError):
    """An ``impl`` line names a net that does not exist or cannot implement its learner."""


def signature(inputs: Sequence[WireType], outputs: Sequence[WireType]) -> str:
    """A learner's type as a user wrote it: ``Image, Class[10] -> Image``."""
    ins = ", ".join(t.described() for t in inputs)
    outs = ", ".join(t.described() for t in outputs)
    return f"{ins} -> {outs}" if ins else f"-> {outs}"


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, for suggesting the name a user probably meant."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def unknown_net(name: str, known: Iterable[str]) -> NetError:
    """``name`` is neither a registered net nor a dotted Python path."""
    known = list(known)
    closest = min(known, key=lambda k: (edit_distance(name, k), k))
    return NetError(
        f"unknown net `nets.{name}`; did you mean `nets.{closest}`? known nets: {_listed(known)} "
        "(or give a Flax module by its dotted Python path, e.g. `mypkg.models.MyNet`)"
    )


def user_import(path: str, reason: str) -> NetError:
    """A dotted path that does not lead to a class."""
    return NetError(f"cannot load user net `{path}`: {reason}")


def bad_signature(net: str, expected: str, inputs: Sequence[WireType],
                  outputs: Sequence[WireType]) -> NetError:
    """The net cannot take the learner's inputs or produce its outputs."""
    return NetError(
        f"net `{net}` cannot implement a learner of type {signature(inputs, outputs)}; "
        f"`{net}` expects {expected}"
    )


def bad_option(net: str, option: str, valid: Iterable[str]) -> NetError:
    """An option the net does not have."""
    valid = list(valid)
    known = _listed(valid) if valid else "none"
    return NetError(f"net `{net}` has no option `{option}`; its options are {known}")


def bad_option_value(net: str, option: str, value: object, expected: str) -> NetError:
    """An option given a value of the wrong type or outside its choices."""
    return NetError(f"option `{option}` of net `{net}` must be {expected}, got {value!r}")


def bad_user_outputs(net: str, found: str, inputs: Sequence[WireType],
                     outputs: Sequence[WireType]) -> NetError:
    """A user module returned something other than one batch per output wire."""
    wanted = ", ".join(f"(batch, {', '.join(map(str, t.value_shape))})" for t in outputs)
    return NetError(
        f"user net `{net}` cannot implement a learner of type {signature(inputs, outputs)}: "
        f"it must return a tuple of arrays shaped {wanted}, but returned {found}"
    )
