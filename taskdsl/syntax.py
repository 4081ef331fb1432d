"""The syntax tree of a .task file, as the parser builds it.

Only the elaborator reads these nodes; everything after it (checking results,
rendering, explaining, lowering) reads the IR in :mod:`taskdsl.ir`.  Every node
keeps its :class:`Span`, excluded from equality so that two trees that say the
same thing compare equal wherever they were written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from taskdsl.source import NOWHERE, Span


def _span() -> Span:
    """A span field: kept for messages, ignored by equality and repr."""
    return field(default=NOWHERE, compare=False, repr=False)


# ------------------------------------------------------------------ types
@dataclass(frozen=True)
class TypeExpr:
    """A type as written: ``Image``, ``Real[28, 28, 1]``, ``Real[d]``."""

    name: str
    dims: tuple[int | float | str, ...] | None
    span: Span = _span()


@dataclass(frozen=True)
class SigExpr:
    """A box signature as written; ``open_tail`` marks ``-> S, ...`` in patterns."""

    inputs: tuple[TypeExpr, ...]
    outputs: tuple[TypeExpr, ...]
    open_tail: bool = False


# ------------------------------------------------------------ expressions
@dataclass(frozen=True)
class Ref:
    """A name, possibly dotted, with optional static arguments: ``copy[Image]``."""

    name: str
    args: tuple[TypeExpr | int | float, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class NumberRef(Ref):
    """A number standing for a constant wire in an equation (``disc(x) = 1``), typed from
    the other side; ``name`` is the number as written, ``value`` its value.  A ``Ref``, so
    that anywhere else it is reported as an unknown name, never a crash."""

    value: int | float = 0


@dataclass(frozen=True)
class Call:
    """An application ``head(arg, ...)``."""

    head: Expr
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Seq:
    """Point-free sequential composition ``f >> g``."""

    parts: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Par:
    """Point-free parallel composition ``f @ g``."""

    parts: tuple[Expr, ...]
    span: Span = _span()


Expr = Ref | Call | Seq | Par


# ----------------------------------------------------------------- values
@dataclass(frozen=True)
class Literal:
    """A number, string or boolean in an ``impl`` or ``train`` block."""

    value: int | float | str | bool
    span: Span = _span()


@dataclass(frozen=True)
class NameValue:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class CallValue:
    """``nets.cnn(width = 32)``, ``load("runs/x")``."""

    name: str
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    span: Span = _span()


@dataclass(frozen=True)
class ListValue:
    items: tuple[Value, ...]
    span: Span = _span()


Value = Literal | NameValue | CallValue | ListValue


# ------------------------------------------------------------- statements
@dataclass(frozen=True)
class Import:
    """``import NAME [from stdlib | from "folder"]``."""

    name: str
    module: str | None
    module_is_path: bool
    span: Span = _span()


@dataclass(frozen=True)
class TypeAlias:
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class BoxDecl:
    """``learner get : Image -> Digit``, ``random z : -> Real[8] ~ normal``."""

    kind: str
    name: str
    sig: SigExpr
    distribution: str | None = None
    value: int | float | None = None
    span: Span = _span()
    # `learner target = ema(online, 0.99)`, `learner b = tied(a)`: how (`ema`, `tied`, or
    # what was written), whom, and the decay (ema's number); `sig` is then empty.
    follow: str | None = None
    follows: str | None = None
    decay: int | float | None = None


@dataclass(frozen=True)
class Param:
    name: str
    type: TypeExpr | None
    span: Span = _span()


@dataclass(frozen=True)
class DiagramDef:
    """``def`` or ``refine``: a named diagram, pointed (with params) or point-free."""

    keyword: str
    name: str
    params: tuple[Param, ...] | None
    body: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Draw:
    """``x, _ <- mnist``: one independent batch from a source."""

    targets: tuple[Expr, ...]
    source: str
    span: Span = _span()


@dataclass(frozen=True)
class Let:
    targets: tuple[Expr, ...]
    values: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Trains:
    names: tuple[Ref, ...]
    span: Span = _span()


@dataclass(frozen=True)
class By:
    divergence: str  # the first divergence named
    span: Span = _span()
    # Every divergence named, one per output wire when more than one (`by l1, ce`), and
    # each one's numbers in brackets (`kl[2]`); empty when built without them.
    names: tuple[str, ...] = ()
    params: tuple[tuple[int | float, ...], ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        return self.names or (self.divergence,)

    def params_of(self, index: int) -> tuple[int | float, ...]:
        return self.params[index] if index < len(self.params) else ()


Clause = Trains | By


@dataclass(frozen=True)
class FnPath:
    """A Python function by dotted path, ``mypkg.losses:huber`` (module, then the function
    after ``:``): the user's own divergence after ``by``."""

    text: str
    span: Span = _span()


@dataclass(frozen=True)
class EquationStmt:
    lhs: tuple[Expr, ...]
    rhs: tuple[Expr, ...]
    clauses: tuple[Clause, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ClauseStmt:
    """Clauses on a line of their own inside a task."""

    clauses: tuple[Clause, ...]
    span: Span = _span()


TaskItem = Draw | Let | EquationStmt | ClauseStmt


@dataclass(frozen=True)
class Task:
    name: str
    items: tuple[TaskItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Term:
    # A number, or a name: inside a pattern, one of its `number` parameters (`lam * cycle`).
    weight: int | float | str | None
    name: str
    span: Span = _span()
    negated: bool = False  # written after `-` (`fake - real`): its weight counts negated


@dataclass(frozen=True)
class Objective:
    name: str
    terms: tuple[Term, ...]
    span: Span = _span()


@dataclass(frozen=True)
class TypeParam:
    name: str
    kind: str  # "type" or "dim"
    span: Span = _span()


@dataclass(frozen=True)
class ParamSig:
    """Inside a pattern: the signature a box parameter must have."""

    name: str
    sig: SigExpr
    span: Span = _span()


@dataclass(frozen=True)
class Claim:
    """``claim NAME: GOAL [by T1, T2]``: a consequence the file expects of its tasks.

    The goal is a task (``task``) or an equation (``lhs = rhs``); ``using`` is the
    tasks assumed (None: every task but the goal).
    """

    name: str
    task: Ref | None
    lhs: tuple[Expr, ...]
    rhs: tuple[Expr, ...]
    using: tuple[Ref, ...] | None
    span: Span = _span()


PatternItem = ParamSig | DiagramDef | Task | Objective | Claim


@dataclass(frozen=True)
class ValueParam:
    """After ``;`` in a pattern's parentheses: ``sigma: number`` or ``d: divergence = l1``.

    A value, not a box, bound at ``use``: a number goes into a builtin's brackets
    (``scale[sigma]``), a divergence into a ``by`` clause (``by d``).
    """

    name: str
    kind: str  # "number" or "divergence"
    default: TypeExpr | int | float | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Pattern:
    name: str
    type_params: tuple[TypeParam, ...]
    params: tuple[str, ...]
    items: tuple[PatternItem, ...]
    span: Span = _span()
    values: tuple[ValueParam, ...] = ()


@dataclass(frozen=True)
class UseArg:
    name: str
    value: TypeExpr | int | float
    span: Span = _span()


@dataclass(frozen=True)
class Use:
    pattern: str
    args: tuple[UseArg, ...]
    alias: str | None
    span: Span = _span()


@dataclass(frozen=True)
class Impl:
    name: str
    value: Value
    span: Span = _span()


@dataclass(frozen=True)
class DataBinding:
    name: str
    value: Value
    span: Span = _span()


@dataclass(frozen=True)
class Setting:
    key: str
    value: Value
    span: Span = _span()


@dataclass(frozen=True)
class Train:
    name: str
    items: tuple[DataBinding | Setting, ...]
    span: Span = _span()


Statement = (
    Import | TypeAlias | BoxDecl | DiagramDef | Task | Objective | Pattern | Use | Impl | Train
    | Claim
)


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Module:
    """A whole parsed file: its statements and, for the formatter, its comments."""

    path: str
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
