"""Simplifying tasks, and the closest two forms of an equation the e-graph reaches.

``taskdsl explain --simplify`` normalises each side of each task with the
builtins' laws and the refinements only (never the file's own tasks): the
e-graph of :mod:`taskdsl.reasoning.egraph` saturates, egglog extracts the
smallest equal term, and the rewrite search of :mod:`taskdsl.reasoning.rewrite`
rebuilds the steps (replayed by :mod:`taskdsl.reasoning.check`) to say which
laws fired.  The IR's tasks are already refined (a refined learner is its
diagram), so the refinements that fired are read from the boxes' groups.

:func:`closest` is shared with ``analyse`` (what a task becomes given the
others) and ``prove``/claims (where an undecided goal got to): among the
forms the e-graph found for the two sides, no larger than the larger side,
the pair with the most structure in common.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from taskdsl.ir import Equation, Program
from taskdsl.reasoning import messages
from taskdsl.reasoning.check import DerivationError, check
from taskdsl.reasoning.egraph import Budget, Saturation
from taskdsl.reasoning.laws import laws
from taskdsl.reasoning.rewrite import derive
from taskdsl.reasoning.terms import App, Rule, Symbol, Term, Var, number, show, size, subterms
from taskdsl.reasoning.theory import build, equation_rules

BUDGET = Budget(iterations=8, seconds=0.5)
SEARCH_NODES = 3000
"""Bound on the derivation search that names the laws fired (a few laws, short paths)."""


@dataclass
class Simplified:
    """One task (or one output of a multi-output task), before and after."""

    name: str
    before: tuple[Term, Term]
    after: tuple[Term, Term]
    fired: list[str] = field(default_factory=list)  # the laws, in the order they fired
    refinements: list[str] = field(default_factory=list)
    unrefined: tuple[Term, Term] | None = None  # as written, refined boxes folded back

    @property
    def changed(self) -> bool:
        return self.before != self.after


def shared(a: Term, b: Term) -> int:
    """How much outer structure ``a`` and ``b`` have in common: the size of the context
    in which they agree, heads matching from the top down."""
    if a == b:
        return size(a)
    if isinstance(a, App) and isinstance(b, App) and a.symbol == b.symbol \
            and a.params == b.params and len(a.args) == len(b.args):
        return 1 + sum(shared(x, y) for x, y in zip(a.args, b.args, strict=True))
    return 0


def closest(lefts: Iterable[Term], rights: Iterable[Term], bound: int) -> tuple[Term, Term]:
    """The pair (one form of each side, each of size at most ``bound``) sharing the most
    outer structure; ties go to the smaller pair.  The first of each list is the side
    as given, which is always a candidate."""
    ls, rs = list(lefts), list(rights)
    pool = [(a, b) for a, b in itertools.product(ls, rs) if size(a) <= bound and size(b) <= bound]
    return max(pool or [(ls[0], rs[0])], key=lambda p: (shared(*p), -size(p[0]) - size(p[1])))


def disjoint(a: Term, b: Term) -> bool:
    """Whether ``a`` and ``b`` have no subterm in common (not even a variable)."""
    return not set(subterms(a)) & set(subterms(b))


def fired(before: Term, after: Term, rules: list[Rule]) -> list[str] | None:
    """The rules a replayed derivation from ``before`` to ``after`` uses, or None."""
    path = derive(before, after, rules, max_nodes=SEARCH_NODES)
    if path is None:
        return None
    try:
        check(before, after, path, rules)
    except DerivationError:
        return None
    return [s.rule for s in path]


def _smallest(graph: Saturation, t: Term) -> Term:
    best = graph.forms(t)[0]
    return best if size(best) < size(t) else t  # an equal-size form (a commuted add) is no gain


def simplify_equation(program: Program, eq: Equation, name: str | None = None,
                      budget: Budget = BUDGET) -> list[Simplified]:
    """``eq``'s sides normalised by the laws and refinements of ``program``."""
    theory = build(program, [])
    pairs = equation_rules(theory.reader, eq, name)
    # The IR is refined already: the refinements are not rules here (read backward they
    # would fold the diagrams up again); only the laws of the builtins ``eq`` uses are.
    rules = laws(theory.reader.symbols)
    graph = _saturated(theory.reader.symbols, rules, pairs, budget)
    refined = refinements_used(program, eq)
    folding = _saturated(theory.reader.symbols, theory.refinements, pairs, budget) \
        if refined else None
    out = []
    for r in pairs:
        after = (_smallest(graph, r.lhs), _smallest(graph, r.rhs))
        used: list[str] = []
        for b, a in zip((r.lhs, r.rhs), after, strict=True):
            if a != b:
                used.extend(fired(b, a, rules) or [messages.SIMPLIFY_UNEXPLAINED])
        folded = (_smallest(folding, r.lhs), _smallest(folding, r.rhs)) if folding else None
        out.append(Simplified(r.name, (r.lhs, r.rhs), after, list(dict.fromkeys(used)), refined,
                              folded))
    return out


def _saturated(symbols: dict[str, Symbol], rules: list[Rule], pairs: list[Rule],
               budget: Budget) -> Saturation:
    graph = Saturation(symbols, rules)
    for r in pairs:
        graph.add(r.lhs)
        graph.add(r.rhs)
    graph.saturate(budget)
    return graph


def normalise(terms: list[Term], symbols: dict[str, Symbol], budget: Budget = BUDGET) -> list[Term]:
    """Each of ``terms`` at its smallest under the builtins' laws (itself if none is smaller)."""
    graph = Saturation(symbols, laws(symbols))
    for t in terms:
        graph.add(t)
    graph.saturate(budget)
    return [_smallest(graph, t) for t in terms]


def refinements_used(program: Program, eq: Equation) -> list[str]:
    """The refinements inlined into ``eq``, read from its boxes' groups."""
    groups = (g for d in (eq.lhs, eq.rhs) for b in d.boxes for g in b.group)
    return list(dict.fromkeys(g for g in groups if g in program.refinements))


def simplify_program(program: Program, budget: Budget = BUDGET) -> list[Simplified]:
    """Every task of ``program`` simplified, in file order."""
    return [s for name, eq in program.tasks.items()
            for s in simplify_equation(program, eq, name, budget)]


def latex(t: Term) -> str:
    """A term in LaTeX, as ``explain --latex`` writes calls."""
    if isinstance(t, Var):
        return t.name.replace("_", "\\_")
    text = show(App(t.symbol, (), t.params, t.label)) if not t.args else None
    if text is not None:
        return "\\mathrm{" + text.replace("_", "\\_") + "}"
    base = t.symbol.split("@", 1)[0]
    head = "\\mathrm{" + base.replace("_", "\\_").replace("#", "\\#") + "}"
    if t.params:
        head += "[" + ", ".join(number(p) for p in t.params) + "]"
    return f"{head}({', '.join(map(latex, t.args))})"


def equation_text(pair: tuple[Term, Term], as_latex: bool = False) -> str:
    write = latex if as_latex else show
    return f"{write(pair[0])} = {write(pair[1])}"


def render(program: Program, as_latex: bool = False, budget: Budget = BUDGET) -> str:
    """The ``explain --simplify`` section: each task as trained, and as simplified."""
    lines = [messages.SIMPLIFY_HEADING]
    lines.extend(_entries(simplify_program(program, budget), as_latex))
    for name, generic in program.generic.items():
        if generic.tasks:
            lines.append(messages.SIMPLIFY_PATTERN.format(name=name))
            lines.extend(_entries(simplify_program(generic, budget), as_latex))
    return "\n".join(lines)


def _entries(found: list[Simplified], as_latex: bool) -> list[str]:
    lines = []
    for s in found:
        lines.append(messages.SIMPLIFY_TASK.format(name=s.name,
                                                   before=equation_text(s.before, as_latex)))
        if s.refinements and s.unrefined is not None:
            lines.append(messages.SIMPLIFY_REFINED.format(
                names=", ".join(s.refinements), written=equation_text(s.unrefined, as_latex)))
        if s.changed:
            lines.append(messages.SIMPLIFY_AFTER.format(after=equation_text(s.after, as_latex),
                                                        laws=", ".join(s.fired)))
        else:
            lines.append(messages.SIMPLIFY_SAME)
    return lines
