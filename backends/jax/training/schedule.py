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
never silently freezes a learner (name it to pause it), and a schedule cannot
name a frozen one (loaded with ``load(...)``, or a ``fixed`` box): it would
take steps that update nothing.  ``step.scheduled`` applies a schedule to an
optimizer.

This module is plain Python, so that a schedule is checked with the other
settings before JAX is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from taskdsl.ir import Call, Name, Objective
from taskdsl.queries import trained_learners

from ..messages import Problem, listed, problem, show, suggestion
from .errors import TrainError

SIMULTANEOUS_SPEC = Name("simultaneous")
ALTERNATE = "alternate"


@dataclass(frozen=True)
class Schedule:
    """One learner group per step of the cycle; no phases means simultaneous updates."""

    phases: tuple[frozenset[str], ...] = ()
    spec: Call | Name = field(default=SIMULTANEOUS_SPEC, compare=False)  # as written


SIMULTANEOUS = Schedule()


def parse(value: Call | Name, spelled: str, objective: Objective,
          frozen: Mapping[str, str] | None = None) -> Schedule:
    """The schedule a ``schedule`` setting holds, its learners checked against ``objective``.

    ``spelled`` is the value as the file spells it, for messages; ``frozen`` maps each
    learner no step may update to how it is frozen (``loaded from runs/clf``).  Raises
    the first of :func:`problems` as a ``TrainError``.
    """
    schedule, found = _read(value, objective, frozen or {}, spelled=spelled)
    if found:
        raise TrainError(found[0])
    return schedule


def problems(value: object, objective: Objective, frozen: Mapping[str, str] | None = None,
             where: str = "") -> list[Problem]:
    """Everything wrong with ``value`` as a schedule of ``objective``; ``where`` says in
    which ``--set`` it was written, if any."""
    return _read(value, objective, frozen or {}, where=where)[1]


def _read(value: object, objective: Objective, frozen: Mapping[str, str], *,
          spelled: str | None = None, where: str = "") -> tuple[Schedule, list[Problem]]:
    spelled = show(value) if spelled is None else spelled

    def form(what: str) -> Problem:
        return problem("schedule-form", value=spelled, where=where, problem=what)

    if value == SIMULTANEOUS_SPEC:
        return SIMULTANEOUS, []
    if not isinstance(value, Call) or value.name != ALTERNATE:
        return SIMULTANEOUS, [form("is not a schedule")]
    if value.args and value.kwargs:
        return SIMULTANEOUS, [form("mixes `learner: steps` with groups; use one form")]
    groups, found = _counted(value) if value.kwargs else _grouped(value)
    found = [form(f) for f in found]
    if not groups and not found:
        found.append(form("names no learner"))
    trained = trained_learners(objective, tuple(frozen))
    named = dict.fromkeys(n for g, _ in groups for n in sorted(g))
    for name in named:
        if name in frozen:
            found.append(problem("schedule-frozen", value=spelled, where=where, name=name,
                                 frozen=frozen[name], trained=listed(trained)))
        elif name not in trained:
            found.append(problem("schedule-learner", value=spelled, where=where, name=name,
                                 objective=objective.name, trained=listed(trained),
                                 suggestion=suggestion(name, trained)))
    return Schedule(tuple(g for g, steps in groups for _ in range(steps)), value), found


def _counted(value: Call) -> tuple[list[tuple[frozenset[str], int]], list[str]]:
    """``alternate(disc: 2, gen: 1)``: each learner alone, for its number of steps."""
    groups, found = [], []
    for name, steps in value.kwargs.items():
        if type(steps) is not int or steps < 1:  # bool is an int subclass, not a count
            found.append(f"gives `{name}` a number of steps that is not a whole number >= 1")
            continue
        groups.append((frozenset({name}), steps))
    return groups, found


def _grouped(value: Call) -> tuple[list[tuple[frozenset[str], int]], list[str]]:
    """``alternate([disc_a, disc_b], gen)``: each argument one step's learner or group."""
    groups, found = [], []
    for group in value.args:
        members = group if isinstance(group, tuple) else (group,)
        if not members or not all(isinstance(m, Name) for m in members):
            found.append("has a group that is not learner names")
            continue
        groups.append((frozenset(m.name for m in members), 1))
    return groups, found
