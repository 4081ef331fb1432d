"""Box declarations: ``learner``, ``fixed``, ``data``, ``random`` and ``const`` lines."""

from __future__ import annotations

from taskdsl import syntax as ast
from taskdsl.builtins import DISTRIBUTIONS
from taskdsl.elaboration.base import ElaborationState
from taskdsl.ir import BoxKind, Declaration
from taskdsl.scope import Scope
from taskdsl.types import Signature


class Declarations(ElaborationState):
    """A declared box's signature, and the rules each kind of box obeys."""

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
        distribution, value = None, None
        if kind is BoxKind.RANDOM:
            distribution = self._distribution(node, sig)
        elif node.distribution is not None:
            self.diags.error("misplaced-distribution", node.span, name=name, kind=node.kind)
        if kind is BoxKind.CONST:
            if node.value is None:
                self.diags.error("const-value", node.span, name=name)
            value = node.value if node.value is not None else 0
        elif node.value is not None:
            self.diags.error("misplaced-value", node.span, name=name, kind=node.kind)
        return Declaration(name, kind, sig, distribution, value, node.span)

    def _distribution(self, node: ast.BoxDecl, sig: Signature) -> str:
        if node.distribution is None:
            self.diags.error("source-no-distribution", node.span, name=node.name)
            return "uniform"
        for t in sig.outputs:
            allowed = DISTRIBUTIONS.get(t.kind)
            if allowed is not None and node.distribution not in allowed:
                self.diags.error("bad-distribution", node.span, type=t.described(),
                                 dist=node.distribution, allowed=", ".join(allowed) or "none")
        return node.distribution
