"""``impl`` lines and ``train`` blocks: configuration values the front end keeps, unread.

What a value means (a net, a data set, an optimiser) is a backend's to say;
the front end checks only what it names (a learner, a data source, an
objective) and keeps each value as plain data (:func:`to_python`) with where
it was written.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from taskdsl import syntax as ast
from taskdsl.elaboration.base import ElaborationState
from taskdsl.ir import BoxKind, Call, Name, TrainSpec
from taskdsl.scope import Scope, suggest
from taskdsl.source import Span


class Configuration(ElaborationState):
    """The ``impl`` and ``train`` statements of a file."""

    def _impl(self, node: ast.Impl, scope: Scope) -> None:
        decl = scope.boxes.get(node.name)
        if decl is None or decl.kind not in (BoxKind.LEARNER, BoxKind.FIXED):
            self.diags.error("impl-unknown", node.span, name=node.name,
                             help=suggest(node.name, [n for n, d in scope.boxes.items()
                                                      if d.kind in (BoxKind.LEARNER, BoxKind.FIXED)]))
            return
        inner = self.refinement_learners(node.name, scope, node.span)
        if inner is not None:
            self.diags.error("impl-refined", node.span, name=node.name, inner=", ".join(inner))
            return
        followed = decl.follows[0] if decl.follows else decl.tied_to
        if followed is not None:  # an ema(...) or tied(...) learner has its leader's net
            self.diags.error("impl-follower", node.span, name=node.name, other=followed)
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
