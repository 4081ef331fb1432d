"""Patterns and ``use``: a pattern's body checked once, generically; each ``use`` binds it.

Type parameters are opaque while the body is checked; at ``use``, the
arguments' types are unified with the parameters' signatures, and the tasks
are elaborated again in a scope where the parameters are the caller's boxes.

Value parameters (after ``;``: ``sigma: number``, ``d: divergence = l1``) are
substituted into the body's text before it is elaborated: a number into a
builtin's brackets (``scale[sigma]``) or an objective's weight
(``objective cycle = a + lam * b``), a divergence into a ``by`` clause.  A
divergence left out means the type's default; a *default* divergence is a
preference, used on each wire it compares (``l1`` on ``Real``) and the type's
default elsewhere (``ce`` on ``Tokens``), so one pattern serves every wire type
it can.  A divergence given at ``use`` is strict.

What goes wrong inside an instantiated body is the caller's doing (the body
checked clean generically), so it is reported at the ``use`` line, with the
pattern's own line as a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace

from taskdsl import syntax as ast
from taskdsl.builtins import ALL_DIVERGENCES, divergences_for
from taskdsl.diagnostics import Diagnostics
from taskdsl.diagrams import resolve_type
from taskdsl.elaboration.base import ElaborationState, of
from taskdsl.ir import BoxKind, Declaration, Equation, Term
from taskdsl.scope import ERROR_TYPE, Scope, is_type_var, suggest
from taskdsl.source import Span
from taskdsl.types import Signature, WireType

NUMBER = "number"
DIVERGENCE = "divergence"
VALUE_KINDS = (NUMBER, DIVERGENCE)
# What a number parameter without a default stands for while the body is checked
# generically: a value every builtin's brackets accept (`scale`, `drop`).
NUMBER_PLACEHOLDER = 0
# What it stands for as an objective's weight (`lam * cycle`): a weight must not be 0, and
# a positive one can weigh a task of any divergence (a negative one only `by wass`).
WEIGHT_PLACEHOLDER = 1


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
        numbers, divergences = self._value_defaults(node)
        weights = self._weight_names(node)
        body = substitute(node, numbers, dict.fromkeys(divergences), weights=weights)
        self._pattern_body(body, child, Scope(), prefix="")
        if len(self.diags.errors) > before:
            self.broken_patterns.add(node.name)

    def _value_defaults(self, node: ast.Pattern) -> tuple[dict[str, int | float], dict[str, str | None]]:
        """The value parameters' defaults (numbers without one: a placeholder), each
        parameter checked: its kind, its default, its name unique in the pattern."""
        numbers: dict[str, int | float] = {}
        divergences: dict[str, str | None] = {}
        taken = {tp.name: node.span for tp in node.type_params} | dict.fromkeys(node.params,
                                                                                 node.span)
        for vp in node.values:
            if vp.name in taken:
                self.diags.error("duplicate", vp.span, name=vp.name, first=str(taken[vp.name]))
                continue
            taken[vp.name] = vp.span
            if vp.kind not in VALUE_KINDS:
                self.diags.error("pattern-value-kind", vp.span, name=vp.name, kind=vp.kind)
            elif vp.kind == NUMBER:
                if vp.default is not None and not is_number(vp.default):
                    self.diags.error("pattern-value-default", vp.span, name=vp.name, kind="number",
                                     value=_show(vp.default), expected="a number, e.g. `0.1`")
                numbers[vp.name] = vp.default if is_number(vp.default) else NUMBER_PLACEHOLDER
            else:
                if vp.default is not None and divergence_name(vp.default) is None:
                    self.diags.error("pattern-value-default", vp.span, name=vp.name,
                                     kind="divergence", value=_show(vp.default),
                                     expected="one of: " + ", ".join(ALL_DIVERGENCES))
                divergences[vp.name] = divergence_name(vp.default)
        return numbers, divergences

    def _weight_names(self, node: ast.Pattern) -> dict[str, int | float]:
        """What each weight written as a name (``lam * cycle``) stands for while the body is
        checked generically: a number parameter's default (or a placeholder); a name that
        is no number parameter is an error, and stands for the placeholder after it."""
        weights = {vp.name: vp.default if is_number(vp.default) else WEIGHT_PLACEHOLDER
                   for vp in node.values if vp.kind == NUMBER}
        kinds = {vp.name: vp.kind for vp in node.values}
        for objective in of(node.items, ast.Objective):
            for term in objective.terms:
                name = term.weight
                if not isinstance(name, str) or name in weights:
                    continue
                if name in kinds:
                    self.diags.error("weight-not-number", term.span, name=name, kind=kinds[name],
                                     pattern=node.name, task=term.name)
                else:
                    near = suggest(name, [n for n, k in kinds.items() if k == NUMBER])
                    self.diags.error("weight-undefined", term.span, name=name, pattern=node.name,
                                     near=f"; {near}" if near else "")
                weights[name] = WEIGHT_PLACEHOLDER
        return weights

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
        # A divergence given is strict; one left to its default (a preference) is
        # left out here, the type's default chosen, and the preference put back after
        # on each wire it compares.
        given = {k: v for k, v in bindings.divergences.items() if k not in bindings.preferred}
        origins: dict[tuple[str, int, int], str] = {}
        body = substitute(pattern, bindings.numbers, given | dict.fromkeys(bindings.preferred),
                          origins)
        captured = Diagnostics(limit=None)
        caller_diags, self.diags = self.diags, captured
        try:
            self._pattern_body(body, child, scope, prefix)
        finally:
            self.diags = caller_diags
        args = {arg.name: arg.span for arg in node.args}
        at_args = {k: args[name] for k, name in origins.items() if name in args}
        self.diags.extend(relocated(captured, pattern, node.span, at_args))
        if bindings.preferred:
            _prefer(pattern, bindings.preferred, scope, prefix)


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
        self.numbers: dict[str, int | float] = {}
        self.divergences: dict[str, str | None] = {}
        # Divergence parameters left to their default: a preference, not a demand.
        self.preferred: dict[str, str] = {}

    def scope(self, home: Scope) -> Scope | None:
        node, pattern = self.node, self.pattern
        type_params = {tp.name: tp.kind for tp in pattern.type_params}
        known = [*type_params, *pattern.params, *(vp.name for vp in pattern.values)]
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
        for vp in pattern.values:
            ok &= self._bind_value(vp, args.get(vp.name))
        if not ok:
            return None
        child = home.child()
        child.aliases.update(self.types)
        child.dims.update(self.dims)
        child.boxes.update(boxes)
        # A learner refined by the caller stays refined inside the pattern's tasks.
        child.templates.update({p: self.caller.templates[d.name] for p, d in boxes.items()
                                if d.name in self.caller.templates})
        child.refined.update({p: self.caller.refined[d.name] for p, d in boxes.items()
                              if d.name in self.caller.refined})
        child.open_tail = {p for p in pattern.params if p in sigs and sigs[p].sig.open_tail}
        return child

    def _bind_value(self, param: ast.ValueParam, arg: ast.UseArg | None) -> bool:
        """Bind a number or divergence parameter to its argument, or to its default."""
        if param.kind not in VALUE_KINDS:
            return True  # reported where the pattern is written; the pattern is broken
        if arg is None:
            if param.kind == NUMBER and not is_number(param.default):
                self.diags.error("pattern-arg-missing", self.node.span, pattern=self.pattern.name,
                                 name=param.name)
                return False
            if param.kind == NUMBER:
                self.numbers[param.name] = param.default  # type: ignore[assignment]
            elif param.kind == DIVERGENCE:
                default = divergence_name(param.default)
                self.divergences[param.name] = default
                if default is not None:
                    self.preferred[param.name] = default
            return True
        if param.kind == NUMBER and is_number(arg.value):
            self.numbers[param.name] = arg.value  # type: ignore[assignment]
            return True
        if param.kind == DIVERGENCE and divergence_name(arg.value) is not None:
            self.divergences[param.name] = divergence_name(arg.value)
            return True
        expected = ("a number, e.g. `0.1`" if param.kind == NUMBER
                    else "a divergence, one of: " + ", ".join(ALL_DIVERGENCES))
        self.diags.error("pattern-arg-type", arg.span, pattern=self.pattern.name, name=param.name,
                         value=_show(arg.value), expected=expected, found=_show(arg.value))
        return False

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


def is_number(value: object) -> bool:
    """Whether ``value`` is a number written in the file (``true`` is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def divergence_name(value: object) -> str | None:
    """The divergence a parameter's value names, or None if it names none."""
    if isinstance(value, ast.TypeExpr) and value.dims is None and value.name in ALL_DIVERGENCES:
        return value.name
    return None


_DROP = object()  # a `by` clause whose divergence is left to the wire's type


def substitute(pattern: ast.Pattern, numbers: Mapping[str, int | float],
               divergences: Mapping[str, str | None],
               origins: dict[tuple[str, int, int], str] | None = None,
               weights: Mapping[str, int | float] | None = None) -> ast.Pattern:
    """The pattern with its value parameters replaced by values: a number in a box's
    brackets or as an objective's weight (from ``weights``; ``numbers`` when None), a
    divergence in a ``by`` clause (None: the clause left out).  ``origins`` gets where
    each replaced piece starts, with the parameter it came from."""
    weights = numbers if weights is None else weights
    if not numbers and not divergences and not weights:
        return pattern
    origins = {} if origins is None else origins

    def mark(span: Span, names: object) -> None:
        for name in names:  # type: ignore[attr-defined]
            if name in numbers or name in divergences or name in weights:
                origins[(span.file, span.line, span.column)] = name
                return

    def walk(node: object) -> object:
        if isinstance(node, tuple):
            return tuple(x for x in (walk(item) for item in node) if x is not _DROP)
        if isinstance(node, ast.TypeExpr | Span) or not is_dataclass(node):
            return node
        if isinstance(node, ast.Term) and isinstance(node.weight, str) and node.weight in weights:
            mark(node.span, [node.weight])  # the term's span starts at its weight
            return replace(node, weight=weights[node.weight])
        if isinstance(node, ast.By) and any(n in divergences for n in node.all_names):
            mark(node.span, node.all_names)
            names = tuple(divergences.get(n, n) for n in node.all_names)
            if any(n is None for n in names):  # left to the wires' types (all of them)
                return _DROP
            return replace(node, divergence=names[0], names=names if node.names else ())
        if isinstance(node, ast.Ref) and node.args:
            mark(node.span, [a.name for a in node.args if isinstance(a, ast.TypeExpr)])
            args = tuple(numbers[a.name] if isinstance(a, ast.TypeExpr) and a.dims is None
                         and a.name in numbers else a for a in node.args)
            return replace(node, args=args, **_walked(node, walk, skip="args"))
        changes = _walked(node, walk)
        return replace(node, **changes) if changes else node

    return replace(pattern, items=walk(pattern.items))


def _walked(node: object, walk, skip: str = "") -> dict[str, object]:
    """The fields of ``node`` that ``walk`` changes."""
    changes = {}
    for f in fields(node):  # type: ignore[arg-type]
        if f.name in (skip, "span"):
            continue
        old = getattr(node, f.name)
        new = walk(old)
        if new is not old and new != old:
            changes[f.name] = new
    return changes


def relocated(captured: Diagnostics, pattern: ast.Pattern, use: Span,
              origins: Mapping[tuple[str, int, int], Span] | None = None) -> list:
    """What instantiating ``pattern`` found, each finding inside the pattern moved to the
    ``use`` line (to the argument it came from, where ``origins`` says so), with where in
    the pattern it was as a note."""
    where = pattern.span
    origins = origins or {}
    out = []
    for d in captured.items:
        span = d.span
        inside = (span is not None and span.file == where.file
                  and where.line <= span.line <= where.end_line)
        if not inside:
            out.append(d)
            continue
        note = f"in pattern `{pattern.name}`, at {span}"
        at = origins.get((span.file, span.line, span.column), use)  # type: ignore[union-attr]
        out.append(replace(d, span=at, note=note + (f"; {d.note}" if d.note else "")))
    return out


def _prefer(pattern: ast.Pattern, preferred: Mapping[str, str], export: Scope,
            prefix: str) -> None:
    """Put each preferred divergence back on the wires of its tasks that it compares."""
    wanted: dict[str, dict[int | None, str]] = {}  # task -> wire (None: every wire) -> divergence
    for task in of(pattern.items, ast.Task):
        for item in task.items:
            for clause in getattr(item, "clauses", ()):
                if not isinstance(clause, ast.By):
                    continue
                names = clause.all_names
                for i, n in enumerate(names):
                    if n in preferred:
                        wire = None if len(names) == 1 else i
                        wanted.setdefault(prefix + task.name, {})[wire] = preferred[n]
    swapped: dict[int, Equation] = {}
    for name, by_wire in wanted.items():
        eq = export.tasks.get(name)
        if eq is None:
            continue
        chosen = list(eq.divergences)
        params = list(eq.divergence_params)
        for i, (lhs, rhs) in enumerate(zip(eq.lhs.output_types, eq.rhs.output_types,
                                           strict=False)):
            divergence = by_wire.get(i, by_wire.get(None))
            if (i < len(chosen) and divergence is not None
                    and divergence in (divergences_for(lhs.kind, rhs.kind) or ())):
                chosen[i] = divergence
                if i < len(params):
                    params[i] = ()
        if tuple(chosen) != eq.divergences:
            export.tasks[name] = replace(eq, divergences=tuple(chosen),
                                         divergence_params=tuple(params))
            swapped[id(eq)] = export.tasks[name]
    if not swapped:
        return
    for name, objective in list(export.objectives.items()):
        if name.startswith(prefix) and any(id(t.equation) in swapped for t in objective.terms):
            terms = tuple(Term(t.weight, swapped.get(id(t.equation), t.equation))
                          for t in objective.terms)
            export.objectives[name] = replace(objective, terms=terms)
