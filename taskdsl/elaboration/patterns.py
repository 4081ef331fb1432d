"""Patterns and ``use``: a pattern's body checked once, generically; each ``use`` binds it.

Type parameters are opaque while the body is checked; at ``use``, the
arguments' types are unified with the parameters' signatures, and the tasks
are elaborated again in a scope where the parameters are the caller's boxes.
"""

from __future__ import annotations

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostics
from taskdsl.diagrams import resolve_type
from taskdsl.elaboration.base import ElaborationState, of
from taskdsl.ir import BoxKind, Declaration
from taskdsl.scope import ERROR_TYPE, Scope, is_type_var, suggest
from taskdsl.types import Signature, WireType


class Patterns(ElaborationState):
    """Checking pattern bodies and instantiating them at ``use``."""

    def _pattern_sigs(self, node: ast.Pattern) -> dict[str, ast.ParamSig]:
        return {item.name: item for item in of(node.items, ast.ParamSig)}

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
            child.boxes[param] = Declaration(param, kind, sig, span=sigs[param].span)
            if sigs[param].sig.open_tail:
                child.open_tail.add(param)
        self._pattern_body(node, child, Scope(), prefix="")
        if len(self.diags.errors) > before:
            self.broken_patterns.add(node.name)

    def _pattern_body(self, node: ast.Pattern, child: Scope, export: Scope, prefix: str) -> None:
        for item in of(node.items, ast.DiagramDef):
            target = child.defs if item.keyword == "def" else child.refines
            target[item.name] = item
        for item in of(node.items, ast.DiagramDef):
            self.lookup(item.name, child, self.diags, item.span)
        self._tasks_and_objectives(node.items, child, export, prefix)

    def _use(self, node: ast.Use, scope: Scope) -> None:
        entry = scope.patterns.get(node.pattern)
        if entry is None:
            self.diags.error("undefined", node.span, what="pattern", name=node.pattern,
                             help=suggest(node.pattern, scope.patterns))
            return
        pattern = entry.node
        bindings = UseBindings(self, node, pattern, scope)
        child = bindings.scope(entry.scope)
        if child is None or pattern.name in self.broken_patterns:
            return
        prefix = f"{node.alias}." if node.alias else ""
        self._pattern_body(pattern, child, scope, prefix)


class UseBindings:
    """Binds a ``use``'s arguments to a pattern's parameters, inferring types by unification."""

    def __init__(self, owner: Patterns, node: ast.Use, pattern: ast.Pattern, caller: Scope):
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
