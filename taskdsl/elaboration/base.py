"""What every part of a file's elaboration shares: its state, and declaring names.

:class:`taskdsl.elaborate.ModuleElaborator` is composed of one class per idea
(declarations, definitions, tasks and objectives, patterns, configuration),
each in its own module and each a subclass of :class:`ElaborationState`, which
holds the state they share and names the steps one part asks of another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostics
from taskdsl.diagrams import (
    MAX_BOXES_VARIABLE,
    Allowance,
    TemplateSource,
    TooLarge,
    resolve_type,
)
from taskdsl.ir import Claim, Diagram, Program, TrainSpec
from taskdsl.scope import Scope
from taskdsl.source import Span
from taskdsl.types import Signature


class ElaborationState(TemplateSource):
    """The state of one file's elaboration, and the steps its parts call across."""

    def __init__(self, path: str, diags: Diagnostics):
        self.path = path
        self.diags = diags
        self.building: list[str] = []
        self.diagrams: dict[str, Diagram] = {}  # defs and refinements, for the Program
        self.broken_patterns: set[str] = set()
        self.impls: dict[str, Any] = {}
        self.impl_spans: dict[str, Span] = {}
        self.trainings: dict[str, TrainSpec] = {}
        # (scope, name) of defs that failed to build: reported once, not rebuilt at each use.
        self.failed: list[tuple[Scope, str]] = []
        self.allowance = Allowance()  # what the file's diagrams may expand to, together
        self.claims: dict[str, Claim] = {}  # the file's top-level claims
        self.generic: dict[str, Program] = {}  # each pattern of the file, read generically
        # While a pattern's body is checked generically: its claims, and (child, export) scopes.
        self._generic_claims: dict[str, Claim] | None = None
        self._generic_scope: tuple[Scope, Scope] | None = None

    def _declare(self, scope: Scope, name: str, span: Span) -> bool:
        if name in scope.first_seen or scope.defines(name):
            first = scope.first_seen.get(name)
            self.diags.error("duplicate", span, name=name, first=str(first) if first else "an import")
            return False
        scope.first_seen[name] = span
        return True

    # ------------------------------------------------ shared by the parts
    def _signature(self, sig: ast.SigExpr, scope: Scope) -> Signature:
        return Signature(
            tuple(resolve_type(t, scope, self.diags) for t in sig.inputs),
            tuple(resolve_type(t, scope, self.diags) for t in sig.outputs),
        )

    def _too_deep(self, span: Span, name: str) -> None:
        """Report a def, task or objective built from a chain of definitions too long to
        check (Python's stack runs out), instead of crashing."""
        self.diags.error("syntax", span, message=f"`{name}` is nested too deeply to check",
                         help="it is built from a chain of definitions hundreds deep; "
                              "shorten the chain")

    def _too_large(self, span: Span, name: str, error: TooLarge, objective: bool = False) -> None:
        """Report a def, task or objective that expands past its budget (each use of a
        def inlines a copy; of an objective, copies its terms) instead of running out
        of memory."""
        used = "an objective" if objective else "a def"
        what = "terms" if objective else "boxes"
        if error.whole_file:
            what += " with the rest of the file"
        self.diags.error("too-large", span, name=name, limit=f"{error.limit:,}", what=what,
                         used=used, used_plural=used.split()[1] + "s", variable=MAX_BOXES_VARIABLE)

    # Steps one part asks of another, defined by the part that owns them.
    def _tasks_and_objectives(self, items: Sequence, scope: Scope, export: Scope,
                              prefix: str) -> None:
        raise NotImplementedError  # Tasks

    def _use(self, node: ast.Use, scope: Scope) -> None:
        raise NotImplementedError  # Patterns

    def _claims(self, items: Sequence, scope: Scope, export: Scope) -> None:
        raise NotImplementedError  # Claims

    def refinement_learners(self, name: str, scope: Scope, span: Span) -> tuple[str, ...] | None:
        raise NotImplementedError  # Definitions


def of(items: Sequence, cls: type) -> list:
    """The items of class ``cls``, in order."""
    return [i for i in items if isinstance(i, cls)]
