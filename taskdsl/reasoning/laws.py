"""The builtins' algebraic laws: a small table, each law a fact about the backend.

Only laws that hold exactly for the backend's elementwise float arithmetic up to
rounding are listed: ``add`` and ``mul`` commutative and associative, ``neg``
an involution, ``scale[a](scale[b](x)) = scale[a*b](x)`` and ``scale[1]`` the
identity.  ``sub``, ``concat``, ``flatten`` stay uninterpreted (no law is
claimed); ``sample`` and ``drop`` are random, so a task using them is read in
distribution only.  Laws are instantiated per typed symbol (``add@Real[4]/Real[4]``).
"""

from __future__ import annotations

from taskdsl.reasoning.terms import App, Domain, Rule, Symbol, Var

COMMUTATIVE_ASSOCIATIVE = ("add", "mul")
INVOLUTIONS = ("neg",)
SCALE = "scale"
SCALE_COMPOSE = "scale-compose"
"""The one law with arithmetic in it: matched and applied by code, not a pattern."""


def base_name(symbol: str) -> str:
    return symbol.split("@", 1)[0]


def laws(symbols: dict[str, Symbol]) -> list[Rule]:
    """The pattern laws for the builtin symbols met (scale composition is separate)."""
    out: list[Rule] = []
    for s in symbols.values():
        if s.kind != "builtin":
            continue
        base = base_name(s.name)
        x, y, z = (Var(n, Domain(s.result)) for n in ("x", "y", "z"))
        if base in COMMUTATIVE_ASSOCIATIVE:
            out.append(Rule(f"{base} is commutative", App(s.name, (x, y)), App(s.name, (y, x)), "law"))
            out.append(Rule(f"{base} is associative", App(s.name, (App(s.name, (x, y)), z)),
                            App(s.name, (x, App(s.name, (y, z)))), "law"))
        elif base in INVOLUTIONS:
            out.append(Rule(f"{base} is an involution", App(s.name, (App(s.name, (x,)),)), x, "law"))
    return out


def scale_symbols(symbols: dict[str, Symbol]) -> list[str]:
    return [s.name for s in symbols.values() if s.kind == "builtin" and base_name(s.name) == SCALE]


def scale_step(t: App) -> App | Var | None:
    """``scale[a](scale[b](x))`` as ``scale[a*b](x)``, ``scale[1](x)`` as ``x``; else None."""
    if base_name(t.symbol) != SCALE:
        return None
    if t.params == (1.0,):
        return t.args[0]
    inner = t.args[0]
    if isinstance(inner, App) and inner.symbol == t.symbol:
        return App(t.symbol, inner.args, (t.params[0] * inner.params[0],))
    return None
