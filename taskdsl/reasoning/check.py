"""An independent checker of derivations: replays each step on the terms.

It shares no code with the search (:mod:`taskdsl.reasoning.rewrite`) beyond
the term classes: its own substitution, positions and domain test, so a bug
in the search cannot hide itself.
"""

from __future__ import annotations

from taskdsl.reasoning.laws import SCALE_COMPOSE, base_name
from taskdsl.reasoning.rewrite import Step
from taskdsl.reasoning.terms import App, Rule, Term, Var


class DerivationError(Exception):
    """A step that does not replay; the message says which and why."""


def _subst(t: Term, s: dict[str, Term]) -> Term:
    if isinstance(t, Var):
        if t.name not in s:
            raise DerivationError(f"variable {t.name} left unbound")
        return s[t.name]
    return App(t.symbol, tuple(_subst(a, s) for a in t.args), t.params)


def _get(t: Term, path: tuple[int, ...]) -> Term:
    for i in path:
        if not isinstance(t, App) or i >= len(t.args):
            raise DerivationError(f"no subterm at {path}")
        t = t.args[i]
    return t


def _put(t: Term, path: tuple[int, ...], new: Term) -> Term:
    if not path:
        return new
    if not isinstance(t, App):
        raise DerivationError(f"no subterm at {path}")
    args = list(t.args)
    args[path[0]] = _put(args[path[0]], path[1:], new)
    return App(t.symbol, tuple(args), t.params)


def _within(t: Term, v: Var) -> bool:
    d = v.domain
    if d.source is None:
        return True
    if isinstance(t, Var):
        return t.domain == d
    return (d.index is not None and t.symbol == f"proj:{d.source}#{d.index}"
            and isinstance(t.args[0], Var) and t.args[0].domain.source == d.source
            and t.args[0].domain.index is None)


def _vars(t: Term) -> list[Var]:
    return [t] if isinstance(t, Var) else [v for a in t.args for v in _vars(a)]


def _scale(before: Term, after: Term) -> bool:
    """``scale[a](scale[b](x)) -> scale[a*b](x)`` or ``scale[1](x) -> x``."""
    if not isinstance(before, App) or base_name(before.symbol) != "scale":
        return False
    inner = before.args[0]
    if before.params == (1.0,) and after == inner:
        return True
    return (isinstance(inner, App) and inner.symbol == before.symbol
            and after == App(before.symbol, inner.args, (before.params[0] * inner.params[0],)))


def check(lhs: Term, rhs: Term, steps: list[Step], rules: list[Rule]) -> None:
    """Raise :class:`DerivationError` unless ``steps`` rewrite ``lhs`` into ``rhs`` by ``rules``."""
    by_name = {r.name: r for r in rules}
    current = lhs
    for n, step in enumerate(steps, 1):
        if step.before != current:
            raise DerivationError(f"step {n} starts from a different term")
        old, new = _get(step.before, step.path), _get(step.after, step.path)
        if _put(step.before, step.path, new) != step.after:
            raise DerivationError(f"step {n} changes more than the subterm at {step.path}")
        if step.rule == SCALE_COMPOSE:
            ok = _scale(old, new) if step.forward else _scale(new, old)
            if not ok:
                raise DerivationError(f"step {n} is no scale composition")
        else:
            rule = by_name.get(step.rule)
            if rule is None:
                raise DerivationError(f"step {n} uses `{step.rule}`, which is not assumed")
            s = dict(step.subst)
            for v in _vars(rule.lhs) + _vars(rule.rhs):
                if v.name not in s or not _within(s[v.name], v):
                    raise DerivationError(f"step {n}: {v.name} is not instantiated within its domain")
            src, dst = (rule.lhs, rule.rhs) if step.forward else (rule.rhs, rule.lhs)
            if _subst(src, s) != old or _subst(dst, s) != new:
                raise DerivationError(f"step {n} does not match `{step.rule}`")
        current = step.after
    if current != rhs:
        raise DerivationError("the derivation does not end at the goal's right side")
