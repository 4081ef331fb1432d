"""``prove``: decide a goal from a file's tasks, and say why.

The e-graph decides; a derivation is then rebuilt and re-checked step by step;
when the goal does not follow, a finite countermodel is searched and checked
by plain evaluation before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from taskdsl.ir import Program
from taskdsl.reasoning import messages
from taskdsl.reasoning.check import DerivationError, check
from taskdsl.reasoning.egraph import Budget, Saturation
from taskdsl.reasoning.goals import Goal
from taskdsl.reasoning.laws import SCALE
from taskdsl.reasoning.models import ROWS, Model, evaluate, find, holds
from taskdsl.reasoning.rewrite import Step, at, derive
from taskdsl.reasoning.simplify import closest, disjoint, shared
from taskdsl.reasoning.terms import Rule, Symbol, Term, distributional, number, show, size, type_names
from taskdsl.reasoning.theory import build, equation_rules

MAX_MODEL_SIZE = 3
DEFAULT_BUDGET = Budget()


class Verdict(StrEnum):
    PROVED = "proved"
    REFUTED = "refuted"
    UNDECIDED = "undecided"


@dataclass
class Outcome:
    verdict: Verdict
    goal: list[Rule]
    rules: list[Rule]
    assumed: list[str]
    ignored: list[str]
    derivations: list[list[Step] | None] = field(default_factory=list)
    model: Model | None = None
    iterations: int = 0
    builtins: bool = False
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    type_names: dict[str, str] = field(default_factory=dict)  # type key -> the file's alias
    unequal: list[str] = field(default_factory=list)  # tasks that are not equations, not used
    closest: list[tuple[Term, Term]] = field(default_factory=list)  # where an undecided goal got


def prove(program: Program, goal: Goal, using: list[str] | None = None,
          budget: Budget = DEFAULT_BUDGET, model_seconds: float = 10.0) -> Outcome:
    """Decide ``goal`` from the tasks ``using`` (default: every task but the goal)."""
    names = using if using is not None else [t for t in program.tasks if t != goal.task]
    theory = build(program, names)
    goal_rules = equation_rules(theory.reader, goal.equation, goal.text)
    rules = theory.rules(list(theory.tasks))
    out = Outcome(Verdict.UNDECIDED, goal_rules, rules, list(theory.tasks), theory.distributional,
                  builtins=any(s.kind == "builtin" for s in theory.reader.symbols.values()),
                  sources=theory.sources(), symbols=theory.reader.symbols,
                  type_names=type_names(program), unequal=list(theory.unequal))
    if distributional(goal.equation) or not goal.equation.is_equality:
        return out
    graph = Saturation(theory.reader.symbols, rules)
    pairs = [(r.lhs, r.rhs) for r in goal_rules]
    graph.seed([t for pair in pairs for t in pair])
    proved = graph.saturate(budget, pairs)
    out.iterations = graph.iterations
    if not proved:
        # The furthest point reached: per goal equation not yet met, the forms of its two
        # sides (no larger than the larger side) that share the most structure.
        out.closest = [closest(graph.forms(a), graph.forms(b), max(size(a), size(b)))
                       for a, b in pairs if not graph.equal(a, b)]
    if proved:
        out.verdict = Verdict.PROVED
        for r in goal_rules:
            path = derive(r.lhs, r.rhs, rules)
            if path is not None:
                try:
                    check(r.lhs, r.rhs, path, rules)
                except DerivationError:
                    path = None  # only a derivation that replays is shown
            out.derivations.append(path)
        return out
    model = find(rules, goal_rules, theory.reader.symbols, theory.sources(),
                 max_size=MAX_MODEL_SIZE, seconds=model_seconds)
    if model is not None and all(holds(r, model) is None for r in rules) \
            and any(holds(r, model) is not None for r in goal_rules):
        out.verdict, out.model = Verdict.REFUTED, model
    return out


def render(outcome: Outcome, goal: Goal) -> str:
    """The outcome as text: the derivation, the countermodel, or what was tried."""
    names = ", ".join(outcome.assumed) or "no tasks"
    lines: list[str] = []
    if outcome.verdict is Verdict.PROVED:
        lines.append(messages.PROVED.format(goal=goal.text))
        lines.append(messages.FROM.format(names=names))
        for rule, path in zip(outcome.goal, outcome.derivations, strict=True):
            lines.extend(_derivation(rule, path))
    elif outcome.verdict is Verdict.REFUTED and outcome.model is not None:
        lines.append(messages.REFUTED.format(goal=goal.text, names=names))
        lines.append(messages.COUNTERMODEL)
        lines.extend(_model(outcome.model, outcome))
        if outcome.builtins:
            lines.append(messages.BUILTIN_NOTE)
    elif not goal.equation.is_equality:
        lines.append(messages.UNEQUAL_GOAL.format(goal=goal.text))
    elif distributional(goal.equation):
        lines.append(messages.DISTRIBUTIONAL_GOAL.format(goal=goal.text))
    else:
        lines.append(messages.UNDECIDED.format(goal=goal.text, iterations=outcome.iterations,
                                               max_size=MAX_MODEL_SIZE))
        lines.extend(reached(outcome))
    if outcome.ignored:
        lines.append(messages.IGNORED.format(names=", ".join(outcome.ignored)))
    if outcome.unequal:
        lines.append(messages.IGNORED_UNEQUAL.format(names=", ".join(outcome.unequal)))
    return "\n".join(lines)


def reached(outcome: Outcome) -> list[str]:
    """Where an undecided goal got to: its sides' closest forms, and whether they share
    anything at all."""
    lines = []
    for lhs, rhs in outcome.closest:
        lines.append(messages.CLOSEST.format(lhs=show(lhs), rhs=show(rhs)))
        if disjoint(lhs, rhs):
            lines.append(messages.CLOSEST_NOTHING)
        elif shared(lhs, rhs) == 0:
            lines.append(messages.CLOSEST_INSIDE)
    return lines


def _derivation(rule: Rule, steps: list[Step] | None) -> list[str]:
    lines = [messages.START.format(term=show(rule.lhs))]
    if steps is None:
        return [*lines, messages.NO_DERIVATION]
    for n, s in enumerate(steps, 1):
        lines.append(messages.STEP.format(n=n, term=show(s.after), rule=s.rule,
                                          direction="→" if s.forward else "←",
                                          subterm=show(at(s.before, s.path))))
    return lines


def countermodel(outcome: Outcome) -> list[str]:
    """A refuted outcome's countermodel as lines: the sorts, the tables, where the goal fails."""
    return _model(outcome.model, outcome) if outcome.model is not None else []


def _model(model: Model, outcome: Outcome) -> list[str]:
    named = outcome.type_names
    lines = ["  " + ", ".join(f"{named.get(k, k)} = {{{', '.join(map(str, range(n)))}}}"
                              for k, n in model.sizes.items() if not k.startswith(ROWS))]
    for key, n in model.sizes.items():
        if key.startswith(ROWS):
            source = key[len(ROWS):]
            projs = sorted(k for k in model.tables if k.startswith(f"proj:{source}#"))
            rows = [tuple(model.tables[p][(r,)] for p in projs) for r in range(n)]
            shown = [str(r[0]) if len(r) == 1 else f"({', '.join(map(str, r))})" for r in rows]
            outs = outcome.sources.get(source, ())
            types = " × ".join(named.get(t, t) for t in outs) if len(outs) > 1 else ""
            inside = f" ⊆ {types}" if types else ""
            lines.append(f"  supp({source}){inside} = {{{', '.join(dict.fromkeys(shown))}}}")
    for key, table in model.tables.items():
        base, _, rest = key.partition("@")
        name = base + (f"[{number(float(rest[rest.rfind('[') + 1:-1]))}]" if base == SCALE else "")
        if not table or name.startswith("proj:"):
            continue
        if () in table:
            lines.append(f"  {name} = {table[()]}")
            continue
        cells = "  ".join(f"{name}({', '.join(map(str, args))})={v}" for args, v in table.items())
        lines.append(f"  {cells}")
    for r in outcome.goal:
        env = holds(r, model)
        if env is not None:
            shown = ", ".join(f"{k} = {v}" for k, v in env.items())
            lines.append(messages.WITNESS.format(env=shown, lhs=show(r.lhs), rhs=show(r.rhs),
                                                 lhs_value=evaluate(r.lhs, model, env),
                                                 rhs_value=evaluate(r.rhs, model, env)))
    return lines

