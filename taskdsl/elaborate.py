"""Elaboration: a parsed file's statements to the IR, checking every rule on the way.

Statements are taken in phases, so that order in the file matters only where
it should (a draw before its use): types, then boxes, then defs and
refinements (built on first use, cycles reported), tasks, pattern uses,
objectives, and last the ``impl`` and ``train`` blocks.  Every error goes to
one :class:`Diagnostics` list; elaboration carries on past it.

The work is split by idea across :mod:`taskdsl.elaboration`; this module
runs the phases in order.
"""

from __future__ import annotations

from types import MappingProxyType

from taskdsl import syntax as ast
from taskdsl.collector import collector_paused
from taskdsl.diagrams import resolve_type
from taskdsl.elaboration.base import of
from taskdsl.elaboration.config import Configuration, to_python
from taskdsl.elaboration.declarations import Declarations
from taskdsl.elaboration.definitions import Definitions
from taskdsl.elaboration.patterns import Patterns
from taskdsl.elaboration.tasks import Tasks
from taskdsl.ir import Program
from taskdsl.scope import PatternEntry, Scope, is_type_var

__all__ = ["ModuleElaborator", "to_python"]


class ModuleElaborator(Definitions, Tasks, Patterns, Configuration, Declarations):
    """Elaborates one file's statements into a scope (and, at the end, a Program)."""

    # ------------------------------------------------------------ entry
    def run(self, module: ast.Module, scope: Scope) -> Scope:
        with collector_paused():
            return self._run(module, scope)

    def _run(self, module: ast.Module, scope: Scope) -> Scope:
        statements = module.statements
        for node in of(statements, ast.TypeAlias):
            if self._declare(scope, node.name, node.span):
                scope.aliases[node.name] = resolve_type(node.type, scope, self.diags).named(node.name)
        for node in of(statements, ast.BoxDecl):
            if self._declare(scope, node.name, node.span):
                scope.boxes[node.name] = self._declaration(node, scope)
        for node in of(statements, ast.DiagramDef):
            if node.keyword == "def":
                if self._declare(scope, node.name, node.span):
                    scope.defs[node.name] = node
            elif node.name in scope.refines:
                self.diags.error("duplicate", node.span, name=f"refine {node.name}",
                                 first=str(scope.refines[node.name].span))
            else:
                scope.refines[node.name] = node
        for node in of(statements, ast.Pattern):
            if self._declare(scope, node.name, node.span):
                scope.patterns[node.name] = PatternEntry(node, scope)
                self._check_pattern(node, scope)
        for node in of(statements, ast.DiagramDef):
            self.lookup(node.name, scope, self.diags, node.span)
        self._tasks_and_objectives(statements, scope, scope, prefix="")
        for node in of(statements, ast.Impl):
            self._impl(node, scope)
        for node in of(statements, ast.Train):
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
            refinements=frozen({k: v for k, v in scope.refined.items() if k in scope.refines}),
            tasks=frozen(scope.tasks),
            objectives=frozen(scope.objectives),
            impls=frozen(self.impls),
            trainings=frozen(self.trainings),
            impl_spans=frozen(self.impl_spans),
            claims=frozen(self.claims),
            generic=frozen(self.generic),
        )
