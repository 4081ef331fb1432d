"""First-order terms read from the IR: the objects the reasoning rewrites.

Each side of an equation is a DAG of boxes over draws; read as a term, a copy
duplicates its input and a discard drops it (the cartesian laws, sound for the
deterministic boxes a pointwise task may hold).  A draw becomes a variable
ranging over its source's *domain*:

- a random source whose distribution has full support (``uniform`` over a
  finite type, ``normal`` over ``Real``) ranges over its whole wire type;
- a data source (or ``uniform`` over ``Real``) ranges over its support only,
  a set the reasoning knows nothing about; a draw that uses several outputs of
  one data source is one variable over the joint support, read through a
  projection per output (``x, y <- mnist`` is ``mnist#0(d)``, ``mnist#1(d)``),
  so that ``get(x) = y`` never equates a label with another draw's image.

Learners and fixed boxes are uninterpreted symbols (one per output of a
multi-output box); builtins keep their names and bring the laws of
:mod:`taskdsl.reasoning.laws`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from taskdsl.builtins import BUILTINS
from taskdsl.ir import EVERY_VALUE, Box, BoxKind, Diagram, Equation, Program
from taskdsl.types import WireType

FULL_SUPPORT = {("Class", "uniform"), ("Binary", "uniform"), ("Tokens", "uniform"),
                ("Real", "normal")}
"""(wire kind, distribution) pairs whose draws can be any value of the wire type."""


def type_key(t: WireType) -> str:
    """A wire type's name in terms and models: its structure, so that two aliases of one
    type (``type T = Real[4]`` beside ``Real[4]``) are one sort.  Messages show the
    file's alias for it (:func:`type_names`)."""
    return t.structural()


def type_names(program: Program) -> dict[str, str]:
    """How messages name each type key: by the program's first alias for it, if any."""
    names: dict[str, str] = {}
    for name, t in program.aliases.items():
        names.setdefault(t.structural(), name)
    for d in program.declarations.values():
        for t in (*d.signature.inputs, *d.signature.outputs):
            if t.alias:
                names.setdefault(t.structural(), t.alias)
    return names


@dataclass(frozen=True)
class Domain:
    """What a variable ranges over: a whole type (``source`` is None), a data
    source's support (``index`` None: the joint support) or one of its outputs."""

    type: str
    source: str | None = None
    index: int | None = None

    @property
    def full(self) -> bool:
        return self.source is None

    def __str__(self) -> str:
        if self.source is None:
            return f"all of {self.type}"
        if self.index is None:
            return f"supp({self.source})"
        return f"supp({self.source})#{self.index}"


@dataclass(frozen=True)
class Var:
    name: str
    domain: Domain


@dataclass(frozen=True)
class App:
    """``symbol(args)``; ``params`` are a builtin's static arguments (``scale[0.5]``).

    ``label`` is how a projection of a joint draw prints (the user's name for it).
    """

    symbol: str
    args: tuple[Term, ...] = ()
    params: tuple[float, ...] = ()
    label: str | None = field(default=None, compare=False)


Term = Var | App


@dataclass(frozen=True)
class Symbol:
    """A function symbol: its kind (``learner``, ``fixed``, ``builtin``, ``const``,
    ``proj``), argument and result types, and a constant's value."""

    name: str
    kind: str
    args: tuple[str, ...]
    result: str
    value: object = None


@dataclass(frozen=True)
class Rule:
    """An equation ``lhs = rhs`` for all values of its variables in their domains.

    ``origin`` says where it came from (``task``, ``law``, ``refinement``, ``goal``).
    """

    name: str
    lhs: Term
    rhs: Term
    origin: str = "task"


class TermError(Exception):
    """An equation the reasoning cannot read as terms; the message says why."""


# A number in an equation is a constant named with its wire's type (`1:Real[1]`), so that
# `1` on two types are two symbols; it is shown as the number.
_NUMBER_CONSTANT = re.compile(r"-?[0-9][0-9.eE+-]*:.+")


def show(t: Term) -> str:
    """A term in the language's notation: ``get(put(x, a))``."""
    if isinstance(t, Var):
        return t.name
    if t.label is not None:
        return t.label
    base = t.symbol.split("@", 1)[0]
    if _NUMBER_CONSTANT.fullmatch(base):  # `1:Real[1]`: a number, named with its type
        base = base.split(":", 1)[0]
    head = base + (f"[{', '.join(number(p) for p in t.params)}]" if t.params else "")
    if not t.args and base not in BUILTINS:
        return head
    if "#" in t.symbol and not t.symbol.startswith("proj:"):
        base, index = t.symbol.rsplit("#", 1)
        return f"{base}({', '.join(map(show, t.args))})[{index}]"
    return f"{head}({', '.join(map(show, t.args))})"


def number(x: float) -> str:
    """A number as the language writes it: ``2``, ``0.5``."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def variables(t: Term) -> dict[str, Var]:
    """The variables of ``t`` by name, in first-appearance order."""
    found: dict[str, Var] = {}

    def walk(u: Term) -> None:
        if isinstance(u, Var):
            found.setdefault(u.name, u)
        else:
            for a in u.args:
                walk(a)

    walk(t)
    return found


def type_of(t: Term, symbols: dict[str, Symbol]) -> str:
    """The type key of the value ``t`` computes."""
    return t.domain.type if isinstance(t, Var) else symbols[t.symbol].result


def size(t: Term) -> int:
    return 1 if isinstance(t, Var) else 1 + sum(size(a) for a in t.args)


def subterms(t: Term) -> list[Term]:
    out = [t]
    if isinstance(t, App):
        for a in t.args:
            out.extend(subterms(a))
    return out


@dataclass
class Reader:
    """Reads equations of one program into terms, collecting the symbols it meets."""

    program: Program
    symbols: dict[str, Symbol] = field(default_factory=dict)

    def domain(self, source: str, index: int, joint: bool) -> Domain:
        decl = self.program.declarations[source]
        t = decl.signature.outputs[index]
        if decl.kind is BoxKind.RANDOM and (decl.distribution == EVERY_VALUE
                                            or (t.kind, str(decl.distribution)) in FULL_SUPPORT):
            return Domain(type_key(t))
        if joint:
            return Domain("(" + ", ".join(map(type_key, decl.signature.outputs)) + ")", source)
        return Domain(type_key(t), source, index)

    def equation(self, eq: Equation) -> list[tuple[Term, Term]]:
        """One pair of terms per output wire of ``eq``."""
        draws = self._draw_vars(eq)
        return [(self.term(eq.lhs, lo, draws), self.term(eq.rhs, ro, draws))
                for lo, ro in zip(eq.lhs.outputs, eq.rhs.outputs, strict=True)]

    def _draw_vars(self, eq: Equation) -> dict[tuple[int, int], Term]:
        """The term of each draw output used, keyed by (box id, output index)."""
        boxes = {b.id: b for b in (*eq.lhs.boxes, *eq.rhs.boxes)}
        used = {w for d in (eq.lhs, eq.rhs) for b in d.boxes if b.kind is not BoxKind.DISCARD
                for w in b.inputs} | set(eq.lhs.outputs) | set(eq.rhs.outputs)
        out: dict[tuple[int, int], Term] = {}
        for draw in eq.draws:
            box = boxes.get(draw.box)
            if box is None or box.kind is BoxKind.CONST:
                continue
            names = {i: (draw.names[i] if i < len(draw.names) and draw.names[i] != "_"
                         else f"{draw.source}_{i}")
                     for i, w in enumerate(box.outputs) if w in used}
            if len(names) > 1 and box.kind is BoxKind.DATA:
                dom = self.domain(draw.source, 0, joint=True)
                tup = Var("(" + ", ".join(names.values()) + ")", dom)
                for i, name in names.items():
                    sym = f"proj:{draw.source}#{i}"
                    t = self.program.declarations[draw.source].signature.outputs[i]
                    self.symbols[sym] = Symbol(sym, "proj", (dom.type,), type_key(t), i)
                    out[(box.id, i)] = App(sym, (tup,), label=name)
            else:
                for i, name in names.items():
                    out[(box.id, i)] = Var(name, self.domain(draw.source, i, joint=False))
        return out

    def term(self, d: Diagram, wire: int, draws: dict[tuple[int, int], Term]) -> Term:
        box = d.producers.get(wire)
        if box is None:
            w = d.wires[wire]
            return Var(w.name or f"w{wire}", Domain(type_key(w.type)))
        if box.kind is BoxKind.COPY:
            return self.term(d, box.inputs[0], draws)
        index = box.outputs.index(wire)
        if box.kind in (BoxKind.DATA, BoxKind.RANDOM):
            return draws[(box.id, index)]
        return self._app(d, box, index, draws)

    def _app(self, d: Diagram, box: Box, index: int, draws: dict[tuple[int, int], Term]) -> App:
        args = tuple(self.term(d, w, draws) for w in box.inputs)
        arg_types = tuple(type_key(d.wires[w].type) for w in box.inputs)
        result = type_key(d.wires[box.outputs[index]].type)
        if box.kind is BoxKind.CONST:
            self._symbol(Symbol(box.name, "const", (), result, box.value))
            return App(box.name)
        if box.kind is BoxKind.BUILTIN:
            params = tuple(float(p) for p in box.params)
            head = box.name
            if params and box.name != "scale":
                # Only scale's factor is arithmetic (laws.py); any other builtin's static
                # arguments name a symbol of their own (`drop[0.25]`), as egglog and z3 see it.
                head += f"[{', '.join(number(p) for p in params)}]"
                params = ()
            name = f"{head}@{'/'.join(arg_types)}"
            self._symbol(Symbol(name, "builtin", arg_types, result))
            return App(name, args, params)
        symbol = box.name if len(box.outputs) == 1 else f"{box.name}#{index}"
        self._symbol(Symbol(symbol, box.kind.value, arg_types, result))
        return App(symbol, args)

    def _symbol(self, s: Symbol) -> None:
        self.symbols.setdefault(s.name, s)


def is_random_builtin(box: Box) -> bool:
    return box.kind is BoxKind.BUILTIN and BUILTINS[box.name].random


def distributional(eq: Equation) -> bool:
    """Whether ``eq`` can hold only in distribution, not pointwise.

    It does when a side computes with noise (``sample``, ``drop``), or when each
    side depends on a draw the other does not (a generator against data,
    ``f(x) = a`` with ``a`` a fresh draw): no function of one side's draws can
    equal the other's for every value of both.
    """
    if any(is_random_builtin(b) for b in (*eq.lhs.boxes, *eq.rhs.boxes)):
        return True
    lhs, rhs = _drawn(eq.lhs), _drawn(eq.rhs)
    return bool(lhs - rhs) and bool(rhs - lhs)


def _drawn(d: Diagram) -> set[int]:
    """The draws a side actually uses (not only discards); outputs of one draw are one draw."""
    used = {w for b in d.boxes if b.kind is not BoxKind.DISCARD for w in b.inputs} | set(d.outputs)
    return {b.id for b in d.boxes if b.kind in (BoxKind.DATA, BoxKind.RANDOM)
            and any(w in used for w in b.outputs)}
