"""Finite countermodels with z3, and an evaluator that checks them in plain Python.

A model gives each wire type a small set ``{0, ..., n-1}``, each data source
a set of rows (its support) with one projection table per output, each
learner, fixed box and builtin a table, and each constant an element
(constants with different values are different elements).  Every assumed
rule must hold for every value of its variables in their domains; the goal
must fail for some.  Builtins are tables obeying the law table, not
arithmetic: a countermodel shows that the goal does not follow from the
tasks and the laws, which is what "refuted" means.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import z3

from taskdsl.reasoning.laws import SCALE, base_name
from taskdsl.reasoning.terms import App, Domain, Rule, Symbol, Term, Var, variables

ROWS = "rows:"
_FRESH = itertools.count()  # z3 declares enumeration sorts globally: each needs a new name


@dataclass(frozen=True)
class Model:
    """Sizes of the sorts (types, and ``rows:SOURCE``) and every symbol's table."""

    sizes: dict[str, int]
    tables: dict[str, dict[tuple[int, ...], int]]


def table_key(t: App) -> str:
    return t.symbol if not t.params else f"{t.symbol}[{','.join(map(repr, t.params))}]"


def evaluate(t: Term, model: Model, env: dict[str, int]) -> int:
    """The value of ``t`` in ``model`` with variables as in ``env``: plain table look-ups."""
    if isinstance(t, Var):
        return env[t.name]
    if base_name(t.symbol) == SCALE and t.params == (1.0,):
        return evaluate(t.args[0], model, env)
    return model.tables[table_key(t)][tuple(evaluate(a, model, env) for a in t.args)]


def domain_values(dom: Domain, model: Model) -> list[int]:
    """The values a variable over ``dom`` takes in ``model``."""
    if dom.full:
        return list(range(model.sizes[dom.type]))
    rows = range(model.sizes[ROWS + dom.source])
    if dom.index is None:
        return list(rows)
    return sorted({model.tables[f"proj:{dom.source}#{dom.index}"][(r,)] for r in rows})


def assignments(rule_vars: dict[str, Var], model: Model) -> Iterator[dict[str, int]]:
    names = list(rule_vars)
    for values in itertools.product(*(domain_values(rule_vars[n].domain, model) for n in names)):
        yield dict(zip(names, values, strict=True))


def holds(rule: Rule, model: Model) -> dict[str, int] | None:
    """None when ``rule`` holds in ``model`` for every assignment; else a failing one."""
    vs = variables(rule.lhs) | variables(rule.rhs)
    for env in assignments(vs, model):
        if evaluate(rule.lhs, model, env) != evaluate(rule.rhs, model, env):
            return env
    return None


@dataclass
class _Encoding:
    """One z3 problem for fixed sort sizes: an enumeration sort per type and support."""

    symbols: dict[str, Symbol]
    sources: dict[str, tuple[str, ...]]  # data source -> its output types
    sizes: dict[str, int]
    sorts: dict[str, z3.SortRef] = field(default_factory=dict)
    elems: dict[str, list[z3.ExprRef]] = field(default_factory=dict)
    funcs: dict[str, z3.FuncDeclRef] = field(default_factory=dict)
    solver: z3.Solver = field(default_factory=z3.Solver)

    def __post_init__(self) -> None:
        for name, n in self.sizes.items():
            k = next(_FRESH)
            self.sorts[name], self.elems[name] = z3.EnumSort(f"S{k}", [f"e{k}_{i}" for i in range(n)])

    def func(self, key: str, args: tuple[str, ...], result: str) -> z3.FuncDeclRef:
        if key not in self.funcs:
            self.funcs[key] = z3.Function(f"f{len(self.funcs)}", *(self.sorts[a] for a in args),
                                          self.sorts[result])
        return self.funcs[key]

    def proj(self, source: str, index: int) -> z3.FuncDeclRef:
        return self.func(f"proj:{source}#{index}", (ROWS + source,), self.sources[source][index])

    def term(self, t: Term, env: dict[str, z3.ExprRef]) -> z3.ExprRef:
        if isinstance(t, Var):
            return env[t.name]
        if base_name(t.symbol) == SCALE and t.params == (1.0,):
            return self.term(t.args[0], env)
        s = self.symbols[t.symbol]
        if s.kind == "proj":
            source, index = t.symbol[len("proj:"):].rsplit("#", 1)
            return self.proj(source, int(index))(self.term(t.args[0], env))
        f = self.func(table_key(t), s.args, s.result)
        return f(*(self.term(a, env) for a in t.args)) if t.args else f()

    def values(self, dom: Domain) -> list[z3.ExprRef]:
        if dom.full:
            return list(self.elems[dom.type])
        rows = self.elems[ROWS + dom.source]
        if dom.index is None:
            return list(rows)
        p = self.proj(dom.source, dom.index)
        return [p(r) for r in rows]

    def instances(self, rule: Rule) -> Iterator[tuple[z3.ExprRef, z3.ExprRef]]:
        vs = variables(rule.lhs) | variables(rule.rhs)
        names = list(vs)
        for values in itertools.product(*(self.values(vs[n].domain) for n in names)):
            env = dict(zip(names, values, strict=True))
            yield self.term(rule.lhs, env), self.term(rule.rhs, env)


def find(rules: list[Rule], goal: list[Rule], symbols: dict[str, Symbol],
         sources: dict[str, tuple[str, ...]], *, max_size: int = 3,
         seconds: float = 10.0) -> Model | None:
    """The smallest model found in which every rule holds and some goal equation fails."""
    terms = [t for r in (*rules, *goal) for t in (r.lhs, r.rhs)]
    types = sorted({s.result for s in symbols.values()}
                   | {a for s in symbols.values() if s.kind != "proj" for a in s.args}
                   | {v.domain.type for t in terms for v in variables(t).values() if v.domain.full}
                   | {t for outs in sources.values() for t in outs})
    used_sources = sorted(sources)
    start = time.monotonic()
    combos = sorted(itertools.product(range(1, max_size + 1), repeat=len(types)), key=sum)
    for combo in combos:
        for rows in (1, 2):
            if time.monotonic() - start > seconds:
                return None
            sizes = dict(zip(types, combo, strict=True)) | {ROWS + s: rows for s in used_sources}
            model = _solve(rules, goal, symbols, sources, sizes, terms)
            if model is not None:
                return model
            if not used_sources:
                break
    return None


def _apps(t: Term) -> Iterator[App]:
    if isinstance(t, App):
        yield t
        for a in t.args:
            yield from _apps(a)


def _solve(rules: list[Rule], goal: list[Rule], symbols: dict[str, Symbol],
           sources: dict[str, tuple[str, ...]], sizes: dict[str, int], terms: list[Term]) -> Model | None:
    enc = _Encoding(symbols, sources, sizes)
    for rule in rules:
        for lhs, rhs in enc.instances(rule):
            enc.solver.add(lhs == rhs)
    enc.solver.add(z3.Or([lhs != rhs for r in goal for lhs, rhs in enc.instances(r)]))
    _laws(enc, symbols, terms)
    consts = [(s, enc.func(s.name, (), s.result)()) for s in symbols.values() if s.kind == "const"]
    for (a, x), (b, y) in itertools.combinations(consts, 2):
        if a.result == b.result:
            enc.solver.add(x == y if a.value == b.value else x != y)
    for source, outs in sources.items():
        for i in range(len(outs)):
            enc.proj(source, i)
    if enc.solver.check() != z3.sat:
        return None
    return _read(enc, enc.solver.model())


def _laws(enc: _Encoding, symbols: dict[str, Symbol], terms: list[Term]) -> None:
    """Assert the law table.  Every ``scale[k]`` is the identity: a table for each factor
    met could not always be extended to every real factor obeying the composition law
    (the identity does, for all of them), so this keeps a countermodel a countermodel."""
    for s in symbols.values():
        if s.kind != "builtin":
            continue
        base, els = base_name(s.name), enc.elems[s.result]
        if base in ("add", "mul"):
            f = enc.func(s.name, s.args, s.result)
            for x, y in itertools.product(els, repeat=2):
                enc.solver.add(f(x, y) == f(y, x))
            for x, y, z in itertools.product(els, repeat=3):
                enc.solver.add(f(f(x, y), z) == f(x, f(y, z)))
        elif base == "neg":
            f = enc.func(s.name, s.args, s.result)
            for x in els:
                enc.solver.add(f(f(x)) == x)
    ks = {(u.symbol, u.params[0]) for t in terms for u in _apps(t) if base_name(u.symbol) == SCALE}
    for sym, k in ks:
        s = symbols[sym]
        f = enc.func(table_key(App(sym, (), (k,))), s.args, s.result)
        for x in enc.elems[s.result]:
            enc.solver.add(f(x) == x)


def _read(enc: _Encoding, m: z3.ModelRef) -> Model:
    index = {str(e): i for els in enc.elems.values() for i, e in enumerate(els)}
    tables: dict[str, dict[tuple[int, ...], int]] = {}
    for key, f in enc.funcs.items():
        domains = [next(n for n, s in enc.sorts.items() if s == f.domain(i)) for i in range(f.arity())]
        table = {}
        for args in itertools.product(*(range(enc.sizes[d]) for d in domains)):
            value = m.eval(f(*(enc.elems[d][a] for d, a in zip(domains, args, strict=True))),
                           model_completion=True)
            table[args] = index[str(value)]
        tables[key] = table
    return Model(dict(enc.sizes), tables)
