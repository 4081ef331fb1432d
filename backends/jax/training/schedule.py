"""Update schedules: which learners each optimizer step may change.

Gradient routing already plays a GAN's game: one backward pass gives the
discriminator the gradient of ``real + fake`` and the generator that of
``fool``, and one step updates both from the same parameters (*simultaneous*
updates, the default).  The textbook GAN loop alternates instead: a
discriminator step, then a generator step against the updated discriminator.
A ``train`` block asks for that with::

    schedule alternate(disc: 1, gen: 1)             # disc, gen, disc, gen, ...
    schedule alternate(disc: 2, gen: 1)             # disc, disc, gen, disc, disc, gen, ...
    schedule alternate([disc_a, disc_b], [to_a, to_b])   # one step per group, in turn

or ``--set 'schedule=alternate(disc=1, gen=1)'``.  The steps cycle through
*phases* in the order written; in a phase only the phase's learners change
(parameters and optimizer state), the others keep theirs bit for bit.  A trained
learner the schedule does not name updates at every step, so adding a schedule
never silently freezes a learner (name it to pause it).  ``step.scheduled``
applies a schedule to an optimizer.

This module is plain Python, so that a schedule is checked with the other
settings before JAX is imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from taskdsl.ir import Call, Name, Objective

from . import errors

SIMULTANEOUS_SPEC = Name("simultaneous")
ALTERNATE = "alternate"


@dataclass(frozen=True)
class Schedule:
    """One learner group per step of the cycle; no phases means simultaneous updates."""

    phases: tuple[frozenset[str], ...] = ()
    spec: Call | Name = field(default=SIMULTANEOUS_SPEC, compare=False)  # as written


SIMULTANEOUS = Schedule()


def parse(value: Call | Name, spelled: str, objective: Objective) -> Schedule:
    """The schedule a ``schedule`` setting holds, its learners checked against ``objective``.

    ``spelled`` is the value as the file spells it, for messages.
    """
    if value == SIMULTANEOUS_SPEC:
        return SIMULTANEOUS
    if not isinstance(value, Call) or value.name != ALTERNATE:
        raise errors.bad_schedule(spelled, "is not a schedule")
    if value.args and value.kwargs:
        raise errors.bad_schedule(spelled, "mixes `learner: steps` with groups; use one form")
    groups = list(_counted(value, spelled) if value.kwargs else _grouped(value, spelled))
    if not groups:
        raise errors.bad_schedule(spelled, "names no learner")
    trained = [n for n in objective.learners()
               if any(n in t.equation.trains for t in objective.terms)]
    strangers = sorted(frozenset().union(*(g for g, _ in groups)) - set(trained))
    if strangers:
        raise errors.schedule_learner(spelled, strangers[0], objective.name, trained)
    return Schedule(tuple(g for g, steps in groups for _ in range(steps)), value)


def _counted(value: Call, spelled: str) -> Iterator[tuple[frozenset[str], int]]:
    """``alternate(disc: 2, gen: 1)``: each learner alone, for its number of steps."""
    for name, steps in value.kwargs.items():
        if type(steps) is not int or steps < 1:  # bool is an int subclass, not a count
            raise errors.bad_schedule(
                spelled, f"gives `{name}` a number of steps that is not a whole number >= 1")
        yield frozenset({name}), steps


def _grouped(value: Call, spelled: str) -> Iterator[tuple[frozenset[str], int]]:
    """``alternate([disc_a, disc_b], gen)``: each argument one step's learner or group."""
    for group in value.args:
        members = group if isinstance(group, tuple) else (group,)
        if not members or not all(isinstance(m, Name) for m in members):
            raise errors.bad_schedule(spelled, "has a group that is not learner names")
        yield frozenset(m.name for m in members), 1

