"""``analyse``: what an objective's tasks say about each other.

Per objective: tasks implied by the others (redundant), sets of tasks that
cannot hold together (two different constants made equal: the GAN's
``fake``/``fool`` game), learners no task mentions, tasks that train no
learner, and what each refinement turns each task into (and what that becomes
given the objective's other tasks).  Everything is decided by the e-graph within a small budget, so a
report is sound but may miss facts that need longer proofs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from taskdsl.ir import BoxKind, Objective, Program
from taskdsl.queries import equation_trains, frozen_boxes
from taskdsl.reasoning import messages
from taskdsl.reasoning.egraph import Budget, Saturation
from taskdsl.reasoning.simplify import closest, equation_text, fired, simplify_equation
from taskdsl.reasoning.terms import App, Term, Var, size, type_key, type_names, variables
from taskdsl.reasoning.theory import Theory, build

BUDGET = Budget(iterations=4, seconds=0.15)
PRIME = "′"
SEED = 40
"""Rule instances seeded per refined task (the tasks' own come first, then the laws'):
enough for an autoencoder's ``dec(enc(x))`` beside ``x``, few enough for ``analyse`` to
stay well under 2 s."""


@dataclass
class Report:
    objective: str
    tasks: list[str]
    distributional: list[str] = field(default_factory=list)
    unequal: list[str] = field(default_factory=list)
    redundant: list[tuple[str, list[str]]] = field(default_factory=list)
    adversarial: list[tuple[list[str], str]] = field(default_factory=list)
    unconstrained: list[str] = field(default_factory=list)
    untrained: list[str] = field(default_factory=list)
    refined: list[Becomes] = field(default_factory=list)


@dataclass
class Becomes:
    """What refinement turns one task into: as written (refined boxes folded back), as
    trained (the refinements inlined, laws applied), and the closest two forms the
    other tasks of the objective rewrite that to, with the tasks and laws used."""

    task: str
    refinements: list[str]
    written: tuple[Term, Term]
    trained: tuple[Term, Term]
    given: tuple[Term, Term] | None = None
    using: list[str] = field(default_factory=list)


def _one_valued(program: Program) -> set[str]:
    """The type keys with a single value (``Class[1]``), where all values are rightly equal."""
    types = [t for d in program.declarations.values()
             for t in (*d.signature.inputs, *d.signature.outputs)]
    return {type_key(t) for t in types if t.kind == "Class" and tuple(t.shape) == (1,)}


def _rename(t: Term, old: str, new: Var) -> Term:
    if isinstance(t, Var):
        return new if t.name == old else t
    return App(t.symbol, tuple(_rename(a, old, new) for a in t.args), t.params, t.label)


def _clash(theory: Theory, tasks: list[str]) -> str | None:
    """What the tasks make equal that cannot be, if anything: two constants of different
    values, or two arbitrary values of a type (the type collapses to one value).

    Each task's sides go into the e-graph as they are and once more with each
    variable over a whole type renamed (``a`` and ``a′``); the renamed copy is as
    arbitrary as the original, so ``a = a′`` means every two values are equal.
    """
    rules = theory.rules(tasks)
    graph = Saturation(theory.reader.symbols, rules)
    pairs: list[tuple[Var, Var]] = []
    for r in rules:
        if r.origin != "task":
            continue
        graph.add(r.lhs)
        graph.add(r.rhs)
        for v in (variables(r.lhs) | variables(r.rhs)).values():
            if v.domain.full and v.domain.type not in _one_valued(theory.program):
                twin = Var(v.name + PRIME, v.domain)
                graph.add(_rename(r.lhs, v.name, twin))
                graph.add(_rename(r.rhs, v.name, twin))
                pairs.append((v, twin))
    graph.saturate(BUDGET)
    consts = [s for s in theory.reader.symbols.values() if s.kind == "const"]
    for a, b in itertools.combinations(consts, 2):
        if a.result == b.result and a.value != b.value and graph.equal(App(a.name), App(b.name)):
            return messages.CLASH_CONSTANTS.format(a=a.name, b=b.name)
    for v, twin in dict.fromkeys(pairs):
        if graph.equal(v, twin):
            shown = type_names(theory.program).get(v.domain.type, v.domain.type)
            return messages.CLASH_COLLAPSE.format(type=shown, a=v.name, b=twin.name)
    return None


def _follows(theory: Theory, name: str, others: list[str]) -> bool:
    rules = theory.rules(others)
    graph = Saturation(theory.reader.symbols, rules)
    return graph.saturate(BUDGET, [(r.lhs, r.rhs) for r in theory.tasks[name]])


def _becomes(program: Program, theory: Theory, name: str, others: list[str]) -> list[Becomes]:
    """What the refinements turn task ``name`` into, alone and given ``others``."""
    eq = program.tasks[name]
    found = simplify_equation(program, eq, name)
    if not found or not found[0].refinements:
        return []
    # The refinements are inlined already; read backward they would only fold them up.
    rules = [r for r in theory.rules(others) if r.origin != "refinement"]
    out = []
    for s in found:
        lhs, rhs = s.after
        b = Becomes(s.name, s.refinements, s.unrefined or s.before, s.after)
        if others:
            graph = Saturation(theory.reader.symbols, rules)
            graph.seed([lhs, rhs], limit=SEED)
            graph.saturate(BUDGET, [(lhs, rhs)])
            pair = closest(graph.forms(lhs), graph.forms(rhs), max(size(lhs), size(rhs)))
            if pair != (lhs, rhs):
                b.given = pair
                used = [*(fired(lhs, pair[0], rules) or []), *(fired(rhs, pair[1], rules) or [])]
                b.using = list(dict.fromkeys(used)) or others
        out.append(b)
    return out


def analyse(program: Program, objective: Objective) -> Report:
    names = list(dict.fromkeys(t.equation.name for t in objective.terms))
    theory = build(program, names)
    report = Report(objective.name, names, list(theory.distributional), list(theory.unequal))
    pointwise = list(theory.tasks)
    everything = _clash(theory, pointwise)
    if everything is not None:
        for pair in itertools.combinations(pointwise, 2):
            clash = _clash(theory, list(pair))
            if clash is not None:
                report.adversarial.append((list(pair), clash))
        if not report.adversarial:  # only more than two clash together
            report.adversarial.append((pointwise, everything))
    in_game = {n for names_, _ in report.adversarial for n in names_}
    for name in pointwise:
        others = [n for n in pointwise if n != name and n not in in_game]
        if name not in in_game and others and _follows(theory, name, others):
            report.redundant.append((name, others))
    for name in names:
        if name in theory.tasks or name in theory.distributional:
            others = [n for n in pointwise if n != name and n not in in_game]
            report.refined.extend(_becomes(program, theory, name, others))
    # by the declared learner's own name: a tied one (`b = tied(a)`) is `a`
    declared = list(dict.fromkeys(d.name for d in program.declarations.values()
                                  if d.kind is BoxKind.LEARNER))
    mentioned = set(objective.learners()) | set(program.refinements)
    report.unconstrained = [n for n in declared if n not in mentioned]
    frozen = frozen_boxes(program, objective)
    report.untrained = list(dict.fromkeys(t.equation.name for t in objective.terms
                                          if not equation_trains(t.equation, frozen)))
    return report


def render(report: Report) -> str:
    lines = [messages.ANALYSE_OBJECTIVE.format(name=report.objective, tasks=", ".join(report.tasks))]
    if report.distributional:
        lines.append(messages.ANALYSE_DISTRIBUTIONAL.format(names=", ".join(report.distributional)))
    if report.unequal:
        lines.append(messages.ANALYSE_UNEQUAL.format(names=", ".join(report.unequal)))
    for names, clash in report.adversarial:
        lines.append(messages.ANALYSE_ADVERSARIAL.format(names=" and ".join(names), clash=clash))
    for name, others in report.redundant:
        lines.append(messages.ANALYSE_REDUNDANT.format(name=name, names=", ".join(others)))
    if report.unconstrained:
        lines.append(messages.ANALYSE_UNCONSTRAINED.format(names=", ".join(report.unconstrained)))
    if report.untrained:
        lines.append(messages.ANALYSE_UNTRAINED.format(names=", ".join(report.untrained)))
    for b in report.refined:
        lines.append(messages.ANALYSE_REFINED.format(
            name=b.task, refinements=", ".join(b.refinements), written=equation_text(b.written),
            trained=equation_text(b.trained)))
        if b.given is not None:
            lines.append(messages.ANALYSE_GIVEN.format(names=", ".join(b.using),
                                                       becomes=equation_text(b.given)))
    if len(lines) == 1:
        lines.append(messages.ANALYSE_NOTHING)
    return "\n".join(lines)

