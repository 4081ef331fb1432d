"""Box declarations: ``learner``, ``fixed``, ``data``, ``random`` and ``const`` lines, and
learners that follow another (``learner target = ema(online, 0.99)``, ``learner b = tied(a)``)."""

from __future__ import annotations

from taskdsl import syntax as ast
from taskdsl.builtins import DISTRIBUTIONS
from taskdsl.elaboration.base import ElaborationState
from taskdsl.ir import BoxKind, Declaration
from taskdsl.scope import Scope
from taskdsl.suggest import suggest
from taskdsl.types import Signature

FOLLOWS = ("ema", "tied")
"""How a learner may follow another: by moving average, or by sharing its parameters."""


class Declarations(ElaborationState):
    """A declared box's signature, and the rules each kind of box obeys."""

    def _declaration(self, node: ast.BoxDecl, scope: Scope) -> Declaration:
        if node.follow is not None:
            return self._follower(node, scope)
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

    def _follower(self, node: ast.BoxDecl, scope: Scope) -> Declaration:
        """``learner target = ema(online, d)`` or ``learner b = tied(a)``: the followed
        learner's signature; a tied one is the followed learner's own declaration (every use
        of ``b`` is a box of ``a``, so training ``b`` trains ``a``)."""
        name, follow, followed = node.name, node.follow, node.follows
        assert follow is not None and followed is not None
        broken = Declaration(name, BoxKind.LEARNER, Signature((), ()), span=node.span)
        if follow not in FOLLOWS:
            self.diags.error("follow-unknown", node.span, name=name, follow=follow,
                             followed=followed)
            return broken
        if node.kind != BoxKind.LEARNER.value:
            self.diags.error("follow-not-learner", node.span, name=name, follow=follow,
                             kind=node.kind)
            return broken
        decl = scope.boxes.get(followed)
        if decl is None or decl.kind is not BoxKind.LEARNER:
            learners = [n for n, d in scope.boxes.items() if d.kind is BoxKind.LEARNER]
            self.diags.error("follow-undefined", node.span, name=name, follow=follow,
                             followed=followed, help=suggest(followed, learners)
                             or "declare it first: `learner NAME : A -> B`")
            return broken
        if decl.follows is not None or decl.tied_to is not None:
            other, of = ("ema", decl.follows[0]) if decl.follows else ("tied", decl.tied_to)
            decay = "" if node.decay is None else f", {node.decay}"
            self.diags.error("follow-follower", node.span, name=name, follow=follow,
                             followed=followed, other=other, of=of,
                             example=f"{follow}({of}{decay})")
            return broken
        if follow == "tied":
            if node.decay is not None:
                self.diags.error("tied-decay", node.span, name=name, followed=followed,
                                 found=node.decay)
            return Declaration(decl.name, decl.kind, decl.signature, span=node.span,
                               tied_to=decl.name)
        if node.decay is None or not 0 < node.decay < 1:
            self.diags.error("ema-decay", node.span, name=name, followed=followed,
                             found="no decay" if node.decay is None else str(node.decay))
        decay = float(node.decay) if node.decay is not None and 0 < node.decay < 1 else 0.99
        return Declaration(name, BoxKind.LEARNER, decl.signature, span=node.span,
                           follows=(decl.name, decay))
