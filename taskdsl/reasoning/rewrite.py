"""Rewriting on terms: matching under domains, one-step rewrites, and the search
for a derivation between two terms the e-graph found equal.

The e-graph decides; this module rebuilds a readable path afterwards by a
bounded breadth-first search from both ends (meeting in the middle), over
terms no larger than the goal's sides plus the largest rule.  A rule variable
matches a term only if the term is known to lie in the variable's domain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from taskdsl.reasoning.laws import SCALE_COMPOSE, scale_step
from taskdsl.reasoning.terms import App, Domain, Rule, Term, Var, size, variables

Path = tuple[int, ...]
Subst = dict[str, Term]


@dataclass(frozen=True)
class Step:
    """One rewrite: ``rule`` read ``forward`` (lhs to rhs) or backward, at ``path``."""

    rule: str
    forward: bool
    path: Path
    before: Term
    after: Term
    subst: tuple[tuple[str, Term], ...]


def in_domain(t: Term, dom: Domain) -> bool:
    """Whether ``t`` is known to range within ``dom`` (types are checked by position)."""
    if dom.full:
        return True
    if isinstance(t, Var):
        return t.domain == dom
    if dom.index is not None and t.symbol == f"proj:{dom.source}#{dom.index}":
        (arg,) = t.args
        return isinstance(arg, Var) and arg.domain.source == dom.source and arg.domain.index is None
    return False


def match(pattern: Term, t: Term, subst: Subst) -> bool:
    if isinstance(pattern, Var):
        bound = subst.get(pattern.name)
        if bound is not None:
            return bound == t
        if not in_domain(t, pattern.domain):
            return False
        subst[pattern.name] = t
        return True
    if not isinstance(t, App) or t.symbol != pattern.symbol or t.params != pattern.params \
            or len(t.args) != len(pattern.args):
        return False
    return all(match(p, a, subst) for p, a in zip(pattern.args, t.args, strict=True))


def instantiate(t: Term, subst: Subst) -> Term:
    if isinstance(t, Var):
        return subst[t.name]
    return App(t.symbol, tuple(instantiate(a, subst) for a in t.args), t.params, t.label)


def at(t: Term, path: Path) -> Term:
    for i in path:
        assert isinstance(t, App)
        t = t.args[i]
    return t


def replace(t: Term, path: Path, new: Term) -> Term:
    if not path:
        return new
    assert isinstance(t, App)
    i = path[0]
    args = (*t.args[:i], replace(t.args[i], path[1:], new), *t.args[i + 1:])
    return App(t.symbol, args, t.params, t.label)


def positions(t: Term, path: Path = ()) -> Iterator[tuple[Path, Term]]:
    yield path, t
    if isinstance(t, App):
        for i, a in enumerate(t.args):
            yield from positions(a, (*path, i))


def usable(rule: Rule, forward: bool) -> bool:
    """A direction is a rewrite when its left side is no bare variable and binds every variable."""
    src, dst = (rule.lhs, rule.rhs) if forward else (rule.rhs, rule.lhs)
    return isinstance(src, App) and set(variables(dst)) <= set(variables(src))


def steps(t: Term, rules: list[Rule]) -> Iterator[Step]:
    """Every one-step rewrite of ``t`` by ``rules`` (both usable directions) and scale composition."""
    directed = [(r, f) for r in rules for f in (True, False) if usable(r, f)]
    for path, sub in positions(t):
        if not isinstance(sub, App):
            continue
        for rule, forward in directed:
            src, dst = (rule.lhs, rule.rhs) if forward else (rule.rhs, rule.lhs)
            subst: Subst = {}
            if match(src, sub, subst):
                new = replace(t, path, instantiate(dst, subst))
                yield Step(rule.name, forward, path, t, new, tuple(subst.items()))
        scaled = scale_step(sub)
        if scaled is not None:
            yield Step(SCALE_COMPOSE, True, path, t, replace(t, path, scaled), ())


def reverse(step: Step) -> Step:
    return Step(step.rule, not step.forward, step.path, step.after, step.before, step.subst)


def derive(lhs: Term, rhs: Term, rules: list[Rule], *, max_nodes: int = 20000,
           slack: int | None = None) -> list[Step] | None:
    """A shortest list of steps rewriting ``lhs`` into ``rhs``, or None within the bounds."""
    if lhs == rhs:
        return []
    bound = max(size(lhs), size(rhs)) + (slack if slack is not None else
                                         max((max(size(r.lhs), size(r.rhs)) for r in rules),
                                             default=0))
    parents: tuple[dict[Term, Step | None], dict[Term, Step | None]] = ({lhs: None}, {rhs: None})
    queues = (deque([lhs]), deque([rhs]))
    while (queues[0] or queues[1]) and len(parents[0]) + len(parents[1]) < max_nodes:
        side = 0 if (queues[0] and (len(queues[0]) <= len(queues[1]) or not queues[1])) else 1
        for _ in range(len(queues[side])):
            t = queues[side].popleft()
            for step in steps(t, rules):
                if step.after in parents[side] or size(step.after) > bound:
                    continue
                parents[side][step.after] = step
                if step.after in parents[1 - side]:
                    return _join(step.after, parents, side)
                queues[side].append(step.after)
    return None


def _join(meet: Term, parents: tuple[dict[Term, Step | None], dict[Term, Step | None]],
          side: int) -> list[Step]:
    def chain(table: dict[Term, Step | None]) -> list[Step]:
        out, t = [], meet
        while (s := table[t]) is not None:
            out.append(s)
            t = s.before
        return out[::-1]

    front = chain(parents[0])
    back = [reverse(s) for s in reversed(chain(parents[1]))]
    return front + back
