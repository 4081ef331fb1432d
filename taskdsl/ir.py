"""The IR: typed open diagrams, equations between them, and objectives.

This is the one structure that everything after the checker reads: the
renderer, ``explain``, and every backend.  It is immutable, and knows nothing of
the syntax it came from except source spans (kept for messages, excluded from
equality, so the same program written twice gives equal IR).

An equation's two sides are closed diagrams numbered from one equation-wide
pool of box and wire ids: a box that appears on both sides (a draw from a
source, or a shared ``let``) has the *same* id on both, and means the same
sample.  Copies and discards are explicit boxes, local to each side.

The IR depends only on types and spans: not on the syntax, and not on the
renderer.  Drawing a diagram in Jupyter (``_repr_svg_``) goes through
:data:`SVG_DRAWERS`, which :mod:`taskdsl.render` fills when it is imported
(``import taskdsl`` imports it); see ``docs/design.md``, "The IR".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from taskdsl.source import NOWHERE, Span
from taskdsl.types import Signature, WireType

SVG_DRAWERS: dict[type, Callable[[Any], str]] = {}
"""How to draw each IR class as SVG, filled by :mod:`taskdsl.render` on import.

A registry rather than an import, so that the IR names no module after it in
the pipeline; without a drawer, ``_repr_svg_`` returns None and Jupyter shows
the ``repr``.
"""


class _Drawable:
    """Jupyter's picture of an IR value, by the drawer registered for its class."""

    __slots__ = ()

    def _repr_svg_(self) -> str | None:
        draw = SVG_DRAWERS.get(type(self))
        return draw(self) if draw is not None else None


class BoxKind(StrEnum):
    LEARNER = "learner"
    FIXED = "fixed"  # a declared fixed box, implemented by `impl` (e.g. a loaded model)
    BUILTIN = "builtin"  # add, concat, sample, ...
    DATA = "data"
    RANDOM = "random"
    CONST = "const"
    COPY = "copy"
    DISCARD = "discard"

    @property
    def is_source(self) -> bool:
        return self in (BoxKind.DATA, BoxKind.RANDOM, BoxKind.CONST)


@dataclass(frozen=True)
class Wire:
    id: int
    type: WireType
    name: str | None = None  # the variable a user bound it to, if any


@dataclass(frozen=True)
class Box:
    """One box of a diagram.

    Static arguments are typed by what they mean: ``params`` are a builtin's
    numbers in brackets (``scale[0.5]``, ``drop[0.1]``), ``distribution`` a
    random source's (``normal``), ``value`` a constant's.  ``group`` is the path
    of ``def``/``refine`` names the box was inlined from, outermost first.
    """

    id: int
    kind: BoxKind
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    params: tuple[int | float, ...] = ()
    group: tuple[str, ...] = ()
    distribution: str | None = None
    value: int | float | None = None
    span: Span = field(default=NOWHERE, compare=False, repr=False)
    # In a pattern read generically (``Program.generic``): the number parameter each of
    # ``params`` stands for (``scale[sigma]``: "sigma"), None where a number was written;
    # empty when none does.  ``params`` then holds a placeholder, not a value to show.
    param_names: tuple[str | None, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Diagram(_Drawable):
    """An open diagram: boxes in an order where producers precede consumers."""

    boxes: tuple[Box, ...]
    wires: Mapping[int, Wire]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    @property
    def input_types(self) -> tuple[WireType, ...]:
        return tuple(self.wires[w].type for w in self.inputs)

    @property
    def output_types(self) -> tuple[WireType, ...]:
        return tuple(self.wires[w].type for w in self.outputs)

    @property
    def signature(self) -> Signature:
        return Signature(self.input_types, self.output_types)

    @cached_property
    def producers(self) -> dict[int, Box]:
        return {w: box for box in self.boxes for w in box.outputs}

    def learners(self) -> tuple[str, ...]:
        """The learners in this diagram, in first-appearance order."""
        return tuple(dict.fromkeys(b.name for b in self.boxes if b.kind is BoxKind.LEARNER))


@dataclass(frozen=True)
class Draw:
    """One ``<-``: an independent batch from a source, bound to variable names."""

    box: int
    source: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Equation(_Drawable):
    """An atomic task: ``lhs = rhs``, training ``trains`` under ``divergences``.

    ``divergences`` has one name per output wire; their sum compares the sides.
    ``trains_named`` says whether a ``trains`` clause chose ``trains`` (else it is
    every learner in the equation, by default); a backend that freezes a learner
    (a loaded model) must drop it from a default but may refuse it when named.
    """

    name: str
    lhs: Diagram
    rhs: Diagram
    trains: tuple[str, ...]
    divergences: tuple[str, ...]
    draws: tuple[Draw, ...]
    span: Span = field(default=NOWHERE, compare=False, repr=False)
    trains_named: bool = False
    # Each divergence's numbers in brackets (``by kl[2]``: the temperature), one tuple per
    # output wire, () where none was written; empty altogether when no divergence has any.
    divergence_params: tuple[tuple[float, ...], ...] = ()
    # In a pattern read generically: the divergence parameter each output's ``by`` names
    # (``by cycle``: "cycle"), None where a divergence was written; empty when none does.
    divergence_names: tuple[str | None, ...] = field(default=(), compare=False, repr=False)

    def params_of(self, index: int) -> tuple[float, ...]:
        """The numbers in brackets written after the ``index``-th output's divergence."""
        return self.divergence_params[index] if index < len(self.divergence_params) else ()

    @property
    def is_equality(self) -> bool:
        """Whether training drives the two sides to be equal, so that the task can be read
        as the equation ``lhs = rhs`` (by the reasoning): not for a linear critic (``wass``,
        unbounded), a margin (``hinge``), or a likelihood of data of another kind (``nll``
        of Real data under a Gaussian); nor for in-batch negatives (``infonce``), a
        gradient penalty (``slope``) or a user's divergence by dotted path."""
        return (not {"wass", "hinge", "infonce", "slope"} & set(self.divergences)
                and not any(":" in d for d in self.divergences)  # a user's own divergence
                and self.lhs.output_types == self.rhs.output_types)

    def learners(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.lhs.learners() + self.rhs.learners()))


@dataclass(frozen=True)
class Term:
    weight: float
    equation: Equation


@dataclass(frozen=True)
class Objective(_Drawable):
    """A compound task: a weighted sum of equations (nested objectives flattened)."""

    name: str
    terms: tuple[Term, ...]
    span: Span = field(default=NOWHERE, compare=False, repr=False)

    def learners(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for t in self.terms for n in t.equation.learners()))


@dataclass(frozen=True)
class Declaration:
    """A declared box: a learner, fixed box, or source, with its signature."""

    name: str
    kind: BoxKind
    signature: Signature
    distribution: str | None = None  # a random source's
    value: int | float | None = None  # a constant's
    span: Span = field(default=NOWHERE, compare=False, repr=False)
    # `learner target = ema(online, 0.99)`: (the learner followed, the decay).  Never trained
    # by gradient; after each optimizer step, target <- decay * target + (1 - decay) * online.
    follows: tuple[str, float] | None = None
    # `learner b = tied(a)`: "a".  The declaration is then `a`'s own (its ``name`` is `a`), kept
    # under the key `b` of ``Program.declarations``, so every use of `b` is a box of `a`.
    tied_to: str | None = None


@dataclass(frozen=True)
class Call:
    """A configuration value that names a constructor: ``nets.cnn(width = 32)``."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    """A bare name used as a configuration value (``optimizer adam``)."""

    name: str


@dataclass(frozen=True)
class TrainSpec:
    """A ``train`` block: data bindings and settings for one objective."""

    objective: str
    data: Mapping[str, Any]
    settings: Mapping[str, Any]
    span: Span = field(default=NOWHERE, compare=False, repr=False)
    # Where each data binding (by source name) and each setting (by key) was written.
    data_spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    setting_spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PatternValue:
    """A pattern's value parameter (``; sigma: number``, ``cycle: divergence = l1``), kept
    in the pattern's generic reading so that it can be shown by name, never as a value."""

    name: str
    kind: str  # "number" or "divergence"
    default: int | float | str | None = None


EVERY_VALUE = "every value"
"""The distribution of a pattern's source parameter read generically (``Program.generic``):
a draw from it may be any value of its type."""


@dataclass(frozen=True)
class Claim:
    """``claim NAME: GOAL [by T1, ...]``: a consequence a file states of its tasks.

    ``goal`` is the equation to prove (a task's, or one written in the claim);
    ``task`` names the goal's task when it is one (so it is not assumed);
    ``using`` is the tasks assumed, None for every task but the goal; ``text``
    the goal as written, for messages.  Checked by ``taskdsl check`` with
    :mod:`taskdsl.reasoning`, never by elaboration.
    """

    name: str
    goal: Equation
    task: str | None
    using: tuple[str, ...] | None
    text: str
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Program:
    """Everything a file means, after imports, patterns and refinement."""

    path: str
    aliases: Mapping[str, WireType]
    declarations: Mapping[str, Declaration]
    defs: Mapping[str, Diagram]
    refinements: Mapping[str, Diagram]
    tasks: Mapping[str, Equation]
    objectives: Mapping[str, Objective]
    impls: Mapping[str, Any]
    trainings: Mapping[str, TrainSpec]
    # Where each `impl` line (by the name it implements) was written.
    impl_spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    # The claims written at the top level of this file.
    claims: Mapping[str, Claim] = field(default_factory=dict)
    # Each pattern of this file that states claims, read generically (its parameters as boxes: those
    # with inputs learners, those drawn from sources over their whole type), with the
    # claims written inside it: what `taskdsl check` proves a pattern's claims from.
    generic: Mapping[str, Program] = field(default_factory=dict)
    # A pattern read generically: its value parameters, in the order written.
    values: Mapping[str, PatternValue] = field(default_factory=dict)

    def objective(self, name: str | None = None) -> Objective:
        """An objective by name, a task as a one-term objective, or the file's last objective."""
        if name is None and len(self.trainings) == 1:
            name = next(iter(self.trainings))
        if name is None:
            if self.objectives:
                return list(self.objectives.values())[-1]
            name = next(iter(self.tasks))
        if name in self.objectives:
            return self.objectives[name]
        equation = self.tasks[name]
        return Objective(name, (Term(1.0, equation),), equation.span)
