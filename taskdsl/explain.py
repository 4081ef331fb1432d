"""``taskdsl explain``: a file's boxes, and each task as the loss formula it lowers to.

The formulas are read back from the IR, so they show what will be trained
(after patterns and refinement), in the notation of the ML literature:
``10 · E[x~mnist] MSE(put(x, get(x)), x)   trains: put``.  A box with several
outputs is called once and its outputs named, as the file would write it:
``E[x~d] let (h1, h2) = h(x) in [MSE(h1, x) + MSE(h2, x)]``.  Each pattern the
file defines is explained as read generically, its type parameters as types:
its parameters' signatures, then its tasks.

The newer constructs read as their textbook formulas: ``kl[T]`` as ``KL_T(a, b)``
(KL between the sides' class distributions softened by T; the usual T² is the
objective's weight, written there), ``nll`` as ``-log N(y; f(x))`` (a Gaussian
left side) or ``-log Bern(x; f(z))`` (a Binary one), ``hinge`` on scores as
``max(0, 1 - y · s)``, ``infonce[T]`` as ``InfoNCE_T(a, b)``, ``slope`` as the gradient
penalty ``(‖∇critic(x̂)‖ - 1)²``, ``wass`` as the critic's score itself (``critic(x)``), so
that an objective reads ``E[critic(fake)] - E[critic(real)]``, a subtracted term
as ``- real``, a number in an equation as the number (``1``; ``N(0, I)`` opposite
a Gaussian), ``stop(x)`` as ``sg(x)``, and a pattern's value parameters by name
(``scale[sigma]``, ``D_cycle(a, b)`` for ``by cycle``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from taskdsl.builtins import DIVERGENCE_PARAMS
from taskdsl.ir import Box, BoxKind, Declaration, Diagram, Equation, Objective, Program

CALLS = (BoxKind.LEARNER, BoxKind.FIXED, BoxKind.BUILTIN)
"""The kinds of box written as a call; the others are variables, constants or wiring."""

DIVERGENCE_NAMES = {"mse": "MSE", "l1": "L1", "huber": "Huber", "ce": "CE", "kl": "KL",
                    "bce": "BCE", "auto": "D", "nll": "NLL", "hinge": "Hinge", "wass": "W"}

BUILTIN_NAMES = {"stop": "sg"}
"""Builtins written as the literature writes them: ``stop(x)`` is the stop-gradient ``sg(x)``."""


@dataclass(frozen=True)
class Notation:
    """How formulas are spelled: plain text or LaTeX."""

    latex: bool = False

    def name(self, text: str) -> str:
        return "\\mathrm{" + self.var(text) + "}" if self.latex else text

    def var(self, text: str) -> str:
        return text.replace("_", "\\_") if self.latex else text

    def times(self) -> str:
        return " \\cdot " if self.latex else " · "

    def expectation(self, draws: list[str]) -> str:
        if not draws:
            return ""
        if self.latex:
            return "\\mathbb{E}_{" + ",\\, ".join(draws) + "}\\,"
        return f"E[{'; '.join(draws)}] "

    def sample(self, names: str, source: str) -> str:
        return f"{names} \\sim {self.name(source)}" if self.latex else f"{names}~{source}"

    def sub(self, head: str, index: str) -> str:
        """``KL_2``: a name with a subscript."""
        return f"{head}_{{{index}}}" if self.latex else f"{head}_{index}"

    def neg_log(self, family: str, data: str, params: str) -> str:
        """``-log N(y; m)``: a negative log-likelihood of ``data`` under a distribution."""
        if self.latex:
            dist = {"N": "\\mathcal{N}", "Bern": "\\mathrm{Bern}"}[family]
            return f"-\\log {dist}({data};\\, {params})"
        return f"-log {family}({data}; {params})"

    def slope(self, critic: str, target: str) -> str:
        """``(‖∇critic(x̂)‖ - 1)²``: the gradient penalty, the slope of ``critic`` at its input."""
        if self.latex:
            return f"(\\lVert \\nabla {critic} \\rVert - {target})^2"
        return f"(‖∇{critic}‖ - {target})²"

    def hinge(self, margin: str) -> str:
        return f"\\max(0, {margin})" if self.latex else f"max(0, {margin})"

    def let(self, names: str, call: str) -> str:
        if self.latex:
            return f"\\mathrm{{let}}\\ {names} = {call}\\ \\mathrm{{in}}\\ "
        return f"let {names} = {call} in "


def term(diagram: Diagram, wire: int, names: Mapping[tuple[int, int], str], n: Notation) -> str:
    """The expression computing ``wire``, written as nested applications.

    ``names`` name wires by (box id, output index): the variables a draw binds,
    and those a ``let`` binds to a multi-output box's outputs (:func:`lets`).
    """
    box = diagram.producers.get(wire)
    if box is None:
        w = diagram.wires[wire]
        return n.var(w.name or f"w{wire}")
    if box.kind is BoxKind.COPY:
        return term(diagram, box.inputs[0], names, n)
    index = box.outputs.index(wire)
    if box.kind in (BoxKind.DATA, BoxKind.RANDOM):
        return n.var(names.get((box.id, index), "_"))
    if box.kind is BoxKind.CONST:
        return constant(box, diagram.wires[wire].type.kind, n)
    if (box.id, index) in names:
        return n.var(names[box.id, index])
    call = _call(diagram, box, names, n)
    return f"{call}[{index}]" if len(box.outputs) > 1 else call


def _call(diagram: Diagram, box: Box, names: Mapping[tuple[int, int], str], n: Notation) -> str:
    args = ", ".join(term(diagram, w, names, n) for w in box.inputs)
    return f"{_head(box, n)}({args})"


def lets(diagrams: Iterable[Diagram], names: dict[tuple[int, int], str], n: Notation) -> str:
    """``let (h1, h2) = h(x) in `` for each box with several outputs, inner calls first.

    Each output gets the name the file bound it to, else the box's name and its
    position (``h1``, ``h2``), or ``_`` when no diagram uses it; ``names`` gains
    them, so that :func:`term` writes the call once and the names where it is used.
    A box on both sides (a ``let`` that both use) is bound once.
    """
    diagrams = list(diagrams)
    taken = set(names.values()) | {w.name for d in diagrams for w in d.wires.values() if w.name}
    used = {w for d in diagrams for w in d.outputs} | {
        w for d in diagrams for box in d.boxes if box.kind is not BoxKind.DISCARD
        for w in box.inputs}
    bindings: list[str] = []
    done: set[int] = set()
    for diagram in diagrams:
        for box in _in_order(diagram):
            if len(box.outputs) < 2 or box.kind not in CALLS or box.id in done:
                continue
            done.add(box.id)
            call = _call(diagram, box, names, n)  # before its outputs are named
            shown = []
            for i, w in enumerate(box.outputs):
                if w not in used:
                    shown.append(n.var("_"))
                    continue
                name = diagram.wires[w].name or _fresh(f"{box.name}{i + 1}", taken)
                taken.add(name)
                names[box.id, i] = name
                shown.append(n.var(name))
            bindings.append(n.let(f"({', '.join(shown)})", call))
    return "".join(bindings)


def _in_order(diagram: Diagram) -> list[Box]:
    """The boxes, each after the boxes it reads from."""
    producers = diagram.producers
    seen: dict[int, Box] = {}

    def visit(box: Box) -> None:
        if box.id in seen:
            return
        for w in box.inputs:
            if w in producers:
                visit(producers[w])
        seen[box.id] = box

    for box in diagram.boxes:
        visit(box)
    return list(seen.values())


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "'"
    return name


def literal(box: Box) -> int | float | None:
    """The number a constant box stands for when the file wrote it as a number in an
    equation (named ``1:Real[1]``, with its type), else None (a declared constant)."""
    written, typed, _ = box.name.partition(":")
    if box.kind is not BoxKind.CONST or not typed or box.value is None:
        return None
    try:
        float(written)
    except ValueError:
        return None
    return box.value


def constant(box: Box, kind: str, n: Notation) -> str:
    """A constant as written: a declared one by name, a number as the number, and a number
    opposite a Gaussian as the distribution it means, ``N(0, I)``."""
    value = literal(box)
    if value is None:
        return n.name(box.name)
    if kind == "Gaussian":
        return f"\\mathcal{{N}}({_number(value)}, I)" if n.latex else f"N({_number(value)}, I)"
    return _number(value)


def label(box: Box) -> str:
    """A box's name as formulas and pictures show it: ``sg`` for ``stop``, a number for a
    number, and a builtin's brackets, each pattern number parameter by its name."""
    if literal(box) is not None:
        return _number(box.value)  # type: ignore[arg-type]
    name = BUILTIN_NAMES.get(box.name, box.name) if box.kind is BoxKind.BUILTIN else box.name
    params = box.params if box.kind is BoxKind.BUILTIN else ()
    if not params:
        return name
    names = box.param_names or (None,) * len(params)
    shown = [given or _exact(p) for p, given in zip(params, names, strict=False)]
    return f"{name}[{', '.join(shown)}]"


def _head(box: Box, n: Notation) -> str:
    text = label(box)
    head, bracket, rest = text.partition("[")
    return n.name(head) + (bracket + n.var(rest) if bracket else "")


def compare(eq: Equation, index: int, lhs: str, rhs: str, n: Notation) -> str:
    """The ``index``-th output's divergence between the two sides, as the literature writes
    it (see the module docstring)."""
    div = eq.divergences[index]
    named = eq.divergence_names[index] if index < len(eq.divergence_names) else None
    if named is not None:  # a pattern's divergence parameter, read generically
        return f"{n.sub(n.name('D'), n.name(named))}({lhs}, {rhs})"
    left = eq.lhs.wires[eq.lhs.outputs[index]].type.kind
    params = eq.params_of(index)
    if div == "kl" and params:
        return f"{n.sub(n.name('KL'), _number(params[0]))}({lhs}, {rhs})"
    if div == "nll" and left in ("Gaussian", "Binary"):
        return n.neg_log("N" if left == "Gaussian" else "Bern", rhs, lhs)
    target = _literal_at(eq.rhs, eq.rhs.outputs[index])
    if div == "hinge" and left == "Real":
        if target == 1:
            return n.hinge(f"1 - {lhs}")
        if target == -1:
            return n.hinge(f"1 + {lhs}")
        return n.hinge(f"1 - {rhs}{n.times()}{lhs}")
    if div == "wass":
        return lhs if target == 0 else f"({lhs} - {rhs})"
    if div == "infonce":  # the temperature as a subscript, its default when none is written
        t = params[0] if params else DIVERGENCE_PARAMS["infonce"][1]
        return f"{n.sub(n.name('InfoNCE'), _number(t))}({lhs}, {rhs})"
    if div == "slope":
        return n.slope(lhs, rhs)
    return f"{n.name(DIVERGENCE_NAMES.get(div, div))}({lhs}, {rhs})"


def _literal_at(diagram: Diagram, wire: int) -> int | float | None:
    box = diagram.producers.get(wire)
    return None if box is None else literal(box)


def equation_formula(eq: Equation, n: Notation, weight: float = 1.0) -> str:
    names = {(d.box, i): name for d in eq.draws for i, name in enumerate(d.names)}
    random = {b.id for b in (*eq.lhs.boxes, *eq.rhs.boxes)
              if b.kind in (BoxKind.DATA, BoxKind.RANDOM)}  # constants are not sampled
    draws = []
    for d in eq.draws:
        shown = [x for x in d.names if x != "_"]
        if d.box in random and shown:
            label = shown[0] if len(shown) == 1 else f"({', '.join(shown)})"
            draws.append(n.sample(n.var(label), d.source))
    bound = lets((eq.lhs, eq.rhs), names, n)
    parts = []
    for i in range(len(eq.divergences)):
        lhs = term(eq.lhs, eq.lhs.outputs[i], names, n)
        rhs = term(eq.rhs, eq.rhs.outputs[i], names, n)
        parts.append(compare(eq, i, lhs, rhs, n))
    body = parts[0] if parts else ""
    for part in parts[1:]:  # `a - log N(..)`, not `a + -log N(..)`
        body += f" - {part[1:]}" if part.startswith("-") else f" + {part}"
    if len(parts) > 1:
        body = f"[{body}]"
    prefix = "" if weight == 1 else f"{_number(weight)}{n.times()}"
    return f"{prefix}{n.expectation(draws)}{bound}{body}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _exact(x: float) -> str:
    """A number in brackets as written, to its last digit (``drop[0.123456789]``)."""
    return str(int(x)) if float(x).is_integer() else str(x)


def signed(items: Iterable[tuple[float, str]], joint: str, n: Notation,
           times: str | None = None) -> str:
    """Weighted terms joined by their signs: ``a - 2 · b``, and ``- a`` first, never
    ``+ -1 · a``; ``times`` between a weight and its term (else the notation's)."""
    out = ""
    times = n.times() if times is None else times
    for i, (weight, text) in enumerate(items):
        size = abs(weight)
        shown = (f"{_number(size)}{times}" if size != 1 else "") + text
        if i == 0:
            out = f"- {shown}" if weight < 0 else shown
        else:
            out += f"{joint}{'-' if weight < 0 else '+'} {shown}"
    return out


def objective_formula(obj: Objective, n: Notation) -> str:
    terms = signed(((t.weight, n.name(t.equation.name)) for t in obj.terms), " ", n)
    return f"{n.name(obj.name)} = {terms}"


def pattern_params(generic: Program, outer: Program) -> dict[str, Declaration]:
    """A pattern's own parameters: the generic reading's boxes less the file's, which it sees."""
    return {name: decl for name, decl in generic.declarations.items()
            if outer.declarations.get(name) != decl}


def pattern_heading(name: str, generic: Program, outer: Program) -> str:
    """``vae[X, d: dim](encoder, decoder, data, prior)``: a pattern read generically, with the
    type parameters its parameters' signatures use, in order of first use."""
    own = pattern_params(generic, outer)
    params: dict[str, str] = {}
    for decl in own.values():
        for t in (*decl.signature.inputs, *decl.signature.outputs):
            if t.kind.startswith("$"):
                params.setdefault(t.kind[1:], t.kind[1:])
            for d in t.shape:
                if isinstance(d, str):
                    params.setdefault(d, f"{d}: dim")
    types = f"[{', '.join(params.values())}]" if params else ""
    values = [v.name + f": {v.kind}" + ("" if v.default is None else f" = {_number_or(v.default)}")
              for v in generic.values.values()]
    tail = f"; {', '.join(values)}" if values else ""
    return f"{name}{types}({', '.join(own)}{tail})"


def _number_or(value: int | float | str) -> str:
    return value if isinstance(value, str) else _number(value)


def explain(program: Program, latex: bool = False) -> str:
    """The whole explanation as text (Rich renders the tables in the CLI)."""
    n = Notation(latex)
    boxes = _boxes(program.declarations, program.refinements)
    for name, diagram in program.refinements.items():
        boxes.append(f"  refine   {name} = {_open_formula(diagram, n)}")
    for name, diagram in program.defs.items():
        boxes.append(f"  def      {name} = {_open_formula(diagram, n)}")
    tasks = [f"  {name}: {equation_formula(eq, n)}   trains: {', '.join(eq.trains)}"
             for name, eq in program.tasks.items()]
    lines: list[str] = []
    if boxes or tasks or not program.generic:  # a file of patterns alone shows just those
        lines = ["Boxes:", *boxes, "", "Tasks:", *tasks]
    for obj in program.objectives.values():
        lines.append("")
        lines.append(f"Objective {objective_formula(obj, n)}:")
        lines.append("  loss = " + signed(
            ((t.weight, f"{equation_formula(t.equation, n)}   trains: "
                        f"{', '.join(t.equation.trains)}") for t in obj.terms),
            "\n       ", n))
    for name, generic in program.generic.items():
        if lines:
            lines.append("")
        lines.append(f"Pattern {pattern_heading(name, generic, program)}:")
        lines.extend(_boxes(pattern_params(generic, program)))
        for task, eq in generic.tasks.items():
            lines.append(f"  {task}: {equation_formula(eq, n)}   trains: {', '.join(eq.trains)}")
    return "\n".join(lines)


def _boxes(declarations: Mapping[str, Declaration],
           refinements: Mapping[str, Diagram] | None = None) -> list[str]:
    """One line per declared box: kind, name, signature, and a source's distribution."""
    lines = []
    width = max((len(name) for name in declarations), default=0)
    for name, decl in declarations.items():
        extra = ""
        if decl.kind is BoxKind.RANDOM:
            extra = f" ~ {decl.distribution}"
        elif decl.kind is BoxKind.CONST:
            extra = f" = {decl.value}"
        elif decl.follows is not None:  # an EMA learner: never trained by gradient
            extra = f" = ema({decl.follows[0]}, {_number(decl.follows[1])})"
        elif decl.tied_to is not None:  # another name for a learner's own parameters
            extra = f" = tied({decl.tied_to})"
        refined = "  (refined)" if name in (refinements or {}) else ""
        lines.append(f"  {decl.kind.value:8} {name:{width}} : {decl.signature}{extra}{refined}")
    return lines


def _open_formula(diagram: Diagram, n: Notation) -> str:
    params = ", ".join(n.var(diagram.wires[w].name or f"x{i}") for i, w in enumerate(diagram.inputs))
    names: dict[tuple[int, int], str] = {}
    bound = lets([diagram], names, n)
    body = ", ".join(term(diagram, w, names, n) for w in diagram.outputs)
    return f"λ({params}). {bound}{body}"
