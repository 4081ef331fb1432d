"""``taskdsl explain``: a file's boxes, and each task as the loss formula it lowers to.

The formulas are read back from the IR, so they show what will be trained
(after patterns and refinement), in the notation of the ML literature:
``10 · E[x~mnist] MSE(put(x, get(x)), x)   trains: put``.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskdsl.ir import Box, BoxKind, Diagram, Equation, Objective, Program

DIVERGENCE_NAMES = {"mse": "MSE", "l1": "L1", "huber": "Huber", "ce": "CE", "kl": "KL",
                    "bce": "BCE", "auto": "D"}


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


def term(diagram: Diagram, wire: int, names: dict[tuple[int, int], str], n: Notation) -> str:
    """The expression computing ``wire``, written as nested applications."""
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
        return n.name(box.name)
    head = _head(box, n)
    args = ", ".join(term(diagram, w, names, n) for w in box.inputs)
    call = f"{head}({args})"
    return f"{call}[{index}]" if len(box.outputs) > 1 else call


def _head(box: Box, n: Notation) -> str:
    params = box.params if box.kind is BoxKind.BUILTIN else ()
    suffix = f"[{', '.join(map(str, params))}]" if params else ""
    return n.name(box.name) + suffix


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
    parts = []
    for i, div in enumerate(eq.divergences):
        lhs = term(eq.lhs, eq.lhs.outputs[i], names, n)
        rhs = term(eq.rhs, eq.rhs.outputs[i], names, n)
        parts.append(f"{n.name(DIVERGENCE_NAMES.get(div, div))}({lhs}, {rhs})")
    body = " + ".join(parts)
    if len(parts) > 1:
        body = f"[{body}]"
    prefix = "" if weight == 1 else f"{_number(weight)}{n.times()}"
    return f"{prefix}{n.expectation(draws)}{body}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def objective_formula(obj: Objective, n: Notation) -> str:
    terms = [(f"{_number(t.weight)}{n.times()}" if t.weight != 1 else "") + n.name(t.equation.name)
             for t in obj.terms]
    return f"{n.name(obj.name)} = {' + '.join(terms)}"


def explain(program: Program, latex: bool = False) -> str:
    """The whole explanation as text (Rich renders the tables in the CLI)."""
    n = Notation(latex)
    lines = ["Boxes:"]
    width = max((len(name) for name in program.declarations), default=0)
    for name, decl in program.declarations.items():
        extra = ""
        if decl.kind is BoxKind.RANDOM:
            extra = f" ~ {decl.distribution}"
        elif decl.kind is BoxKind.CONST:
            extra = f" = {decl.value}"
        refined = "  (refined)" if name in program.refinements else ""
        lines.append(f"  {decl.kind.value:8} {name:{width}} : {decl.signature}{extra}{refined}")
    for name, diagram in program.refinements.items():
        lines.append(f"  refine   {name} = {_open_formula(diagram, n)}")
    for name, diagram in program.defs.items():
        lines.append(f"  def      {name} = {_open_formula(diagram, n)}")
    lines.append("")
    lines.append("Tasks:")
    for name, eq in program.tasks.items():
        lines.append(f"  {name}: {equation_formula(eq, n)}   trains: {', '.join(eq.trains)}")
    for obj in program.objectives.values():
        lines.append("")
        lines.append(f"Objective {objective_formula(obj, n)}:")
        lines.append("  loss = " + ("\n       + ").join(
            f"{equation_formula(t.equation, n, t.weight)}   trains: {', '.join(t.equation.trains)}"
            for t in obj.terms))
    return "\n".join(lines)


def _open_formula(diagram: Diagram, n: Notation) -> str:
    params = ", ".join(n.var(diagram.wires[w].name or f"x{i}") for i, w in enumerate(diagram.inputs))
    body = ", ".join(term(diagram, w, {}, n) for w in diagram.outputs)
    return f"λ({params}). {body}"
