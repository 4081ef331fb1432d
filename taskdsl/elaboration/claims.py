"""Claims: what a file states follows from its tasks, elaborated into the IR.

A claim's goal is a task (resolved as ``taskdsl prove`` resolves one: exactly,
or by the last part of a pattern's task) or an equation, elaborated as a task
of its own in the scope the claim is written in.  An equation's variables are
not drawn in the claim: each takes the source that a task in scope draws the
same name from.  Nothing is proved here: ``taskdsl check`` proves claims
(:mod:`taskdsl.reasoning.claims`) once the file checks clean.

A claim at the top level of a file goes in ``Program.claims``; one inside a
pattern is elaborated once, when the pattern's body is checked generically,
into ``Program.generic`` (the pattern read with its source parameters over
their whole types), and not again at each ``use``: a pattern's claims are
checked where the pattern is written, not in every file that imports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass, replace
from types import MappingProxyType

from taskdsl import syntax as ast
from taskdsl.builtins import BUILTINS, STRUCTURAL
from taskdsl.diagrams import TooLarge
from taskdsl.elaboration.base import ElaborationState, of
from taskdsl.ir import EVERY_VALUE, Box, BoxKind, Claim, Diagram, Equation, PatternValue, Program
from taskdsl.scope import Scope, suggest
from taskdsl.source import Span


class Claims(ElaborationState):
    """Each claim's goal, and the generic reading of each pattern defined in the file."""

    # ------------------------------------------------ patterns, generically
    def _check_pattern(self, node: ast.Pattern, scope: Scope) -> None:
        self._generic_claims = {}
        self._generic_scope = None
        try:
            super()._check_pattern(node, scope)  # type: ignore[misc]
            if self._generic_scope is not None and node.name not in self.broken_patterns:
                child, export = self._generic_scope
                self.generic[node.name] = self._generic_program(node, child, export)
        finally:
            self._generic_claims = None
            self._generic_scope = None

    def _pattern_body(self, node: ast.Pattern, child: Scope, export: Scope, prefix: str) -> None:
        if self._generic_claims is not None and self._generic_scope is None:
            self._generic_scope = (child, export)
        super()._pattern_body(node, child, export, prefix)  # type: ignore[misc]

    def _generic_program(self, node: ast.Pattern, child: Scope, export: Scope) -> Program:
        """The pattern's tasks and claims over its parameters, each drawn one a source of
        every value of its type (:data:`EVERY_VALUE`)."""
        tasks = dict(export.tasks)
        claims = dict(self._generic_claims or {})
        drawn = {d.source for eq in [*tasks.values(), *(c.goal for c in claims.values())]
                 for d in eq.draws}
        boxes = dict(child.boxes)
        for param in node.params:
            decl = boxes.get(param)
            if decl is not None and decl.kind is BoxKind.CONST and param in drawn:
                boxes[param] = replace(decl, kind=BoxKind.RANDOM, distribution=EVERY_VALUE)
        sources = {n for n, d in boxes.items() if d.distribution == EVERY_VALUE}

        numbered = _numbers_named(node)
        by_named = _divergences_named(node)

        def generic(eq: Equation) -> Equation:
            ids = {d.box for d in eq.draws if d.source in sources}
            lhs, rhs = _as_random(eq.lhs, ids), _as_random(eq.rhs, ids)
            if numbered:
                lhs, rhs = _with_param_names(lhs, numbered), _with_param_names(rhs, numbered)
            names = by_named.get(eq.name, ())
            if names and len(names) < len(eq.divergences):  # `by d` once for every wire
                names = names[:1] * len(eq.divergences)
            return replace(eq, lhs=lhs, rhs=rhs, divergence_names=names)

        return Program(
            path=self.path,
            aliases=MappingProxyType({}),
            declarations=MappingProxyType(boxes),
            defs=MappingProxyType({}),
            refinements=MappingProxyType({k: v for k, v in self.diagrams.items()
                                          if k in child.refines}),
            tasks=MappingProxyType({k: generic(v) for k, v in tasks.items()}),
            objectives=MappingProxyType({}),
            impls=MappingProxyType({}),
            trainings=MappingProxyType({}),
            claims=MappingProxyType({k: replace(c, goal=generic(c.goal))
                                     for k, c in claims.items()}),
            values=MappingProxyType({vp.name: PatternValue(vp.name, vp.kind, _default(vp))
                                     for vp in node.values}),
        )

    # ---------------------------------------------------------- claims
    def _claims(self, items: Sequence, scope: Scope, export: Scope) -> None:
        """Elaborate the claims among ``items``: at the top level (``export`` is
        ``scope``) or in a pattern checked generically; at a ``use``, not again."""
        if export is scope:
            into = self.claims
        elif self._generic_claims is not None and self._generic_scope is not None \
                and self._generic_scope[1] is export:
            into = self._generic_claims
        else:
            return
        for node in of(items, ast.Claim):
            if node.name in into:
                self.diags.error("duplicate", node.span, name=f"claim {node.name}",
                                 first=str(into[node.name].span))
                continue
            claim = self._claim(node, scope)
            if claim is not None:
                into[node.name] = claim

    def _claim(self, node: ast.Claim, scope: Scope) -> Claim | None:
        claim = self._claim_goal(node, scope)
        return None if claim is None else replace(claim, span=_written(node))

    def _claim_goal(self, node: ast.Claim, scope: Scope) -> Claim | None:
        using = None
        if node.using is not None:
            names = [self._claim_task(ref, scope) for ref in node.using]
            if None in names:
                return None
            using = tuple(dict.fromkeys(n for n in names if n is not None))
        if node.task is not None:
            name = self._claim_task(node.task, scope)
            if name is None:
                return None
            return Claim(node.name, scope.tasks[name], name, using, node.task.name, node.span)
        draws = self._claim_draws(node, scope)
        if draws is None:
            return None
        task = ast.Task(f"claim {node.name}", (*draws, ast.EquationStmt(node.lhs, node.rhs, ())),
                        node.span)
        before = len(self.diags.items)
        try:
            equation = self._task(task, scope, f"claim {node.name}")  # type: ignore[attr-defined]
        except RecursionError:
            self._too_deep(node.span, node.name)
            return None
        except TooLarge as error:
            self._too_large(node.span, node.name, error)
            return None
        # A goal may mention no learner (`x = x`): it is a question, not a training term.
        self.diags.items[before:] = [d for d in self.diags.items[before:] if d.code != "vacuous"]
        if equation is None or any(d.severity == "error" for d in self.diags.items[before:]):
            return None
        from taskdsl.fmt import claim_goal  # the goal as `prove` would print it

        return Claim(node.name, equation, None, using, claim_goal(node), node.span)

    def _claim_task(self, ref: ast.Ref, scope: Scope) -> str | None:
        """``ref`` as a task in scope: exactly, or as the last part of one pattern task."""
        if ref.name in scope.tasks:
            return ref.name
        ends = [t for t in scope.tasks if t.endswith("." + ref.name)]
        if len(ends) == 1:
            return ends[0]
        self.diags.error("undefined", ref.span, what="task", name=ref.name,
                         help=suggest(ref.name, list(scope.tasks)))
        return None

    def _claim_draws(self, node: ast.Claim, scope: Scope) -> list[ast.Draw] | None:
        """A draw for each free variable of an equation claim, from the tasks' draws."""
        known = {*scope.boxes, *scope.defs, *scope.refines, *BUILTINS, *STRUCTURAL}
        chosen: dict[tuple[str, int], tuple[str, int, dict[int, str]]] = {}
        bound: set[str] = set()
        ok = True
        for ref in _variables([*node.lhs, *node.rhs]):
            if ref.name in known or ref.name in bound or ref.name == "_":
                continue
            bound.add(ref.name)
            found = next(((t, d) for t, eq in scope.tasks.items() for d in eq.draws
                          if ref.name in d.names), None)
            if found is None:
                self.diags.error("claim-unbound", ref.span, name=ref.name, claim=node.name)
                ok = False
                continue
            task, draw = found
            decl = scope.boxes.get(draw.source)
            # Bind every output (but a pattern's open tail: the ones the task bound).
            width = (len(draw.names) if decl is None or draw.source in scope.open_tail
                     else len(decl.signature.outputs))
            entry = chosen.setdefault((task, draw.box), (draw.source, width, {}))
            entry[2][draw.names.index(ref.name)] = ref.name
        if not ok:
            return None
        return [ast.Draw(tuple(ast.Ref(names.get(i, "_"), (), node.span) for i in range(width)),
                         source, node.span)
                for source, width, names in chosen.values()]


def _written(node: ast.Claim) -> Span:
    """Where the claim is written: from ``claim`` to its last name, not over the line's end
    (a trailing comment) as the statement's own span runs."""
    last = (node.using[-1] if node.using else node.task if node.task is not None
            else node.rhs[-1]).span
    return Span(node.span.file, node.span.line, node.span.column, last.end_line, last.end_column)


def _variables(exprs: Sequence[ast.Expr]) -> Iterator[ast.Ref]:
    """The plain names of ``exprs`` that stand for values (not a call's head, not a box
    in point-free composition)."""
    for e in exprs:
        if isinstance(e, ast.Ref):
            if not e.args and "." not in e.name:
                yield e
        elif isinstance(e, ast.Call):
            yield from _variables(e.args)


def _as_random(d: Diagram, ids: set[int]) -> Diagram:
    boxes = tuple(replace(b, kind=BoxKind.RANDOM, distribution=EVERY_VALUE)
                  if b.id in ids and b.kind is BoxKind.CONST else b for b in d.boxes)
    return replace(d, boxes=boxes)


# ---------------------------------------------- value parameters, generically
def _nodes(node: object) -> Iterator[object]:
    """Every syntax node under ``node`` (itself included), depth first."""
    if isinstance(node, tuple):
        for item in node:
            yield from _nodes(item)
    elif is_dataclass(node) and not isinstance(node, Span | type):
        yield node
        for f in fields(node):
            if f.name != "span":
                yield from _nodes(getattr(node, f.name))


def _numbers_named(node: ast.Pattern) -> dict[tuple[str, int, int], tuple[str | None, ...]]:
    """Where each box written with a number parameter in its brackets (``scale[sigma]``)
    starts, with the parameter each bracket names (None for a number written)."""
    numbers = {vp.name for vp in node.values if vp.kind == "number"}
    found = {}
    for ref in _nodes(node.items):
        if isinstance(ref, ast.Ref) and ref.args:
            names = tuple(a.name if isinstance(a, ast.TypeExpr) and a.dims is None
                          and a.name in numbers else None for a in ref.args)
            if any(names):
                found[(ref.span.file, ref.span.line, ref.span.column)] = names
    return found


def _divergences_named(node: ast.Pattern) -> dict[str, tuple[str | None, ...]]:
    """Each task whose ``by`` names a divergence parameter, with the parameter each
    output's divergence names (None for a divergence written)."""
    params = {vp.name for vp in node.values if vp.kind == "divergence"}
    found = {}
    for task in _nodes(node.items):
        if isinstance(task, ast.Task):
            for by in _nodes(task.items):
                if isinstance(by, ast.By) and params & set(by.all_names):
                    found[task.name] = tuple(n if n in params else None for n in by.all_names)
    return found


def _with_param_names(diagram: Diagram,
                      named: dict[tuple[str, int, int], tuple[str | None, ...]]) -> Diagram:
    """``diagram`` with each box written with number parameters knowing their names."""
    def named_box(box: Box) -> Box:
        names = named.get((box.span.file, box.span.line, box.span.column))
        return replace(box, param_names=names) if names and box.params else box

    return replace(diagram, boxes=tuple(named_box(b) for b in diagram.boxes))


def _default(vp: ast.ValueParam) -> int | float | str | None:
    """A value parameter's default as shown: a number, or a divergence's name."""
    if isinstance(vp.default, ast.TypeExpr):
        return vp.default.name
    return vp.default
