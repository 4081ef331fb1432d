"""Hypothesis strategies: random well-typed .task programs, written in random layouts.

:func:`programs` builds a program from the language's constructs (type aliases,
learners and fixed boxes with random signatures, data, random and constant
sources, pointed and point-free defs, refinements, tasks whose two sides are
random well-typed compositions, objectives, ``impl`` and ``train`` blocks),
tracking every wire's type and the learners that reach it, so that each
``trains`` clause names learners present in its equation and each ``by`` a
divergence valid for the compared types.  The text is then laid out with
random spacing, line continuations, blank lines and comments, so that the
formatter has work to do.  :func:`corruptions` breaks a valid text at random.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from taskdsl.builtins import DISTRIBUTIONS, DIVERGENCES
from taskdsl.types import WireType

Draw = Callable[[st.SearchStrategy[Any]], Any]

BASE_TYPES = (
    WireType("Real", (4,)),
    WireType("Real", (2, 3)),
    WireType("Real", (6,)),
    WireType("Real", (8,)),
    WireType("Class", (3,)),
    WireType("Binary", (5,)),
    WireType("Gaussian", (4,)),
    WireType("Tokens", (7, 3)),
    WireType("Real", (1,)),  # what the reductions (sum, dot, ...) give
    WireType("Real", (3,)),  # scores for Class[3] (softmax, argmax), and one_hot's output
)
REAL4 = BASE_TYPES[0]


# ------------------------------------------------------------ the model
@dataclass(frozen=True)
class Wire:
    """A wire of the program being built: its type, the learners reaching it, and the
    inputs (of the enclosing def) it depends on."""

    type: WireType
    learners: frozenset[str] = frozenset()
    deps: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Box:
    """Anything applicable: its head as tokens, input types, and outputs as wires whose
    ``deps`` index its inputs.  ``level`` says how its head binds: atom, par or seq."""

    head: tuple[str, ...]
    inputs: tuple[WireType, ...]
    outputs: tuple[Wire, ...]
    level: int = 0
    learner: str | None = None  # a declared learner's own name


ATOM, PAR, SEQ = range(3)


def _apply(box: Box, args: Sequence[Wire]) -> list[Wire]:
    """The wires a box gives when applied to ``args``."""
    out = []
    for w in box.outputs:
        learners = w.learners.union(*(args[i].learners for i in w.deps))
        deps = frozenset().union(*(args[i].deps for i in w.deps))
        out.append(Wire(w.type, learners, deps))
    return out


@dataclass
class Expr:
    """An expression written as tokens, and the wires it gives."""

    tokens: list[str]
    wires: list[Wire]


@dataclass
class Line:
    """A one-line statement (or block item) as tokens."""

    tokens: list[str]


@dataclass
class Block:
    """A block: its header's tokens and its lines."""

    header: list[str]
    items: list[Line]


# ----------------------------------------------------------- the builder
@dataclass
class _Program:
    """The program under construction and what its names mean."""

    draw: Draw
    types: list[WireType] = field(default_factory=list)
    spellings: dict[WireType, list[list[str]]] = field(default_factory=dict)
    boxes: dict[str, Box] = field(default_factory=dict)  # applicable by name
    learners: list[str] = field(default_factory=list)
    refined: dict[str, frozenset[str]] = field(default_factory=dict)
    sources: dict[str, tuple[str, tuple[WireType, ...]]] = field(default_factory=dict)
    consts: dict[WireType, str] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    statements: list[Line | Block] = field(default_factory=list)
    counter: int = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self, items: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(items)))

    def chance(self, p: float) -> bool:
        return self.draw(st.integers(0, 99)) < p * 100

    def type_tokens(self, t: WireType) -> list[str]:
        return list(self.pick(self.spellings[t]))

    def number(self, value: int | float) -> str:
        """A spelling of ``value`` the parser reads back as the same number and type."""
        if isinstance(value, int):
            return self.pick([str(value), "0" + str(value)] if value >= 0 else [str(value)])
        return self.pick([repr(value), f"{value:e}", f"{value:.6f}".rstrip("0")]
                         if float(f"{value:.6f}") == value else [repr(value), f"{value:e}"])


def _spell(t: WireType) -> list[str]:
    """``t`` written out: ``Real[2, 3]``."""
    return [t.kind, "[", *_sep([[str(d)] for d in t.shape]), "]"]


def _sep(items: Sequence[list[str]]) -> list[str]:
    """Token lists joined by commas."""
    out: list[str] = []
    for item in items:
        out += ([","] if out else []) + item
    return out


def _builtins_giving(t: WireType) -> list[Box]:
    """The builtins (with their static arguments) that give one wire of type ``t``; over
    ``BASE_TYPES`` they name every builtin of ``taskdsl.builtins.BUILTINS``
    (``GENERATED_BUILTINS``, which a test checks against the table)."""
    def box(head: list[str], inputs: list[WireType]) -> Box:
        return Box(tuple(head), tuple(inputs), (Wire(t, deps=frozenset(range(len(inputs)))),))

    found = []
    if t.kind == "Real":
        found = [box([name], [t, t]) for name in ("add", "sub", "mul")]
        found += [box(["neg"], [t]), box(["scale", "[", "0.5", "]"], [t]),
                  box(["sample"], [WireType("Gaussian", t.shape)]),
                  box(["mix"], [t, t, BASE_TYPES[8]])]
    if t.kind in ("Real", "Tokens"):
        found.append(box(["drop", "[", "0.25", "]"], [t]))
    if t == BASE_TYPES[2]:
        found.append(box(["flatten"], [BASE_TYPES[1]]))
    if t == BASE_TYPES[3]:
        found.append(box(["concat"], [REAL4, REAL4]))
    found.append(box(["stop"], [t]))
    if t == BASE_TYPES[8]:  # Real[1]: reductions, of one axis and of several
        found += [box(["sum"], [BASE_TYPES[1]]), box(["mean"], [REAL4]),
                  box(["norm"], [BASE_TYPES[1]]), box(["dot"], [REAL4, REAL4]),
                  box(["cosine"], [BASE_TYPES[1], BASE_TYPES[1]])]
    if t == BASE_TYPES[4]:  # Class[3] from Real[3] scores
        found += [box(["softmax"], [BASE_TYPES[9]]), box(["argmax"], [BASE_TYPES[9]])]
    if t == BASE_TYPES[9]:
        found.append(box(["one_hot"], [BASE_TYPES[4]]))
    return found


GENERATED_BUILTINS = frozenset(b.head[0] for t in BASE_TYPES for b in _builtins_giving(t))


class _Scope:
    """Variables in reach while writing expressions: drawn wires, ``let``s or def params."""

    def __init__(self, program: _Program, env: dict[str, Wire], task: bool):
        self.p = program
        self.env = env
        self.task = task
        self.draws: list[Line] = []
        self.lets: list[Line] = []
        self.local = [b for b in program.boxes.values() if b.outputs]

    # -- what can be made at a depth
    def feasible(self, t: WireType, depth: int) -> bool:
        if any(w.type == t for w in self.env.values()) or t in self.p.consts:
            return True
        if self.task and any(t in outs for _, outs in self.p.sources.values()):
            return True
        return depth > 0 and bool(self._makers(t, depth))

    def _makers(self, t: WireType, depth: int) -> list[Callable[[], Expr]]:
        """Ways to make one wire of type ``t`` with an application at ``depth``."""
        boxes = [b for b in self.local if len(b.outputs) == 1 and b.outputs[0].type == t]
        return [lambda box=box: self.call(box, depth) for box in boxes + _builtins_giving(t)
                if self._can(box.inputs, depth)]

    def _can(self, types: Sequence[WireType], depth: int) -> bool:
        return all(self.feasible(t, depth - 1) for t in types)

    # -- writing expressions
    def one(self, t: WireType, depth: int) -> Expr:
        """An expression giving one wire of type ``t``, nested at most ``depth`` deep."""
        ways: list[Callable[[], Expr]] = []
        names = [n for n, w in self.env.items() if w.type == t]
        if names:
            ways.append(lambda: self._var(self.p.pick(names)))
        if self.task and (not names or self.p.chance(0.2)):
            sources = [s for s, (_, outs) in self.p.sources.items() if t in outs]
            if sources:
                ways.append(lambda: self._draw(self.p.pick(sources), t))
        if t in self.p.consts:
            const = self.p.consts[t]
            ways.append(lambda: Expr(self.p.pick([[const], [const, "(", ")"]]), [Wire(t)]))
        if depth > 0:
            ways += self._makers(t, depth)
        expr = self.p.pick(range(len(ways)))
        made = ways[expr]()
        if self.p.chance(0.05):
            made.tokens = ["(", *made.tokens, ")"]
        return made

    def cover(self, types: Sequence[WireType], depth: int) -> list[Expr]:
        """Expressions whose wires, in order, have ``types`` (multi-output boxes included)."""
        out: list[Expr] = []
        i = 0
        while i < len(types):
            multi = [b for b in self.local if len(b.outputs) > 1
                     and tuple(w.type for w in b.outputs) == tuple(types[i:i + len(b.outputs)])
                     and depth > 0 and self._can(b.inputs, depth)]
            if multi and self.p.chance(0.4):
                box = self.p.pick(multi)
                out.append(self.call(box, depth))
                i += len(box.outputs)
            else:
                out.append(self.one(types[i], depth))
                i += 1
        return out

    def call(self, box: Box, depth: int) -> Expr:
        args = self.cover(box.inputs, depth - 1)
        head = list(box.head)
        if box.level != ATOM or self.p.chance(0.05):
            head = ["(", *head, ")"]
        wires = _apply(box, [w for a in args for w in a.wires])
        return Expr([*head, "(", *_sep([a.tokens for a in args]), ")"], wires)

    def _var(self, name: str) -> Expr:
        return Expr([name], [self.env[name]])

    def _draw(self, source: str, t: WireType) -> Expr:
        _, outs = self.p.sources[source]
        names = []
        for out in outs:
            if out == t or self.p.chance(0.6):
                names.append(self.p.name("v"))
                self.env[names[-1]] = Wire(out)
            else:
                names.append("_")
        self.draws.append(Line([*_sep([[n] for n in names]), "<-", source]))
        return self._var(next(n for n, o in zip(names, outs, strict=True) if o == t and n != "_"))

    def let(self, depth: int) -> None:
        """``let`` a name (or several, for a multi-output box) to a new expression."""
        multi = [b for b in self.local if len(b.outputs) > 1 and self._can(b.inputs, depth + 1)]
        if multi and self.p.chance(0.5):
            expr = self.call(self.p.pick(multi), depth + 1)
        else:
            expr = self.one(self.p.pick(self.p.types), depth)
        names = [self.p.name("v") for _ in expr.wires]
        self.lets.append(Line(["let", *_sep([[n] for n in names]), "=", *expr.tokens]))
        self.env.update(zip(names, expr.wires, strict=True))


# ------------------------------------------------------------ statements
def _declarations(p: _Program) -> None:
    chosen = p.draw(st.lists(st.sampled_from(BASE_TYPES[1:]), max_size=4, unique=True))
    p.types = [REAL4, *chosen]
    for t in p.types:
        p.spellings[t] = [_spell(t)]
        if p.chance(0.5):
            alias = p.name("T")
            p.statements.append(Line(["type", alias, "=", *_spell(t)]))
            p.spellings[t].append([alias])
    for t in p.types:  # every type can be drawn, so every task can be written
        allowed = DISTRIBUTIONS.get(t.kind, ())
        if allowed and p.chance(0.7):
            name = p.name("r")
            p.sources[name] = ("random", (t,))
            p.statements.append(Line(["random", name, ":", "->", *p.type_tokens(t),
                                      "~", p.pick(allowed)]))
        else:
            _data_source(p, [t])
    for _ in range(p.draw(st.integers(0, 2))):
        _data_source(p, p.draw(st.lists(st.sampled_from(p.types), min_size=2, max_size=3)))
    if p.chance(0.4):
        name = p.name("c")
        p.consts[REAL4] = name
        p.statements.append(Line(["const", name, ":", "->", *p.type_tokens(REAL4), "=",
                                  p.number(p.pick([0, 1, 0.5, -2]))]))
    for _ in range(p.draw(st.integers(1, 4))):
        _box(p, "learner")
    if p.chance(0.3):
        _box(p, "fixed")


def _data_source(p: _Program, outs: list[WireType]) -> None:
    name = p.name("d")
    p.sources[name] = ("data", tuple(outs))
    p.statements.append(Line(["data", name, ":", "->", *_sep([p.type_tokens(t) for t in outs])]))


def _box(p: _Program, kind: str, inputs: Sequence[WireType] | None = None,
         outputs: Sequence[WireType] | None = None) -> Box:
    name = p.name("f" if kind == "learner" else "k")
    ins = list(inputs) if inputs is not None else p.draw(
        st.lists(st.sampled_from(p.types), min_size=1, max_size=3))
    outs = list(outputs) if outputs is not None else p.draw(
        st.lists(st.sampled_from(p.types), min_size=1, max_size=2))
    own = frozenset({name}) if kind == "learner" else frozenset()
    every = frozenset(range(len(ins)))
    box = Box((name,), tuple(ins), tuple(Wire(t, own, every) for t in outs),
              learner=name if kind == "learner" else None)
    p.boxes[name] = box
    if kind == "learner":
        p.learners.append(name)
    p.statements.append(Line([kind, name, ":", *_sep([p.type_tokens(t) for t in ins]), "->",
                              *_sep([p.type_tokens(t) for t in outs])]))
    return box


def _refinement(p: _Program) -> None:
    """``refine f(x, ...) = g(...)``, with ``g`` a new learner of ``f``'s output types.

    Only a learner that no refinement uses is refined, so each refinement's learners stay
    what they were when it was written.
    """
    used = frozenset().union(*p.refined.values())
    targets = [n for n in p.learners if n not in p.refined and n not in used]
    if not targets:
        return
    target = p.boxes[p.pick(targets)]
    name = target.head[0]
    params = {p.name("x"): Wire(t, frozenset(), frozenset({i}))
              for i, t in enumerate(target.inputs)}
    plain = {n: b for n, b in p.boxes.items() if b.learner and n not in p.refined and n != name}
    inner = _box(p, "learner", p.draw(st.lists(st.sampled_from(target.inputs), min_size=1,
                                               max_size=2)), [w.type for w in target.outputs])
    saved, p.boxes = p.boxes, {**plain, inner.head[0]: inner}
    scope = _Scope(p, params, task=False)
    body = scope.call(inner, p.draw(st.integers(1, 2)))
    p.boxes = saved
    typed = [[n, ":", *p.type_tokens(w.type)] if p.chance(0.5) else [n] for n, w in params.items()]
    p.statements.append(Line(["refine", name, "(", *_sep(typed), ")", "=", *body.tokens]))
    p.boxes[name] = Box((name,), target.inputs, tuple(body.wires))
    p.refined[name] = frozenset().union(*(w.learners for w in body.wires))


def _pointed_def(p: _Program) -> None:
    top = p.boxes[p.pick(sorted(p.boxes))]
    types = list(top.inputs) + ([p.pick(p.types)] if p.chance(0.3) else [])
    params = {p.name("x"): Wire(t, frozenset(), frozenset({i})) for i, t in enumerate(types)}
    scope = _Scope(p, params, task=False)
    body = [scope.call(top, p.draw(st.integers(1, 2)))]
    if p.chance(0.3):
        body.append(scope.one(p.pick(types), 1))
    name = p.name("h")
    typed = [[n, ":", *p.type_tokens(w.type)] for n, w in params.items()]
    p.statements.append(Line(["def", name, "(", *_sep(typed), ")", "=",
                              *_sep([e.tokens for e in body])]))
    p.boxes[name] = Box((name,), tuple(types), tuple(w for e in body for w in e.wires))


# point-free: atoms, `@` and `>>`
def _atoms_from(p: _Program, types: Sequence[WireType]) -> list[Box]:
    """Point-free atoms whose inputs are a prefix of ``types``."""
    t = types[0]
    spelled = p.type_tokens(t)
    atoms = [
        Box(("id", "[", *spelled, "]"), (t,), (Wire(t, deps=frozenset({0})),)),
        Box(("copy", "[", *spelled, "]"), (t,), (Wire(t, deps=frozenset({0})),) * 2),
        Box(("discard", "[", *spelled, "]"), (t,), ()),
    ]
    if len(types) > 1:
        u = types[1]
        atoms.append(Box(("swap", "[", *spelled, ",", *p.type_tokens(u), "]"), (t, u),
                         (Wire(u, deps=frozenset({1})), Wire(t, deps=frozenset({0})))))
    if t.kind == "Real":
        atoms.append(Box(("neg", "[", *spelled, "]"), (t,), (Wire(t, deps=frozenset({0})),)))
        if len(types) > 1 and types[1] == t:
            atoms.append(Box(("add", "[", *spelled, "]"), (t, t),
                             (Wire(t, deps=frozenset({0, 1})),)))
    for name, box in p.boxes.items():
        if box.outputs and tuple(box.inputs) == tuple(types[: len(box.inputs)]):
            atoms.append(Box((name,), box.inputs, box.outputs))
    return atoms


def _par(p: _Program, parts: list[Box]) -> Box:
    if len(parts) == 1:
        return parts[0]
    head: list[str] = []
    outputs: list[Wire] = []
    inputs: list[WireType] = []
    for part in parts:
        tokens = list(part.head)
        if part.level == SEQ or (part.level == PAR and p.chance(0.5)):
            tokens = ["(", *tokens, ")"]
        head += (["@"] if head else []) + tokens
        shift = len(inputs)
        outputs += [Wire(w.type, w.learners, frozenset(i + shift for i in w.deps))
                    for w in part.outputs]
        inputs += part.inputs
    return Box(tuple(head), tuple(inputs), tuple(outputs), PAR)


def _cover_pf(p: _Program, types: Sequence[WireType]) -> Box:
    """A parallel composition of atoms taking exactly ``types``."""
    parts = []
    i = 0
    while i < len(types):
        atom = p.pick(_atoms_from(p, types[i:]))
        parts.append(atom)
        i += len(atom.inputs)
    return _par(p, parts)


def _seq(p: _Program, first: Box, then: Box) -> Box:
    left = ["(", *first.head, ")"] if first.level == SEQ and p.chance(0.5) else list(first.head)
    right = ["(", *then.head, ")"] if then.level == SEQ else list(then.head)
    outputs = []
    for w in then.outputs:
        feeding = [first.outputs[i] for i in w.deps]
        outputs.append(Wire(w.type, w.learners.union(*(f.learners for f in feeding)),
                            frozenset().union(*(f.deps for f in feeding))))
    return Box((*left, ">>", *right), first.inputs, tuple(outputs), SEQ)


def _point_free_def(p: _Program) -> None:
    start = p.pick(sorted(n for n, b in p.boxes.items() if b.outputs))
    diagram = p.boxes[start]
    if p.chance(0.5):
        diagram = _par(p, [diagram, _cover_pf(p, [p.pick(p.types)])])
    for _ in range(p.draw(st.integers(0, 2))):
        if not diagram.outputs:
            break
        diagram = _seq(p, diagram, _cover_pf(p, [w.type for w in diagram.outputs]))
    if not diagram.outputs:
        return
    name = p.name("h")
    p.statements.append(Line(["def", name, "=", *diagram.head]))
    p.boxes[name] = Box((name,), diagram.inputs, diagram.outputs)


def _task(p: _Program) -> None:
    scope = _Scope(p, {}, task=True)
    depth = p.draw(st.integers(1, 3))
    for _ in range(p.draw(st.integers(0, 2))):
        scope.let(depth - 1)
    trained = [b for b in p.boxes.values() if b.learner or b.head[0] in p.refined]
    top = p.pick(sorted(trained, key=lambda b: b.head))
    lhs = [scope.call(top, depth)]
    types = [w.type for w in lhs[0].wires]
    if p.chance(0.3):
        extra = scope.cover([p.pick(p.types)], depth - 1)
        lhs += extra
        types += [w.type for e in extra for w in e.wires]
    rhs = scope.cover(types, depth)
    wires = [w for e in (*lhs, *rhs) for w in e.wires]
    present = frozenset().union(*(w.learners for w in wires))
    clauses: list[list[str]] = []
    if p.chance(0.7):
        named = [n for n in p.learners if n in present and n not in p.refined]
        named += [n for n, inner in p.refined.items() if inner and inner <= present]
        chosen = p.draw(st.lists(st.sampled_from(sorted(named)), min_size=1, max_size=3,
                                 unique=True))
        clauses.append(["trains", *_sep([[n] for n in chosen])])
    # `slope` (the gradient penalty) needs its lhs to be a critic applied to one drawn or
    # mixed input (`slope-side`): not something an arbitrary equation is.
    allowed = set.intersection(*(set(DIVERGENCES[t.kind]) for t in types)) - {"slope"}
    if allowed and p.chance(0.5):
        clauses.append(["by", p.pick(sorted(allowed))])
    inline = [c for c in clauses if p.chance(0.7)]
    apart = [Line(c) for c in clauses if c not in inline]
    equation = Line([*_sep([e.tokens for e in lhs]), "=", *_sep([e.tokens for e in rhs]),
                     *(t for c in inline for t in c)])
    name = p.name("t")
    p.tasks.append(name)
    items = [*scope.draws, *scope.lets, *apart[:1], equation, *apart[1:]]
    p.statements.append(Block(["task", name, ":"], items))


def _objectives(p: _Program) -> list[str]:
    names: list[str] = []
    for _ in range(p.draw(st.integers(0, 2))):
        terms = p.draw(st.lists(st.sampled_from(p.tasks + names), min_size=1, max_size=4))
        tokens: list[str] = []
        for term in terms:
            weight = p.pick([None, 1, 10, 0.5, 1e-3, 2.5e-07])
            tokens += (["+"] if tokens else []) + ([] if weight is None else
                                                   [p.number(weight), "*"]) + [term]
        names.append(p.name("o"))
        p.statements.append(Line(["objective", names[-1], "=", *tokens]))
    return names


def _implementation(p: _Program, objectives: list[str]) -> None:
    for name in p.learners:
        if name not in p.refined and p.chance(0.3):
            p.statements.append(Line(["impl", name, "=", "nets", ".", "mlp", "(", "width", "=",
                                      p.number(32), ",", "depth", ":", p.number(2), ")"]))
    if not p.chance(0.5):
        return
    items = [Line(["data", n, "=", "datasets", ".", "synthetic", "(", '"train"', ",",
                   "size", "=", p.number(64), ")"])
             for n, (kind, _) in p.sources.items() if kind == "data"]
    items += [Line(["batch", p.number(16)]), Line(["optimizer", "adam", "(", "lr", "=",
                                                   p.number(1e-3), ")"]),
              Line(["flags", "[", "true", ",", "false", ",", '"a\\"b é"', "]"])]
    p.statements.append(Block(["train", p.pick(p.tasks + objectives), ":"], items))


# -------------------------------------------------------------- layout
COMMENT_CHARS = string.ascii_letters + string.digits + " #\"'\\é中\u2028\t"
WORD = set(string.ascii_letters + string.digits + "_")


class _Writer:
    """Writes statements as text with random (valid) spacing, blank lines and comments.

    Layout choices come from one seeded generator: drawing each through Hypothesis
    would cost more than everything else a test does.
    """

    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.parts: list[str] = []

    def chance(self, p: float) -> bool:
        return self.random.random() < p

    def pick(self, choices: Sequence[str]) -> str:
        return self.random.choice(choices)

    def comment(self) -> str:
        return "#" + "".join(self.random.choices(COMMENT_CHARS, k=self.random.randrange(12)))

    def statements(self, items: Sequence[Line | Block]) -> str:
        if self.chance(0.3):
            self.parts.append(self.comment() + "\n")
        for item in items:
            self.gap("")
            if isinstance(item, Block):
                self.line(item.header, "")
                indent = self.pick([" ", "  ", "    ", "\t", "        "])
                for inner in item.items:
                    if self.chance(0.1):
                        self.gap(indent)
                    self.line(inner.tokens, indent)
            else:
                self.line(item.tokens, "")
        if self.chance(0.3):
            self.gap(self.pick(["", "    "]))
        return "".join(self.parts)

    def gap(self, indent: str) -> None:
        """Blank lines (maybe holding spaces) and own-line comments."""
        for _ in range(self.random.randrange(3)):
            if self.chance(0.4):
                self.parts.append(self.pick([indent, "", "  "]) + self.comment())
            self.parts.append(self.pick(["", " ", "\t"]) + "\n")

    def line(self, tokens: Sequence[str], indent: str) -> None:
        out = [indent]
        depth = 0
        for i, token in enumerate(tokens):
            if i:
                out.append(self.space(tokens[i - 1], token, depth))
            out.append(token)
            depth += (token in ("(", "[")) - (token in (")", "]"))
        if self.chance(0.2):
            out.append(self.pick([" ", "  ", "\t"]) + self.comment())
        self.parts.append("".join(out) + "\n")

    def space(self, before: str, after: str, depth: int) -> str:
        needed = before[-1] in WORD and (after[0] in WORD or after[0] == "-")
        if depth > 0 and before in ",([" and self.chance(0.05):
            comment = self.pick(["", "  " + self.comment()])
            return comment + "\n" + self.pick(["", "  ", "\t\t"])
        if self.chance(0.02):
            return " \\\n" + self.pick(["", "   "])
        return self.pick([" ", "  "] if needed else ["", " ", " ", "  "])


@st.composite
def programs(draw: Draw) -> str:
    """The text of a random well-typed program."""
    p = _Program(draw)
    _declarations(p)
    for _ in range(draw(st.integers(0, 2))):
        _refinement(p)
    for _ in range(draw(st.integers(0, 3))):
        draw(st.sampled_from([_pointed_def, _point_free_def]))(p)
    for _ in range(draw(st.integers(1, 4))):
        _task(p)
    _implementation(p, _objectives(p))
    return _Writer(draw(st.integers(0, 2**32))).statements(p.statements)


@st.composite
def claimed_programs(draw: Draw) -> str:
    """The text of a random program with claims: some name a task (``claim c: t by u``),
    some restate a task's equation (``claim c: f(x) = y``)."""
    p = _Program(draw)
    _declarations(p)
    for _ in range(draw(st.integers(1, 3))):
        _task(p)
    equations = [_claim_equation(b) for b in p.statements if isinstance(b, Block)]
    for _ in range(draw(st.integers(1, 3))):
        goal = p.pick([[p.pick(p.tasks)], *[e for e in equations if e]])
        using = ([] if p.chance(0.4) else
                 ["by", *_sep([[n] for n in draw(st.lists(st.sampled_from(p.tasks), min_size=1,
                                                          max_size=3))])])
        p.statements.append(Line(["claim", p.name("c"), ":", *goal, *using]))
    return _Writer(draw(st.integers(0, 2**32))).statements(p.statements)


def _claim_equation(task: Block) -> list[str] | None:
    """A task's equation without its clauses, when the task binds nothing by ``let``."""
    lines = [i for i in task.items if isinstance(i, Line)]
    if any(line.tokens[:1] == ["let"] for line in lines):
        return None
    equation = next(line.tokens for line in lines if "=" in line.tokens and "<-" not in line.tokens)
    cut = [i for i, t in enumerate(equation) if t in ("trains", "by")]
    return equation[: cut[0]] if cut else equation


# ---------------------------------------------------------- corruption
TOKENS = (
    "task", "learner", "data", "random", "const", "def", "refine", "let", "trains", "by",
    "objective", "pattern", "use", "impl", "train", "type", "import", "from", "as", "fixed",
    "->", "<-", ">>", "@", "=", ":", ",", ".", "...", "(", ")", "[", "]", "~", "+", "*",
    "x", "_", "Real", "Class", "Tokens", "Gaussian", "0", "-1", "1e-3", "2.", '"s"', '"\\x"',
    "\n", "\n    ", "\n\t", "    ", "# c", "\\\n", "true", "copy[", "id", "swap", "mse",
)


TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@st.composite
def corruptions(draw: Draw, text: str) -> str:
    """``text`` with tokens or characters deleted, inserted, moved or cut off."""
    pieces = TOKEN.findall(text) if draw(st.booleans()) else list(text)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(pieces)))
        end = draw(st.integers(at, min(len(pieces), at + 3)))
        action = draw(st.sampled_from(["delete", "insert", "token", "move", "cut", "unicode"]))
        if action == "delete":
            del pieces[at:end]
        elif action == "insert":
            pieces[at:at] = [draw(st.text(max_size=4))]
        elif action == "token":
            pieces[at:at] = [draw(st.sampled_from(TOKENS))]
        elif action == "unicode":
            pieces[at:end] = [draw(st.characters(min_codepoint=0x80))]
        elif action == "move":
            moved = pieces[at:end]
            del pieces[at:end]
            there = draw(st.integers(0, len(pieces)))
            pieces[there:there] = moved
        else:
            del pieces[at:]
    return "".join(pieces)


@st.composite
def byte_corruptions(draw: Draw, text: str) -> bytes:
    """``text`` as UTF-8 with bytes deleted, inserted or flipped: often not UTF-8 any more."""
    data = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "flip"]))
        if action == "delete":
            del data[at:at + draw(st.integers(1, 3))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif at < len(data):
            data[at] ^= draw(st.integers(1, 255))
    return bytes(data)
