"""Elaboration: a parsed file's statements to the IR, checking every rule on the way.

Statements are taken in phases, so that order in the file matters only where
it should (a draw before its use): types, then boxes, then defs and
refinements (built on first use, cycles reported), tasks, pattern uses,
objectives, and last the ``impl`` and ``train`` blocks.  Every error goes to
one :class:`Diagnostics` list; elaboration carries on past it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

from taskdsl import syntax as ast
from taskdsl.builtins import ALL_DIVERGENCES, DISTRIBUTIONS, DIVERGENCES
from taskdsl.diagnostics import Diagnostics
from taskdsl.diagrams import (
    Builder,
    Elaborator,
    TemplateSource,
    box_template,
    describe,
    finalize,
    resolve_type,
)
from taskdsl.ir import (
    BoxKind,
    Call,
    Declaration,
    Diagram,
    Draw,
    Equation,
    Name,
    Objective,
    Program,
    Term,
    TrainSpec,
)
from taskdsl.parser import collector_paused
from taskdsl.scope import ERROR_TYPE, PatternEntry, Scope, Template, is_type_var, suggest
from taskdsl.source import Span
from taskdsl.types import Signature, WireType


class ModuleElaborator(TemplateSource):
    """Elaborates one file's statements into a scope (and, at the end, a Program)."""

    def __init__(self, path: str, diags: Diagnostics):
        self.path = path
        self.diags = diags
        self.building: list[str] = []
        self.diagrams: dict[str, Diagram] = {}  # defs and refinements, for the Program
        self.refined_learners: dict[str, tuple[str, ...]] = {}
        self.broken_patterns: set[str] = set()
        self.impls: dict[str, Any] = {}
        self.impl_spans: dict[str, Span] = {}
        self.trainings: dict[str, TrainSpec] = {}
        # (scope, name) of defs that failed to build: reported once, not rebuilt at each use.
        self.failed: list[tuple[Scope, str]] = []

    # ------------------------------------------------------------ entry
    def run(self, module: ast.Module, scope: Scope) -> Scope:
        with collector_paused():
            return self._run(module, scope)

    def _run(self, module: ast.Module, scope: Scope) -> Scope:
        statements = module.statements
        for node in _of(statements, ast.TypeAlias):
            if self._declare(scope, node.name, node.span):
                scope.aliases[node.name] = resolve_type(node.type, scope, self.diags).named(node.name)
        for node in _of(statements, ast.BoxDecl):
            if self._declare(scope, node.name, node.span):
                scope.boxes[node.name] = self._declaration(node, scope)
        for node in _of(statements, ast.DiagramDef):
            if node.keyword == "def":
                if self._declare(scope, node.name, node.span):
                    scope.defs[node.name] = node
            elif node.name in scope.refines:
                self.diags.error("duplicate", node.span, name=f"refine {node.name}",
                                 first=str(scope.refines[node.name].span))
            else:
                scope.refines[node.name] = node
        for node in _of(statements, ast.Pattern):
            if self._declare(scope, node.name, node.span):
                scope.patterns[node.name] = PatternEntry(node, scope)
                self._check_pattern(node, scope)
        for node in _of(statements, ast.DiagramDef):
            self.lookup(node.name, scope, self.diags, node.span)
        self._tasks_and_objectives(statements, scope, scope, prefix="")
        for node in _of(statements, ast.Impl):
            self._impl(node, scope)
        for node in _of(statements, ast.Train):
            self._train(node, scope)
        return scope

    def program(self, scope: Scope) -> Program:
        def frozen(d: dict) -> MappingProxyType:
            return MappingProxyType(dict(d))

        return Program(
            path=self.path,
            aliases=frozen({k: v for k, v in scope.aliases.items() if not is_type_var(v)}),
            declarations=frozen(scope.boxes),
            defs=frozen({k: v for k, v in self.diagrams.items() if k in scope.defs}),
            refinements=frozen({k: v for k, v in self.diagrams.items() if k in scope.refines}),
            tasks=frozen(scope.tasks),
            objectives=frozen(scope.objectives),
            impls=frozen(self.impls),
            trainings=frozen(self.trainings),
            impl_spans=frozen(self.impl_spans),
        )

    def _declare(self, scope: Scope, name: str, span: Span) -> bool:
        if name in scope.first_seen or scope.defines(name):
            first = scope.first_seen.get(name)
            self.diags.error("duplicate", span, name=name, first=str(first) if first else "an import")
            return False
        scope.first_seen[name] = span
        return True

    # ----------------------------------------------------- declarations
    def _signature(self, sig: ast.SigExpr, scope: Scope) -> Signature:
        return Signature(
            tuple(resolve_type(t, scope, self.diags) for t in sig.inputs),
            tuple(resolve_type(t, scope, self.diags) for t in sig.outputs),
        )

    def _declaration(self, node: ast.BoxDecl, scope: Scope) -> Declaration:
        kind = BoxKind(node.kind)
        sig = self._signature(node.sig, scope)
        name = node.name
        if node.sig.open_tail:
            self.diags.error("open-tail", node.span)
        if kind.is_source and sig.inputs:
            self.diags.error("source-inputs", node.span, kind=node.kind, name=name,
                             count=len(sig.inputs))
        if not sig.outputs:
            self.diags.error("box-no-outputs", node.span, name=name)
        params: tuple = ()
        if kind is BoxKind.RANDOM:
            params = self._distribution(node, sig)
        elif node.distribution is not None:
            self.diags.error("misplaced-distribution", node.span, name=name, kind=node.kind)
        if kind is BoxKind.CONST:
            if node.value is None:
                self.diags.error("const-value", node.span, name=name)
            params = (node.value if node.value is not None else 0,)
        elif node.value is not None:
            self.diags.error("misplaced-value", node.span, name=name, kind=node.kind)
        return Declaration(name, kind, sig, params, node.span)

    def _distribution(self, node: ast.BoxDecl, sig: Signature) -> tuple:
        if node.distribution is None:
            self.diags.error("source-no-distribution", node.span, name=node.name)
            return ("uniform",)
        for t in sig.outputs:
            allowed = DISTRIBUTIONS.get(t.kind)
            if allowed is not None and node.distribution not in allowed:
                self.diags.error("bad-distribution", node.span, type=t.described(),
                                 dist=node.distribution, allowed=", ".join(allowed) or "none")
        return (node.distribution,)

    # ------------------------------------------------- defs, refinements
    def lookup(self, name: str, scope: Scope, diags: Diagnostics, span: Span) -> Template | None:
        """The template of a def or refined learner, building (and checking) it once."""
        if name in scope.templates:
            return scope.templates[name]
        node = scope.refines.get(name) or scope.defs.get(name)
        if node is None or any(s is scope and n == name for s, n in self.failed):
            return None
        if name in self.building:
            members = self.building[self.building.index(name):]
            cycle = " -> ".join([*members, name])
            self.diags.error("recursive-def", node.span, name=name, cycle=cycle)
            self.failed.extend((scope, n) for n in members)
            return None
        self.building.append(name)
        try:
            template = self._build(node, scope)
        except RecursionError:
            self._too_deep(node.span, name)
            template = None
        finally:
            self.building.pop()
        if template is not None:
            scope.templates[name] = template
        else:
            self.failed.append((scope, name))
        return template

    def _too_deep(self, span: Span, name: str) -> None:
        """Report a def, task or objective built from a chain of definitions too long to
        check (Python's stack runs out), instead of crashing."""
        self.diags.error("syntax", span, message=f"`{name}` is nested too deeply to check",
                         help="it is built from a chain of definitions hundreds deep; "
                              "shorten the chain")

    def _build(self, node: ast.DiagramDef, scope: Scope) -> Template | None:
        learner = scope.boxes.get(node.name) if node.keyword == "refine" else None
        if node.keyword == "refine":
            if learner is None:
                self.diags.error("undefined", node.span, what="learner", name=node.name,
                                 help=suggest(node.name, scope.boxes))
                return None
            if learner.kind is not BoxKind.LEARNER:
                self.diags.error("refine-not-learner", node.span, name=node.name,
                                 kind=learner.kind.value)
                return None
        builder = Builder()
        elaborator = Elaborator(scope, builder, self.diags, self)
        if node.params is None:
            if len(node.body) != 1:
                self.diags.error("syntax", node.span, message="a point-free diagram is one expression",
                                 help="give the def parameters to write several outputs")
                return None
            inner = elaborator.template(node.body[0])
            if inner is None:
                return None
            inputs = [builder.wire(t, f"x{i}") for i, t in enumerate(inner.inputs)]
            outputs = inner.apply(builder, inputs, node.span)
            body = inner.apply
        else:
            param_types = self._param_types(node, learner, scope)
            if param_types is None:
                return None
            inputs = [builder.wire(t, p.name) for t, p in zip(param_types, node.params, strict=True)]
            elaborator.env = {p.name: w for p, w in zip(node.params, inputs, strict=True)}
            outputs, _ = elaborator.wire_list(node.body)
            body = self._pointed_body(node, scope)
        diagram = finalize(builder, outputs, inputs)
        self.diagrams[node.name] = diagram
        if learner is not None:
            if diagram.signature != learner.signature:
                self.diags.error("refine-type", node.span, name=node.name,
                                 expected=str(learner.signature), found=str(diagram.signature))
                return box_template(learner)
            self.refined_learners[node.name] = diagram.learners()
        name = node.name

        def apply(b: Builder, ws: list[int], span: Span) -> list[int]:
            b.group.append(name)
            try:
                return body(b, ws, span)
            finally:
                b.group.pop()

        return Template(name, diagram.input_types, diagram.output_types, apply)

    def _param_types(self, node: ast.DiagramDef, learner: Declaration | None,
                     scope: Scope) -> list[WireType] | None:
        params = node.params or ()
        if learner is not None and len(params) != len(learner.signature.inputs):
            self.diags.error("refine-params", node.span, name=node.name, count=len(params),
                             wanted=len(learner.signature.inputs), signature=str(learner.signature))
            return None
        types = []
        for i, p in enumerate(params):
            if p.type is not None:
                types.append(resolve_type(p.type, scope, self.diags))
            elif learner is not None:
                types.append(learner.signature.inputs[i])
            else:
                self.diags.error("def-param-type", p.span, name=p.name, def_name=node.name)
                types.append(ERROR_TYPE)
        return types

    def _pointed_body(self, node: ast.DiagramDef,
                      scope: Scope) -> Callable[[Builder, list[int], Span], list[int]]:
        names = [p.name for p in node.params or ()]

        def body(b: Builder, ws: list[int], span: Span) -> list[int]:
            # Checked once when built; errors are not reported again at each use.
            inner = Elaborator(scope, b, Diagnostics(), self)
            inner.env = dict(zip(names, ws, strict=True))
            return inner.wire_list(node.body)[0]

        return body

    # ------------------------------------------------------------ tasks
    def _tasks_and_objectives(self, items: Sequence, scope: Scope, export: Scope,
                              prefix: str) -> None:
        for node in _of(items, ast.Task):
            name = prefix + node.name
            if self._declare(export, name, node.span):
                try:
                    equation = self._task(node, scope, name)
                except RecursionError:
                    self._too_deep(node.span, name)
                    continue
                if equation is not None:
                    scope.tasks[node.name] = equation
                    export.tasks[name] = equation
        for node in _of(items, ast.Use):
            self._use(node, scope)
        for node in _of(items, ast.Objective):
            if self._declare(export, prefix + node.name, node.span):
                scope.objective_nodes[node.name] = node
        for node in [n for n in _of(items, ast.Objective) if scope.objective_nodes.get(n.name) is n]:
            objective = self._objective(node.name, scope, [])
            if objective is not None:
                objective = Objective(prefix + node.name, objective.terms, node.span)
                export.objectives[prefix + node.name] = objective

    def _task(self, node: ast.Task, scope: Scope, name: str) -> Equation | None:
        builder = Builder()
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
                              decl.params)
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
                    terms.extend(Term(weight * t.weight, t.equation) for t in inner.terms)
            else:
                self.diags.error("undefined", term.span, what="task or objective", name=term.name,
                                 help=suggest(term.name, [*scope.tasks, *scope.objective_nodes]))
        objective = Objective(name, tuple(terms), node.span)
        scope.objectives[name] = objective
        return objective

    # --------------------------------------------------------- patterns
    def _pattern_sigs(self, node: ast.Pattern) -> dict[str, ast.ParamSig]:
        return {item.name: item for item in _of(node.items, ast.ParamSig)}

    def _check_pattern(self, node: ast.Pattern, scope: Scope) -> None:
        """Check a pattern's body once, generically: type parameters as opaque types."""
        before = len(self.diags.errors)
        child = scope.child()
        for tp in node.type_params:
            if tp.kind == "dim":
                child.dims[tp.name] = tp.name
            elif tp.kind == "type":
                child.aliases[tp.name] = WireType("$" + tp.name, (), tp.name)
            else:
                self.diags.error("pattern-type-kind", tp.span, kind=tp.kind)
        sigs = self._pattern_sigs(node)
        for param in node.params:
            if param not in sigs:
                self.diags.error("pattern-param-sig", node.span, name=param, pattern=node.name)
                continue
            sig = self._signature(sigs[param].sig, child)
            # Known only at `use`: a parameter with inputs acts as a learner; one
            # without as a constant, which may be both drawn and used directly.
            kind = BoxKind.LEARNER if sig.inputs else BoxKind.CONST
            child.boxes[param] = Declaration(param, kind, sig, (), sigs[param].span)
            if sigs[param].sig.open_tail:
                child.open_tail.add(param)
        self._pattern_body(node, child, Scope(), prefix="")
        if len(self.diags.errors) > before:
            self.broken_patterns.add(node.name)

    def _pattern_body(self, node: ast.Pattern, child: Scope, export: Scope, prefix: str) -> None:
        for item in _of(node.items, ast.DiagramDef):
            target = child.defs if item.keyword == "def" else child.refines
            target[item.name] = item
        for item in _of(node.items, ast.DiagramDef):
            self.lookup(item.name, child, self.diags, item.span)
        self._tasks_and_objectives(node.items, child, export, prefix)

    def _use(self, node: ast.Use, scope: Scope) -> None:
        entry = scope.patterns.get(node.pattern)
        if entry is None:
            self.diags.error("undefined", node.span, what="pattern", name=node.pattern,
                             help=suggest(node.pattern, scope.patterns))
            return
        pattern = entry.node
        bindings = _UseBindings(self, node, pattern, scope)
        child = bindings.scope(entry.scope)
        if child is None or pattern.name in self.broken_patterns:
            return
        prefix = f"{node.alias}." if node.alias else ""
        self._pattern_body(pattern, child, scope, prefix)

    # ---------------------------------------------------- impl and train
    def _impl(self, node: ast.Impl, scope: Scope) -> None:
        decl = scope.boxes.get(node.name)
        if decl is None or decl.kind not in (BoxKind.LEARNER, BoxKind.FIXED):
            self.diags.error("impl-unknown", node.span, name=node.name,
                             help=suggest(node.name, [n for n, d in scope.boxes.items()
                                                      if d.kind in (BoxKind.LEARNER, BoxKind.FIXED)]))
            return
        if node.name in self.refined_learners:
            self.diags.error("impl-refined", node.span, name=node.name,
                             inner=", ".join(self.refined_learners[node.name]))
            return
        if node.name in self.impls:
            self.diags.error("duplicate", node.span, name=f"impl {node.name}",
                             first=str(self.impl_spans[node.name]))
            return
        self.impls[node.name] = to_python(node.value)
        self.impl_spans[node.name] = node.span

    def _train(self, node: ast.Train, scope: Scope) -> None:
        if node.name not in scope.objectives and node.name not in scope.tasks:
            self.diags.error("train-unknown", node.span, name=node.name,
                             help=suggest(node.name, [*scope.objectives, *scope.tasks]))
            return
        data: dict[str, Any] = {}
        data_spans: dict[str, Span] = {}
        settings: dict[str, Any] = {}
        setting_spans: dict[str, Span] = {}
        for item in node.items:
            if isinstance(item, ast.DataBinding):
                decl = scope.boxes.get(item.name)
                if decl is None or decl.kind is not BoxKind.DATA:
                    sources = [n for n, d in scope.boxes.items() if d.kind is BoxKind.DATA]
                    self.diags.error("train-data", item.span, name=item.name,
                                     help=suggest(item.name, sources)
                                     or (f"the data sources are: {', '.join(sources)}"
                                         if sources else None))
                    continue
                data[item.name] = to_python(item.value)
                data_spans.setdefault(item.name, item.span)
            else:
                if item.key in settings:
                    self.diags.error("duplicate", item.span, name=item.key,
                                     first=str(setting_spans[item.key]))
                settings[item.key] = to_python(item.value)
                setting_spans.setdefault(item.key, item.span)
        self.trainings[node.name] = TrainSpec(node.name, MappingProxyType(data),
                                              MappingProxyType(settings), node.span,
                                              MappingProxyType(data_spans),
                                              MappingProxyType(setting_spans))


class _UseBindings:
    """Binds a ``use``'s arguments to a pattern's parameters, inferring types by unification."""

    def __init__(self, owner: ModuleElaborator, node: ast.Use, pattern: ast.Pattern, caller: Scope):
        self.owner = owner
        self.diags = owner.diags
        self.node = node
        self.pattern = pattern
        self.caller = caller
        self.types: dict[str, WireType] = {}
        self.dims: dict[str, int] = {}

    def scope(self, home: Scope) -> Scope | None:
        node, pattern = self.node, self.pattern
        type_params = {tp.name: tp.kind for tp in pattern.type_params}
        known = [*type_params, *pattern.params]
        args = {}
        for arg in node.args:
            if arg.name not in known:
                self.diags.error("pattern-arg-unknown", arg.span, pattern=pattern.name,
                                 name=arg.name, params=", ".join(known), help=suggest(arg.name, known))
            else:
                args[arg.name] = arg
        ok = True
        for name, kind in type_params.items():
            if name in args:
                ok &= self._bind_type_param(name, kind, args[name])
        boxes: dict[str, Declaration] = {}
        sigs = self.owner._pattern_sigs(pattern)
        for param in pattern.params:
            arg = args.get(param)
            if arg is None:
                self.diags.error("pattern-arg-missing", node.span, pattern=pattern.name, name=param)
                ok = False
                continue
            decl = self._box_arg(arg)
            if decl is None:
                ok = False
                continue
            boxes[param] = decl
            if param in sigs and not self._unify_sig(sigs[param], decl, arg):
                ok = False
        for name in type_params:
            if name not in self.types and name not in self.dims and name not in args:
                self.diags.error("pattern-arg-missing", node.span, pattern=pattern.name, name=name)
                ok = False
        if not ok:
            return None
        child = home.child()
        child.aliases.update(self.types)
        child.dims.update(self.dims)
        child.boxes.update(boxes)
        # A learner refined by the caller stays refined inside the pattern's tasks.
        child.templates.update({p: self.caller.templates[d.name] for p, d in boxes.items()
                                if d.name in self.caller.templates})
        child.open_tail = {p for p in pattern.params if p in sigs and sigs[p].sig.open_tail}
        return child

    def _bind_type_param(self, name: str, kind: str, arg: ast.UseArg) -> bool:
        if kind == "dim":
            if isinstance(arg.value, int) and not isinstance(arg.value, bool) and arg.value > 0:
                self.dims[name] = arg.value
                return True
            self.diags.error("pattern-arg-type", arg.span, pattern=self.pattern.name, name=name,
                             value=_show(arg.value), expected="a positive whole number",
                             found=_show(arg.value))
            return False
        if not isinstance(arg.value, ast.TypeExpr):
            self.diags.error("pattern-arg-type", arg.span, pattern=self.pattern.name, name=name,
                             value=_show(arg.value), expected="a wire type", found=_show(arg.value))
            return False
        resolved = resolve_type(arg.value, self.caller, self.diags)
        self.types[name] = resolved
        return resolved != ERROR_TYPE

    def _box_arg(self, arg: ast.UseArg) -> Declaration | None:
        value = arg.value
        if not isinstance(value, ast.TypeExpr) or value.dims is not None:
            self.diags.error("pattern-arg-type", arg.span, pattern=self.pattern.name, name=arg.name,
                             value=_show(value), expected="the name of a box", found=_show(value))
            return None
        decl = self.caller.boxes.get(value.name)
        if decl is None:
            self.diags.error("undefined", arg.span, what="box", name=value.name,
                             help=suggest(value.name, self.caller.boxes))
        return decl

    def _unify_sig(self, param: ast.ParamSig, decl: Declaration, arg: ast.UseArg) -> bool:
        generic = Scope(aliases={tp.name: WireType("$" + tp.name, (), tp.name)
                                 for tp in self.pattern.type_params if tp.kind == "type"},
                        dims={tp.name: tp.name for tp in self.pattern.type_params
                              if tp.kind == "dim"})
        generic.aliases = {**self.caller.aliases, **generic.aliases}
        wanted = Signature(
            tuple(resolve_type(t, generic, Diagnostics()) for t in param.sig.inputs),
            tuple(resolve_type(t, generic, Diagnostics()) for t in param.sig.outputs),
        )
        actual = decl.signature
        outputs = actual.outputs
        if param.sig.open_tail and len(outputs) >= len(wanted.outputs):
            outputs = outputs[: len(wanted.outputs)]
        fits = (len(wanted.inputs) == len(actual.inputs)
                and len(wanted.outputs) == len(outputs)
                and all(self._unify(w, a) for w, a in zip(wanted.inputs + wanted.outputs,
                                                          actual.inputs + outputs, strict=True)))
        if not fits:
            self.diags.error(
                "pattern-arg-type", arg.span, pattern=self.pattern.name, name=param.name,
                value=decl.name,
                expected=f"{param.name} : {self._show_sig(wanted, param.sig.open_tail)}",
                found=f"{decl.name} : {actual}",
            )
        return fits

    def _unify(self, wanted: WireType, actual: WireType) -> bool:
        if is_type_var(wanted):
            name = wanted.kind[1:]
            if name in self.types:
                return self.types[name] == actual
            self.types[name] = actual
            return True
        if wanted.kind != actual.kind or len(wanted.shape) != len(actual.shape):
            return False
        for w, a in zip(wanted.shape, actual.shape, strict=True):
            if isinstance(w, str):
                if self.dims.setdefault(w, a) != a:  # type: ignore[arg-type]
                    return False
            elif w != a:
                return False
        return True

    def _show_sig(self, sig: Signature, open_tail: bool) -> str:
        def show(t: WireType) -> str:
            if is_type_var(t) and t.kind[1:] in self.types:
                return str(self.types[t.kind[1:]])
            shape = tuple(self.dims.get(d, d) if isinstance(d, str) else d for d in t.shape)
            return str(WireType(t.kind, shape, t.alias))

        ins = ", ".join(show(t) for t in sig.inputs)
        outs = ", ".join(show(t) for t in sig.outputs) + (", ..." if open_tail else "")
        return f"{ins} -> {outs}" if ins else f"-> {outs}"


def _show(value: object) -> str:
    if isinstance(value, ast.TypeExpr):
        dims = f"[{', '.join(map(str, value.dims))}]" if value.dims is not None else ""
        return value.name + dims
    return str(value)


def _of(items: Sequence, cls: type) -> list:
    return [i for i in items if isinstance(i, cls)]


def to_python(value: ast.Value) -> Any:
    """A configuration value from an ``impl`` or ``train`` block, as plain data."""
    if isinstance(value, ast.Literal):
        return value.value
    if isinstance(value, ast.NameValue):
        return Name(value.name)
    if isinstance(value, ast.ListValue):
        return tuple(to_python(v) for v in value.items)
    return Call(
        value.name,
        tuple(to_python(a) for a in value.args),
        MappingProxyType({k: to_python(v) for k, v in value.kwargs}),
        value.span,
    )
