"""Deciding equalities by equality saturation with egglog.

The rules (tasks read pointwise, refinements, the builtins' laws) become
egglog rewrites over one sort of terms; a rule variable over a data source's
support carries a condition (the matched e-class is known to lie in that
support, a relation seeded by the goal's variables and closed under
projections and equalities).  The goal's variables are constants.  The
e-graph runs one iteration at a time, within a budget of iterations and
seconds, and stops early once the goal's sides meet or nothing changes.
"""

from __future__ import annotations

import itertools
import time
import zlib
from dataclasses import dataclass, field

from egglog import bindings

from taskdsl.reasoning.laws import SCALE, base_name
from taskdsl.reasoning.rewrite import in_domain, instantiate, usable
from taskdsl.reasoning.terms import App, Domain, Rule, Symbol, Term, Var, size, subterms, type_of, variables


@dataclass(frozen=True)
class Budget:
    iterations: int = 30
    seconds: float = 5.0


@dataclass
class Saturation:
    """An e-graph loaded with rules and ground terms, answering equality questions."""

    symbols: dict[str, Symbol]
    rules: list[Rule]
    names: dict[str, str] = field(default_factory=dict)
    graph: bindings.EGraph = field(default_factory=bindings.EGraph)
    ground: dict[Term, str] = field(default_factory=dict)
    iterations: int = 0
    saturated: bool = False
    constants: dict[str, Var] = field(default_factory=dict)  # egglog's constant -> the variable
    labels: dict[Term, str] = field(default_factory=dict)  # a projection's printed name

    def __post_init__(self) -> None:
        # Equal-width names: egglog 13.2 was seen to confuse a constructor with another whose
        # name it prefixes (`F1` with `F12`) once rewrites mention both.
        width = len(str(max(len(self.symbols) - 1, 0)))
        for i, name in enumerate(sorted(self.symbols)):
            self.names[name] = f"F{i:0{width}d}"
        ctors = ["(V String)"]
        for name, s in sorted(self.symbols.items()):
            params = " f64" if base_name(name) == SCALE else ""
            ctors.append(f"({self.names[name]}{params}{' Term' * len(s.args)})")
        program = [f"(datatype Term {' '.join(ctors)})", "(relation InDom (Term String))"]
        for name, s in self.symbols.items():
            if s.kind == "proj":
                source, index = name[len("proj:"):].rsplit("#", 1)
                program.append(
                    f'(rule ((= e ({self.names[name]} d)) (InDom d "{source}"))'
                    f' ((InDom e "{source}.{index}")))')
            if base_name(name) == SCALE:
                f = self.names[name]
                program.append(f"(rewrite ({f} a ({f} b x)) ({f} (* a b) x))")
                program.append(f"(rewrite ({f} 1.0 x) x)")
        for rule in self.rules:
            program.extend(self._rewrites(rule))
        # Two rules may read the same (a task's two equal output wires): egglog refuses a
        # rewrite given twice, so each is given once.
        self._run("\n".join(dict.fromkeys(program)))

    def _run(self, text: str) -> list:
        return self.graph.run_program(*self.graph.parse_program(text))

    def _expr(self, t: Term, pattern: bool) -> str:
        if isinstance(t, Var):
            # A constant is its name and domain: two tasks may draw `x` from different sources.
            if pattern:
                return f"v_{_ident(t.name)}"
            key = f"{t.name}@{t.domain}"
            self.constants.setdefault(key, t)
            return f'(V "{_escape(key)}")'
        if not pattern and t.label is not None:
            self.labels.setdefault(t, t.label)
        params = "".join(f" {float(p)!r}" for p in t.params)
        args = "".join(" " + self._expr(a, pattern) for a in t.args)
        return f"({self.names[t.symbol]}{params}{args})"

    def _rewrites(self, rule: Rule) -> list[str]:
        out = []
        for forward in (True, False):
            if not usable(rule, forward) or (not forward and rule.lhs == rule.rhs):
                continue
            src, dst = (rule.lhs, rule.rhs) if forward else (rule.rhs, rule.lhs)
            conds = " ".join(f'(InDom v_{_ident(v.name)} "{_dom(v.domain)}")'
                             for v in variables(src).values() if not v.domain.full)
            when = f" :when ({conds})" if conds else ""
            out.append(f"(rewrite {self._expr(src, True)} {self._expr(dst, True)}{when})")
        return out

    def add(self, t: Term) -> str:
        """Put a ground term in the e-graph (its variables as constants); its global name."""
        if t not in self.ground:
            name = f"$t{len(self.ground)}"
            self.ground[t] = name
            facts = [f"(let {name} {self._expr(t, False)})"]
            for v in variables(t).values():
                if not v.domain.full:
                    facts.append(f'(InDom {self._expr(v, False)} "{_dom(v.domain)}")')
            self._run("\n".join(facts))
        return self.ground[t]

    def seed(self, terms: list[Term], limit: int = 300) -> None:
        """Add each rule's sides instantiated with subterms of ``terms`` (within domains).

        E-matching finds a rule only where its whole left side is in the graph; a
        side like ``f(add(x, f(x)))`` needs ``f(x)``, which the goal may never build.
        Adding terms is always sound; ``limit`` bounds how many instances are added.
        """
        subs = list(dict.fromkeys(u for t in terms for u in subterms(t)))
        added = 0
        for rule in self.rules:
            vs = list((variables(rule.lhs) | variables(rule.rhs)).values())
            choices = [[u for u in subs if type_of(u, self.symbols) == v.domain.type
                        and in_domain(u, v.domain)] for v in vs]
            for combo in itertools.product(*choices):
                if added >= limit:
                    return
                env = {v.name: u for v, u in zip(vs, combo, strict=True)}
                self.add(instantiate(rule.lhs, env))
                self.add(instantiate(rule.rhs, env))
                added += 1

    def forms(self, t: Term, limit: int = 16) -> list[Term]:
        """Terms the e-graph knows equal to ``t``: the cheapest through each e-node of its
        class (up to ``limit``), smallest first.  Extraction is egglog's; this only reads
        its terms back (one piece of rewriting: the e-graph's)."""
        name = self.add(t)
        (out,) = self._run(f"(extract {name} {limit})")
        symbols = {v: k for k, v in self.names.items()}
        dag = out.termdag

        def read(node: int) -> Term:
            app = dag.get(node)
            if app.name == "V":
                return self.constants[dag.get(app.args[0]).value.value]
            symbol = symbols[app.name]
            args = [dag.get(a) for a in app.args]
            params = tuple(float(a.value.value) for a in args if not hasattr(a, "name"))
            rest = tuple(read(n) for n, a in zip(app.args, args, strict=True) if hasattr(a, "name"))
            built = App(symbol, rest, params)
            return App(symbol, rest, params, self.labels.get(built))

        found = list(dict.fromkeys([t, *(read(n) for n in out.terms)]))
        return sorted(found, key=size)

    def equal(self, a: Term, b: Term) -> bool:
        x, y = self.add(a), self.add(b)
        try:
            self._run(f"(check (= {x} {y}))")
        except bindings.EggSmolError:
            return False
        return True

    def saturate(self, budget: Budget, until: list[tuple[Term, Term]] = ()) -> bool:
        """Run until every pair in ``until`` is equal (True), or saturation or the budget."""
        start = time.monotonic()
        while True:
            if until and all(self.equal(a, b) for a, b in until):
                return True
            if self.saturated or self.iterations >= budget.iterations \
                    or time.monotonic() - start > budget.seconds:
                return False
            (out,) = self._run("(run 1)")
            self.iterations += 1
            self.saturated = not out.report.updated


def _dom(d: Domain) -> str:
    return f"{d.source}" if d.index is None else f"{d.source}.{d.index}"


def _ident(name: str) -> str:
    """An egglog variable for ``name``; the checksum keeps ``a.b`` and ``a_b`` apart."""
    return "".join(c if c.isalnum() else "_" for c in name) + f"_{zlib.crc32(name.encode()):x}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
