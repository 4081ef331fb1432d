"""``def`` and ``refine``: named diagrams, built (and checked) once, on first use.

A definition used before it is built is built then; one that uses itself,
directly or through others, is reported once as a cycle.
"""

from __future__ import annotations

from collections.abc import Callable

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostics
from taskdsl.diagrams import (
    Builder,
    Elaborator,
    TooLarge,
    box_template,
    finalize,
    resolve_type,
)
from taskdsl.elaboration.base import ElaborationState
from taskdsl.ir import BoxKind, Declaration
from taskdsl.scope import ERROR_TYPE, Scope, Template, suggest
from taskdsl.source import Span
from taskdsl.types import WireType


class Definitions(ElaborationState):
    """Templates of defs and refined learners, built on demand."""

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
        except TooLarge as error:
            self._too_large(node.span, name, error)
            template = None
        finally:
            self.building.pop()
        if template is not None:
            scope.templates[name] = template
        else:
            self.failed.append((scope, name))
        return template

    def refinement_learners(self, name: str, scope: Scope, span: Span) -> tuple[str, ...] | None:
        """The learners of refined learner ``name``'s refinement (built if need be), or None
        when ``name`` is not refined here, nor in a file imported here."""
        if name in scope.refines and name not in scope.refined:
            self.lookup(name, scope, self.diags, span)
        diagram = scope.refined.get(name)
        return diagram.learners() if diagram is not None else None

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
        builder = Builder(allowance=self.allowance)
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
            scope.refined[node.name] = diagram
        name = node.name

        def apply(b: Builder, ws: list[int], span: Span) -> list[int]:
            b.spend()  # a use costs, even of a def that adds no box (`def d = id[T]`)
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
