"""Tasks and objectives: equations with their draws, learners and divergences, and their sums."""

from __future__ import annotations

from collections.abc import Sequence

from taskdsl import syntax as ast
from taskdsl.builtins import (
    ALL_DIVERGENCES,
    DIVERGENCE_PARAMS,
    divergences_for,
    is_user_divergence,
)
from taskdsl.diagrams import Builder, Elaborator, TooLarge, box_budget, describe, finalize
from taskdsl.elaboration.base import of
from taskdsl.elaboration.claims import Claims
from taskdsl.ir import BoxKind, Declaration, Diagram, Draw, Equation, Objective, Term
from taskdsl.scope import ERROR_TYPE, Scope, suggest
from taskdsl.source import Span
from taskdsl.types import Signature, WireType


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
                sides = self._sides(item, builder, el)
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
            a != b and ERROR_TYPE not in (a, b) and not _comparable(a, b)
            for a, b in zip(lhs_types, rhs_types, strict=False)
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
        divergences, params = self._divergences(clauses, lhs_types, rhs_types)
        if not broken:
            self._slopes(lhs, divergences, clauses)
        return Equation(name, lhs, rhs, trains, divergences, tuple(draws), node.span,
                        trains_named=any(isinstance(c, ast.Trains) for c in clauses),
                        divergence_params=params if any(params) else ())

    def _sides(self, item: ast.EquationStmt, builder: Builder,
               el: Elaborator) -> tuple[list[int], list[int]]:
        """Both sides' output wires; a number on one side (``disc(x) = 1``) becomes a
        constant box of the type of the output opposite it."""
        wires: tuple[list[int | ast.NumberRef], list[int | ast.NumberRef]] = ([], [])
        for side, exprs in zip(wires, (item.lhs, item.rhs), strict=True):
            for expr in exprs:
                if isinstance(expr, ast.NumberRef):
                    side.append(expr)
                else:
                    side.extend(el.wire_list([expr])[0])
        result: tuple[list[int], list[int]] = ([], [])
        for this, other, out in ((0, 1, result[0]), (1, 0, result[1])):
            for i, w in enumerate(wires[this]):
                if not isinstance(w, ast.NumberRef):
                    out.append(w)
                    continue
                opposite = wires[other][i] if i < len(wires[other]) else None
                if not isinstance(opposite, int):
                    self.diags.error("literal-side", w.span, found=w.name)
                    continue
                wire_type = builder.wires[opposite].type
                problem = _literal_problem(w.value, wire_type)
                if problem is not None:
                    self.diags.error("type-mismatch", w.span,
                                     where=f"a number opposite `{wire_type.described()}`",
                                     found=f"{w.name} ({problem})")
                    out.append(builder.wire(ERROR_TYPE))
                    continue
                # Named with its type: `1` on Real[1] and `1` on Class[4] are two constants
                # (the reasoning tells constants apart by name).
                name = f"{w.name}:{wire_type.structural()}"
                out.extend(builder.box(BoxKind.CONST, name, [], [wire_type], w.span,
                                       decl=_literal_decl(w, wire_type)))
        return result

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
        # An EMA learner (`learner t = ema(f, 0.99)`) is never trained by gradient.
        ema = {n for n in learners if (d := scope.boxes.get(n)) is not None and d.follows}
        if not trains_clauses:
            return tuple(n for n in learners if n not in ema)
        chosen: list[str] = []
        for ref in trains_clauses[0].names:
            decl = scope.boxes.get(ref.name)
            if decl is not None and decl.follows is not None:
                self.diags.error("trains-ema", ref.span, name=ref.name,
                                 followed=decl.follows[0])
                continue
            inner = self.refinement_learners(ref.name, scope, ref.span)
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

    def _divergences(self, clauses: list[ast.Clause], types: list[WireType],
                     rhs_types: list[WireType] | None = None
                     ) -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...]]:
        """One divergence per compared output (``by d`` for all, ``by d1, d2`` one each, the
        kinds' defaults otherwise), and each one's numbers in brackets (``kl[2]``)."""
        by = [c for c in clauses if isinstance(c, ast.By)]
        for extra in by[1:]:
            self.diags.error("repeated-clause", extra.span, clause="by")
        names: list[str | None] = list(by[0].all_names) if by else []
        params: list[tuple[int | float, ...]] = [by[0].params_of(i) for i in range(len(names))]
        if len(names) > 1 and len(names) != len(types):
            self.diags.error("by-count", by[0].span, count=len(names), wires=len(types))
            names, params = [], []  # the kinds' defaults: no second error from a guess
        for i, chosen in enumerate(names):
            if chosen is not None and is_user_divergence(chosen):
                continue  # the user's own, by dotted path: the backend's check imports it
            if chosen is not None and chosen not in ALL_DIVERGENCES:
                self.diags.error("unknown-divergence", by[0].span, name=chosen,
                                 allowed=", ".join(ALL_DIVERGENCES),
                                 help=suggest(chosen, ALL_DIVERGENCES))
                names[i], params[i] = None, ()
            elif chosen is not None:
                params[i] = self._divergence_params(chosen, params[i], by[0].span)
        rhs_types = rhs_types if rhs_types is not None else types
        result: list[str] = []
        result_params: list[tuple[float, ...]] = []
        for i, t in enumerate(types):
            j = i if len(names) > 1 else 0
            chosen = names[j] if names else None
            rhs = rhs_types[i] if i < len(rhs_types) else t
            if chosen is not None and is_user_divergence(chosen):
                result.append(chosen)  # any wires: the backend's check traces it on them
                result_params.append(())
                continue
            allowed = divergences_for(t.kind, rhs.kind) if _comparable(t, rhs) else (
                divergences_for(t.kind, t.kind))
            if allowed is None:  # a type variable or an error: known only at `use`
                result.append(chosen or "auto")
            elif chosen is None:
                result.append(allowed[0])
            elif chosen not in allowed:
                if not _comparable(t, rhs):  # `side-types` said it: no guess at a divergence
                    result.append(allowed[0])
                    result_params.append(())
                    continue
                kinds = t.described() if t.kind == rhs.kind else (
                    f"{t.described()} with {rhs.described()}")
                self.diags.error("divergence-type", by[0].span, name=chosen, type=kinds,
                                 allowed=", ".join(allowed))
                result.append(allowed[0])
            else:
                result.append(chosen)
            kept = params[j] if names and result[-1] == chosen else ()
            if kept and t.kind != "Class" and chosen != "infonce":  # softened classes only
                self.diags.error("divergence-param", by[0].span, name=chosen,
                                 problem=f"takes a temperature only on Class wires, not on "
                                         f"`{t.described()}`",
                                 found=f"{chosen}[{', '.join(map(str, kept))}]",
                                 help=f"write `by {chosen}` here")
                kept = ()
            result_params.append(tuple(float(p) for p in kept))
        return tuple(result), tuple(result_params)

    def _slopes(self, lhs: Diagram, divergences: tuple[str, ...],
                clauses: list[ast.Clause]) -> None:
        """``f(w) = 1 by slope`` differentiates ``f`` in its input: its lhs must be one
        learner applied to one Real wire, nothing after it."""
        by = next((c for c in clauses if isinstance(c, ast.By)), None)
        for wire, divergence in zip(lhs.outputs, divergences, strict=False):
            if divergence != "slope" or by is None:
                continue
            box = lhs.producers.get(wire)
            fits = (box is not None and box.kind is BoxKind.LEARNER and len(box.inputs) == 1
                    and len(box.outputs) == 1
                    and lhs.wires[box.inputs[0]].type.kind == "Real")
            if not fits:
                found = "no learner" if box is None else f"`{box.name}` ({box.kind.value})"
                self.diags.error("slope-side", by.span, found=found)

    def _divergence_params(self, name: str, params: tuple[int | float, ...],
                           span: Span) -> tuple[int | float, ...]:
        """``name``'s numbers in brackets, checked: at most its one parameter, positive."""
        if not params:
            return ()
        meaning = DIVERGENCE_PARAMS.get(name)
        if meaning is None:
            takes = list(DIVERGENCE_PARAMS)
            self.diags.error("divergence-param", span, name=name,
                             problem="takes no number in brackets",
                             found=f"{name}[{', '.join(map(str, params))}]",
                             help="only " + " and ".join(f"`{n}[...]`" for n in takes)
                             + (" take one" if len(takes) > 1 else " takes one"))
            return ()
        if len(params) != 1 or params[0] <= 0:
            self.diags.error("divergence-param", span, name=name,
                             problem=f"takes one positive number in brackets, its {meaning[0]}",
                             found=f"{name}[{', '.join(map(str, params))}]",
                             help=f"write `{name}[2]` for a {meaning[0]} of 2")
            return ()
        return params

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
            if isinstance(term.weight, str):  # a pattern's number parameters are substituted
                self.diags.error("weight-outside-pattern", term.span, name=term.weight,
                                 task=term.name)
                term = ast.Term(None, term.name, term.span, term.negated)
            weight = 1.0 if term.weight is None else float(term.weight)
            if term.negated:
                weight = -weight
            if weight == 0:
                self.diags.error("objective-weight", term.span, weight=str(term.weight))
            if term.name in scope.tasks:
                self._signed(weight, scope.tasks[term.name], term)
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
                    for t in inner.terms:
                        self._signed(weight * t.weight, t.equation, term)
                    terms.extend(Term(weight * t.weight, t.equation) for t in inner.terms)
            else:
                self.diags.error("undefined", term.span, what="task or objective", name=term.name,
                                 help=suggest(term.name, [*scope.tasks, *scope.objective_nodes]))
        objective = Objective(name, tuple(terms), node.span)
        scope.objectives[name] = objective
        return objective

    def _signed(self, weight: float, equation: Equation, term: ast.Term) -> None:
        """A negative weight maximises its task: only a linear critic (``wass``) has a
        maximum worth seeking, so any other divergence there is an error."""
        others = [d for d in equation.divergences if d not in ("wass", "auto")]
        if weight < 0 and others:
            shown = _weight_text(term)
            self.diags.error("objective-sign", term.span, weight=shown, name=equation.name,
                             divergences=", ".join(dict.fromkeys(others)))


def _weight_text(term: ast.Term) -> str:
    weight = 1 if term.weight is None else term.weight
    return f"-{weight}" if term.negated else str(weight)


def _comparable(lhs: WireType, rhs: WireType) -> bool:
    """Sides of two kinds some divergence compares (``Gaussian[d]`` with ``Real[d]``)."""
    return lhs == rhs or (lhs.kind != rhs.kind and lhs.shape == rhs.shape
                          and divergences_for(lhs.kind, rhs.kind) is not None)


def _literal_problem(value: int | float, wire_type: WireType) -> str | None:
    """Why ``value`` cannot be a constant on ``wire_type``: a class index out of range, or
    a bit probability outside [0, 1]; None where it can."""
    if wire_type.kind in ("Class", "Tokens") and isinstance(wire_type.shape[0], int) and (
            not float(value).is_integer() or not 0 <= value < wire_type.shape[0]):
        return "not one of its classes"
    if wire_type.kind == "Binary" and not 0 <= value <= 1:
        return "not a probability in [0, 1]"
    return None


def _literal_decl(literal: ast.NumberRef, wire_type: WireType) -> Declaration:
    """The constant a number in an equation stands for, as a declaration would give it."""
    return Declaration(literal.name, BoxKind.CONST, Signature((), (wire_type,)),
                       value=literal.value, span=literal.span)
