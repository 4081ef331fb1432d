"""What every consumer of the IR asks of an objective, answered once.

The lowering, loaded runs, ``compile``, schedules, the data feed and the
backends' checks all need the same facts about an objective: its boxes with
each shared box once, the boxes that have parameters, which learners are
frozen (implemented by ``load(...)``), which learners each equation and the
whole objective train, and which data draws a batch must hold.  They are
computed here, from the IR alone, so that no two consumers can disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from taskdsl.ir import Box, BoxKind, Call, Equation, Name, Objective, Program
from taskdsl.types import WireType

LOAD = "load"
"""The ``impl`` value that loads a trained run's learner instead of naming a net."""

RESERVED_METRICS = frozenset({"loss"})

FUNCTION_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
"""A user's function as an ``impl`` value or a divergence names it: ``module.path:function``."""


@dataclass(frozen=True)
class DataRequest:
    """One draw of a data source: the batch must hold ``types``-shaped raw arrays at ``key``."""

    key: str
    source: str
    types: tuple[WireType, ...]


def find_objective(program: Program, name: str | None) -> Objective | None:
    """``program.objective(name)``: an objective, a task as a one-term objective, or the
    file's default; ``None`` when there is no such name (or nothing at all)."""
    try:
        return program.objective(name)
    except (KeyError, StopIteration):
        return None


def objective_names(program: Program) -> tuple[str, ...]:
    """Every name an objective can be asked for by: the objectives, then the tasks."""
    return (*program.objectives, *program.tasks)


def unique_boxes(equation: Equation) -> tuple[Box, ...]:
    """Both sides' boxes in order, each shared box (same id on both sides) once."""
    return tuple(({b.id: b for b in (*equation.lhs.boxes, *equation.rhs.boxes)}  # a shared box
                  | {b.id: b for b in equation.lhs.boxes}).values())  # as lhs: its copies precede


def draw_key(index: int, box: Box) -> str:
    """The batch key of one data draw: the equation's index in the objective, and the box id."""
    return f"{index}/{box.id}"


def metric_names(objective: Objective) -> tuple[str, ...]:
    """Each term's metric name: its equation's name, suffixed ``@i`` where that would clash."""
    names = [t.equation.name for t in objective.terms]
    return tuple(
        f"{n}@{i}" if names.count(n) > 1 or n in RESERVED_METRICS else n
        for i, n in enumerate(names)
    )


def with_params(objective: Objective) -> tuple[str, ...]:
    """The boxes with parameters: the learners, then the fixed boxes (loaded models, and
    user functions, whose parameters are an empty entry: see ``is_function``)."""
    fixed = (b.name for t in objective.terms for b in unique_boxes(t.equation)
             if b.kind is BoxKind.FIXED)
    return tuple(dict.fromkeys((*objective.learners(), *fixed)))


def impl_name(impl: object) -> str | None:
    """The constructor an ``impl`` value names (``nets.cnn``, ``load``), or ``None``."""
    if isinstance(impl, str):
        return impl
    if isinstance(impl, Call | Name):
        return impl.name
    return None


def is_load(impl: object) -> bool:
    """Whether an ``impl`` value is ``load(...)`` (a bare ``load`` too: it is then malformed)."""
    return impl_name(impl) == LOAD


def is_function(impl: object) -> bool:
    """Whether an ``impl`` value names a user's pure function by its path,
    ``module.path:function`` (``impl edge = mypkg.fns:edge``): what implements a ``fixed``
    box without a trained run.  Such a box has no parameters of its own; the backends give
    it an empty entry so that it runs like any other box with parameters, frozen."""
    name = impl_name(impl)
    return (name is not None and not isinstance(impl, Call)
            and FUNCTION_PATH.fullmatch(name) is not None)


def function_path(impl: object) -> str | None:
    """The ``module.path:function`` an ``impl`` value names, or ``None``."""
    return impl_name(impl) if is_function(impl) else None


def fixed_functions(program: Program, objective: Objective,
                    impls: Mapping[str, object] | None = None) -> dict[str, str]:
    """The ``fixed`` boxes of ``objective`` that a user's function implements, and each
    one's ``module.path:function``."""
    chosen = chosen_impls(program, impls)
    return {n: path for n in with_params(objective)
            if program.declarations[n].kind is BoxKind.FIXED
            and (path := function_path(chosen.get(n))) is not None}


def user_function_paths(program: Program, impls: Mapping[str, object] | None = None
                        ) -> tuple[str, ...]:
    """Every ``module.path:function`` the program names: its tasks' own divergences (``by
    mypkg.losses:huber``) and the functions that implement its ``fixed`` boxes, sorted.
    What resolving them imports, so what a run records among its ``imports``."""
    chosen = chosen_impls(program, impls)
    found = {d for e in program.tasks.values() for d in e.divergences if ":" in d}
    found |= {p for n, impl in chosen.items() if n in program.declarations
              and program.declarations[n].kind is BoxKind.FIXED
              and (p := function_path(impl)) is not None}
    return tuple(sorted(found))


def chosen_impls(program: Program, impls: Mapping[str, object] | None = None) -> dict[str, object]:
    """The file's ``impl`` lines with ``impls`` (e.g. ``--set impl.NAME=...``) over them."""
    return {**program.impls, **(impls or {})}


def frozen_boxes(program: Program, objective: Objective,
                 impls: Mapping[str, object] | None = None) -> tuple[str, ...]:
    """The boxes of ``objective`` with parameters that no equation may train: those an
    ``impl`` implements by ``load(...)``, and every ``fixed`` box (loaded, or a user's
    function: ``fixed_functions``)."""
    chosen = chosen_impls(program, impls)
    return tuple(n for n in with_params(objective)
                 if is_load(chosen.get(n)) or program.declarations[n].kind is BoxKind.FIXED)


def equation_trains(equation: Equation, frozen: frozenset[str] | tuple[str, ...] = ()
                    ) -> tuple[str, ...]:
    """The learners ``equation`` trains: its ``trains`` less the frozen ones."""
    return tuple(n for n in equation.trains if n not in frozen)


def trained_learners(objective: Objective, frozen: frozenset[str] | tuple[str, ...] = ()
                     ) -> tuple[str, ...]:
    """The learners some equation of ``objective`` trains, less ``frozen``, in
    first-appearance order."""
    return tuple(n for n in objective.learners()
                 if n not in frozen and any(n in t.equation.trains for t in objective.terms))


def data_requests(program: Program, objective: Objective) -> tuple[DataRequest, ...]:
    """One request per draw of a data source, keyed ``equation_index/box_id``."""
    return tuple(
        DataRequest(draw_key(i, b), b.name, program.declarations[b.name].signature.outputs)
        for i, t in enumerate(objective.terms) for b in unique_boxes(t.equation)
        if b.kind is BoxKind.DATA
    )


def ema_learners(program: Program, objective: Objective) -> dict[str, tuple[str, float]]:
    """Each EMA learner of ``objective`` (``learner target = ema(online, d)``): the learner it
    follows and its decay.  No equation trains one by gradient; the train step moves it
    towards the followed learner after each optimizer update."""
    return {n: follows for n in with_params(objective)
            if (follows := program.declarations[n].follows) is not None}


def own_params(program: Program, objective: Objective) -> tuple[str, ...]:
    """The learners of ``objective`` with parameters of their own, in order: its boxes with
    parameters, and each learner an EMA learner follows.  A tied learner (``learner b =
    tied(a)``) never appears: its boxes are ``a``'s, so ``a``'s one entry serves both names."""
    followed = (f for f, _ in ema_learners(program, objective).values())
    return tuple(dict.fromkeys((*with_params(objective), *followed)))


def not_trained(program: Program, objective: Objective,
                impls: Mapping[str, object] | None = None) -> tuple[str, ...]:
    """The boxes with parameters that no gradient trains: the frozen ones (loaded, fixed) and
    the EMA learners.  ``equation_trains``/``trained_learners`` of these are what is trained."""
    return (*frozen_boxes(program, objective, impls), *ema_learners(program, objective))


def ema_in_trains(objective: Objective, program: Program) -> list[tuple[Equation, str]]:
    """Each (equation, EMA learner) where a ``trains`` clause names an EMA learner: an error,
    since no gradient trains it."""
    ema = ema_learners(program, objective)
    return [(t.equation, n) for t in objective.terms if t.equation.trains_named
            for n in t.equation.trains if n in ema]
