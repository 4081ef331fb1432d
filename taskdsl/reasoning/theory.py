"""A file's tasks as rules: the reading of docs/reasoning.md, applied.

A task read pointwise is a rule for all values of its draws; a task that
holds only in distribution is set aside (never a rewrite rule); refinements
are definitional rules; the builtins met bring their laws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from taskdsl.ir import BoxKind, Equation, Program
from taskdsl.reasoning.laws import laws
from taskdsl.reasoning.terms import App, Domain, Reader, Rule, Symbol, Var, distributional, type_key


@dataclass
class Theory:
    """The rules drawn from some of a program's tasks."""

    program: Program
    reader: Reader
    tasks: dict[str, list[Rule]] = field(default_factory=dict)
    distributional: list[str] = field(default_factory=list)
    # Tasks that are not equations at all (a critic, a margin, a likelihood: Equation.is_equality).
    unequal: list[str] = field(default_factory=list)
    refinements: list[Rule] = field(default_factory=list)

    def rules(self, tasks: list[str] | None = None) -> list[Rule]:
        """The rules of ``tasks`` (default all pointwise ones), refinements and laws."""
        chosen = [r for name, rs in self.tasks.items() if tasks is None or name in tasks for r in rs]
        return [*chosen, *self.refinements, *laws(self.reader.symbols)]

    def sources(self) -> dict[str, tuple[str, ...]]:
        """Each source with a bounded support (data, non-full random) -> its output types."""
        return {name: tuple(type_key(t) for t in d.signature.outputs)
                for name, d in self.program.declarations.items()
                if d.kind is BoxKind.DATA or (d.kind is BoxKind.RANDOM and not all(
                    self.reader.domain(name, i, joint=False).full
                    for i in range(len(d.signature.outputs))))}


def equation_rules(reader: Reader, eq: Equation, name: str | None = None) -> list[Rule]:
    pairs = reader.equation(eq)
    name = name or eq.name
    return [Rule(name if len(pairs) == 1 else f"{name}[{i}]", lhs, rhs)
            for i, (lhs, rhs) in enumerate(pairs)]


def build(program: Program, tasks: list[str] | None = None) -> Theory:
    """The theory of ``tasks`` (all the program's by default)."""
    theory = Theory(program, Reader(program))
    for name, eq in program.tasks.items():
        if tasks is not None and name not in tasks:
            continue
        if not eq.is_equality:
            theory.unequal.append(name)
            continue
        if distributional(eq):
            theory.distributional.append(name)
            continue
        theory.tasks[name] = equation_rules(theory.reader, eq)
    for name, diagram in program.refinements.items():
        ins = tuple(Var(diagram.wires[w].name or f"x{i}", Domain(type_key(diagram.wires[w].type)))
                    for i, w in enumerate(diagram.inputs))
        many = len(diagram.outputs) > 1
        for i, w in enumerate(diagram.outputs):
            body = theory.reader.term(diagram, w, {})
            head = App(f"{name}#{i}" if many else name, ins)
            theory.reader.symbols.setdefault(head.symbol, Symbol(
                head.symbol, "learner", tuple(type_key(diagram.wires[x].type) for x in diagram.inputs),
                type_key(diagram.wires[w].type)))
            theory.refinements.append(Rule(f"refine {name}", head, body, "refinement"))
    return theory
