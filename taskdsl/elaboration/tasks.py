"""Tasks and objectives: equations with their draws, learners and divergences, and their sums."""

from __future__ import annotations

from collections.abc import Sequence

from taskdsl import syntax as ast
from taskdsl.builtins import ALL_DIVERGENCES, DIVERGENCES
from taskdsl.diagrams import Builder, Elaborator, TooLarge, box_budget, describe, finalize
from taskdsl.elaboration.base import of
from taskdsl.elaboration.claims import Claims
from taskdsl.ir import BoxKind, Draw, Equation, Objective, Term
from taskdsl.scope import ERROR_TYPE, Scope, suggest
from taskdsl.source import Span
from taskdsl.types import WireType


class Tasks(Claims):
    """Each task's equation, and each objective's weighted terms (nested ones flattened);
    claims (:class:`Claims`) come after both, as they may name any task in scope."""

    def _tasks_and_objectives(self, items: Sequence, scope: Scope, export: Scope,
                              prefix: str) -> None:
        for node in of(items, ast.Task):
            name = prefix + node.name
            if self._declare(export, name, node.span):
                try:
                    equation = self._task(node, scope, name)
                except RecursionError:
                    self._too_deep(node.span, name)
                    continue
                except TooLarge as error:
                    self._too_large(node.span, name, error)
                    continue
                if equation is not None:
                    scope.tasks[node.name] = equation
                    export.tasks[name] = equation
        for node in of(items, ast.Use):
            self._use(node, scope)
        for node in of(items, ast.Objective):
            if self._declare(export, prefix + node.name, node.span):
                scope.objective_nodes[node.name] = node
        for node in [n for n in of(items, ast.Objective) if scope.objective_nodes.get(n.name) is n]:
            objective = self._objective(node.name, scope, [])
            if objective is not None:
                objective = Objective(prefix + node.name, objective.terms, node.span)
                export.objectives[prefix + node.name] = objective
        self._claims(items, scope, export)

    def _task(self, node: ast.Task, scope: Scope, name: str) -> Equation | None:
        builder = Builder(allowance=self.allowance)
        errors_before = len(self.diags.errors)
        el = Elaborator(scope, builder, self.diags, self)
        draws: list[Draw] = []
        sides: tuple[list[int], list[int]] | None = None
        side_spans: list[Span] = []
        clauses: list[ast.Clause] = []
        for item in node.items:
            if isinstance(item, ast.Draw):
                draw = self._draw(item, scope, builder, el)
                if draw is not None:
                    draws.append(draw)
            elif isinstance(item, ast.Let):
                wires, _ = el.wire_list(item.values)
                self._bind(item.targets, wires, el, item.span)
            elif isinstance(item, ast.EquationStmt):
                if sides is not None:
                    self.diags.error("two-equations", item.span, name=node.name)
                    continue
                sides = (el.wire_list(item.lhs)[0], el.wire_list(item.rhs)[0])
                first, last = item.lhs[0].span, item.rhs[-1].span  # the sides, not the clauses
                side_spans = [Span(first.file, first.line, first.column, last.end_line,
                                   last.end_column)]
                clauses.extend(item.clauses)
            else:
                clauses.extend(item.clauses)
        if sides is None:
            self.diags.error("no-equation", node.span, name=node.name)
            return None
        lhs_wires, rhs_wires = sides
        lhs_types = [builder.wires[w].type for w in lhs_wires]
        rhs_types = [builder.wires[w].type for w in rhs_wires]
        if len(lhs_types) != len(rhs_types) or any(
            a != b and ERROR_TYPE not in (a, b) for a, b in zip(lhs_types, rhs_types, strict=False)
        ):
            self.diags.error("side-types", side_spans[0], lhs=describe(lhs_types),
                             rhs=describe(rhs_types))
        lhs = finalize(builder, lhs_wires)
        rhs = finalize(builder, rhs_wires)
        kept = {b.id for b in (*lhs.boxes, *rhs.boxes)}
        # After an error in this task (or a broken def it uses), what learners
        # appear is unknown: say nothing that follows from a wrong picture.
        broken = len(self.diags.errors) > errors_before or ERROR_TYPE in (*lhs_types, *rhs_types)
        for box in builder.boxes:
            if box.kind is BoxKind.LEARNER and box.id not in kept and not broken:
                self.diags.warning("discarded-learner", box.span, name=box.name)
        learners = tuple(dict.fromkeys(lhs.learners() + rhs.learners()))
        if not learners and not broken:
            self.diags.error("vacuous", node.span, name=node.name)
        trains = self._trains(clauses, learners, scope, quiet=broken)
        divergences = self._divergences(clauses, lhs_types)
        return Equation(name, lhs, rhs, trains, divergences, tuple(draws), node.span,
                        trains_named=any(isinstance(c, ast.Trains) for c in clauses))

    def _draw(self, item: ast.Draw, scope: Scope, builder: Builder, el: Elaborator) -> Draw | None:
        decl = scope.boxes.get(item.source)
        if decl is None:
            self.diags.error("undefined", item.span, what="source", name=item.source,
                             help=suggest(item.source, [n for n, d in scope.boxes.items()
                                                        if d.kind.is_source]))
            return None
        if not decl.kind.is_source:
            self.diags.error("wrong-kind", item.span, name=item.source, actual=decl.kind.value,
                             wanted="data or random source")
            return None
        outputs = builder.box(decl.kind, decl.name, [], decl.signature.outputs, item.span,
                              decl=decl)
        bound = outputs
        if item.source in scope.open_tail and len(item.targets) <= len(outputs):
            bound = outputs[: len(item.targets)]
        names = self._bind(item.targets, bound, el, item.span)
        return Draw(builder.boxes[-1].id, decl.name, names)

    def _bind(self, targets: Sequence[ast.Expr], wires: list[int], el: Elaborator,
              span: Span) -> tuple[str, ...]:
        names: list[str] = []
        for t in targets:
            if isinstance(t, ast.Ref) and not t.args and "." not in t.name:
                names.append(t.name)
            else:
                self.diags.error("bad-target", t.span, found="an expression")
                names.append("_")
        if len(names) != len(wires):
            self.diags.error("target-count", span, count=len(names), wires=len(wires))
        for n, w in zip(names, wires, strict=False):
            if n != "_":
                el.env[n] = w
                el.builder.name_wire(w, n)
        return tuple(names)

    def _trains(self, clauses: list[ast.Clause], learners: tuple[str, ...],
                scope: Scope, quiet: bool = False) -> tuple[str, ...]:
        trains_clauses = [c for c in clauses if isinstance(c, ast.Trains)]
        for extra in trains_clauses[1:]:
            self.diags.error("repeated-clause", extra.span, clause="trains")
        if not trains_clauses:
            return learners
        chosen: list[str] = []
        for ref in trains_clauses[0].names:
            decl = scope.boxes.get(ref.name)
            inner = self.refined_learners.get(decl.name if decl else ref.name)
            if decl is None and inner is None:
                self.diags.error("undefined", ref.span, what="learner", name=ref.name,
                                 help=suggest(ref.name, learners))
                continue
            if inner is None and decl is not None and decl.kind is not BoxKind.LEARNER:
                self.diags.error("trains-not-learner", ref.span, name=ref.name, kind=decl.kind.value)
                continue
            names = inner if inner is not None else (decl.name,)  # type: ignore[union-attr]
            absent = [n for n in names if n not in learners]
            if absent and not quiet:
                self.diags.error("trains-absent", ref.span, name=ref.name,
                                 present=", ".join(learners) or "(none)",
                                 help=suggest(ref.name, learners))
            chosen.extend(n for n in names if n in learners)
        return tuple(dict.fromkeys(chosen))

    def _divergences(self, clauses: list[ast.Clause], types: list[WireType]) -> tuple[str, ...]:
        by = [c for c in clauses if isinstance(c, ast.By)]
        for extra in by[1:]:
            self.diags.error("repeated-clause", extra.span, clause="by")
        chosen = by[0].divergence if by else None
        if chosen is not None and chosen not in ALL_DIVERGENCES:
            self.diags.error("unknown-divergence", by[0].span, name=chosen,
                             allowed=", ".join(ALL_DIVERGENCES), help=suggest(chosen, ALL_DIVERGENCES))
            chosen = None
        result = []
        for t in types:
            allowed = DIVERGENCES.get(t.kind)
            if allowed is None:  # a type variable or an error: known only at `use`
                result.append(chosen or "auto")
            elif chosen is None:
                result.append(allowed[0])
            elif chosen not in allowed:
                self.diags.error("divergence-type", by[0].span, name=chosen, type=t.described(),
                                 allowed=", ".join(allowed))
                result.append(allowed[0])
            else:
                result.append(chosen)
        return tuple(result)

    # ------------------------------------------------------- objectives
    def _objective(self, name: str, scope: Scope, stack: list[str]) -> Objective | None:
        if name in scope.objectives:
            return scope.objectives[name]
        node = scope.objective_nodes[name]
        if name in stack:
            cycle = " -> ".join([*stack[stack.index(name):], name])
            self.diags.error("objective-cycle", node.span, name=name, cycle=cycle)
            return None
        terms: list[Term] = []
        budget = box_budget()
        for term in node.terms:
            weight = 1.0 if term.weight is None else float(term.weight)
            if weight <= 0:
                self.diags.error("objective-weight", term.span, weight=str(term.weight))
            if term.name in scope.tasks:
                terms.append(Term(weight, scope.tasks[term.name]))
            elif term.name in scope.objective_nodes or term.name in scope.objectives:
                try:
                    inner = (scope.objectives.get(term.name)
                             or self._objective(term.name, scope, [*stack, name]))
                except RecursionError:
                    self._too_deep(term.span, term.name)
                    inner = None
                if inner is not None:
                    try:  # nested objectives multiply their terms
                        if len(terms) + len(inner.terms) > budget:
                            raise TooLarge(budget)
                        self.allowance.take(len(inner.terms))
                    except TooLarge as error:
                        self._too_large(node.span, name, error, objective=True)
                        # Kept empty, so that the objectives using it do not build it again.
                        scope.objectives[name] = Objective(name, (), node.span)
                        return None
                    terms.extend(Term(weight * t.weight, t.equation) for t in inner.terms)
            else:
                self.diags.error("undefined", term.span, what="task or objective", name=term.name,
                                 help=suggest(term.name, [*scope.tasks, *scope.objective_nodes]))
        objective = Objective(name, tuple(terms), node.span)
        scope.objectives[name] = objective
        return objective
