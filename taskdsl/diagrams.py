"""Building typed diagrams from expressions: the heart of the type checker.

An :class:`Builder` collects primitive boxes (learners, fixed boxes, builtins,
sources) as expressions are elaborated; defs and refinements are inlined
through :class:`~taskdsl.scope.Template`.  :func:`finalize` then cuts the
diagram that computes a given list of wires and makes copies and discards
explicit, as the IR requires.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from taskdsl import syntax as ast
from taskdsl.builtins import BUILTINS, STRUCTURAL, BuiltinTypeError
from taskdsl.diagnostics import Diagnostics, positive_setting
from taskdsl.ir import Box, BoxKind, Declaration, Diagram, Wire
from taskdsl.scope import ERROR_TYPE, Scope, Template, compatible, suggest
from taskdsl.source import Span
from taskdsl.types import KINDS, WireType

# The most boxes (and uses of defs, each inlined) that one diagram may expand to.
# Each use of a def inlines a copy of it, so defs of defs grow exponentially: 30
# levels of `def d = c >> c` are a billion boxes.  Past the budget, elaboration
# stops with a located `too-large` error instead of running out of memory.  All
# the diagrams of a file together may spend FILE_BUDGETS budgets, so that many
# definitions each just under the budget cannot multiply it either.  The
# environment variable raises (or lowers) the budget.
MAX_BOXES = 100_000
MAX_BOXES_VARIABLE = "TASKDSL_MAX_BOXES"
FILE_BUDGETS = 5


def box_budget() -> int:
    """The budget of each diagram: :data:`MAX_BOXES` unless the environment says otherwise."""
    return positive_setting(MAX_BOXES_VARIABLE, MAX_BOXES)


class TooLarge(Exception):
    """A diagram past its budget of boxes (or a file past its allowance); raised while
    inlining, caught (and located) by the def, task or objective being built."""

    def __init__(self, limit: int, whole_file: bool = False):
        super().__init__(f"more than {limit} boxes")
        self.limit = limit
        self.whole_file = whole_file


@dataclass
class Allowance:
    """What all the diagrams (and objectives) of one file may spend together."""

    total: int = field(default_factory=lambda: FILE_BUDGETS * box_budget())
    spent: int = 0

    def take(self, amount: int = 1) -> None:
        """Spend ``amount``; raises :class:`TooLarge` once the file's allowance is gone."""
        self.spent += amount
        if self.spent > self.total:
            raise TooLarge(self.total, whole_file=True)


@dataclass
class Builder:
    """Boxes and wires under construction, numbered from one pool, within a budget."""

    boxes: list[Box] = field(default_factory=list)
    wires: dict[int, Wire] = field(default_factory=dict)
    group: list[str] = field(default_factory=list)
    next_id: int = 0
    allowance: Allowance = field(default_factory=Allowance)
    budget: int = field(default_factory=box_budget)
    spent: int = 0

    def spend(self) -> None:
        """Count one box (or one use of a def); raises :class:`TooLarge` past the budget."""
        self.spent += 1
        if self.spent > self.budget:
            raise TooLarge(self.budget)
        self.allowance.take()

    def fresh(self) -> int:
        self.next_id += 1
        return self.next_id

    def wire(self, t: WireType, name: str | None = None) -> int:
        w = self.fresh()
        self.wires[w] = Wire(w, t, name)
        return w

    def box(
        self,
        kind: BoxKind,
        name: str,
        inputs: Sequence[int],
        outputs: Sequence[WireType],
        span: Span,
        params: tuple[int | float, ...] = (),
        decl: Declaration | None = None,
    ) -> list[int]:
        """Add a box; a declared source's distribution or value comes from ``decl``."""
        self.spend()
        outs = [self.wire(t) for t in outputs]
        self.boxes.append(
            Box(self.fresh(), kind, name, tuple(inputs), tuple(outs), params, tuple(self.group),
                decl.distribution if decl else None, decl.value if decl else None, span)
        )
        return outs

    def name_wire(self, w: int, name: str) -> None:
        wire = self.wires[w]
        if wire.name is None:
            self.wires[w] = Wire(w, wire.type, name)


# ------------------------------------------------------------------ types
def resolve_type(node: ast.TypeExpr, scope: Scope, diags: Diagnostics) -> WireType:
    """A written type to a :class:`WireType`, or :data:`ERROR_TYPE` after reporting why."""
    if node.name in KINDS:
        least, most = KINDS[node.name]
        dims = node.dims or ()
        if len(dims) < least or (most is not None and len(dims) > most):
            wanted = str(least) if most == least else f"at least {least}"
            example = {"Tokens": "Tokens[vocab, length]"}.get(node.name, f"{node.name}[n]")
            diags.error("type-dims", node.span, kind=node.name, wanted=wanted, count=len(dims),
                        example=example)
            return ERROR_TYPE
        shape = []
        for d in dims:
            if isinstance(d, str) and d in scope.dims:
                shape.append(scope.dims[d])
            elif isinstance(d, int) and not isinstance(d, bool) and d > 0:
                shape.append(d)
            else:
                diags.error("bad-dimension", node.span, value=str(d))
                return ERROR_TYPE
        return WireType(node.name, tuple(shape))
    if node.name in scope.aliases:
        if node.dims is not None:
            diags.error("alias-dims", node.span, name=node.name)
        return scope.aliases[node.name]
    diags.error("unknown-type", node.span, name=node.name,
                help=suggest(node.name, [*KINDS, *scope.aliases]))
    return ERROR_TYPE


def describe(types: Sequence[WireType]) -> str:
    return ", ".join(t.described() for t in types) if types else "(nothing)"


# ------------------------------------------------------------ expressions
class Elaborator:
    """Elaborates expressions in one scope into a builder, reporting type errors."""

    def __init__(self, scope: Scope, builder: Builder, diags: Diagnostics,
                 templates: TemplateSource):
        self.scope = scope
        self.builder = builder
        self.diags = diags
        self.templates = templates
        self.env: dict[str, int] = {}

    # -- pointed form: expressions to wires
    def wires(self, expr: ast.Expr) -> list[int]:
        if isinstance(expr, ast.Ref) and not expr.args and expr.name in self.env:
            return [self.env[expr.name]]
        if isinstance(expr, ast.Ref) and expr.name == "_":
            self.diags.error("underscore-use", expr.span)
            return [self.builder.wire(ERROR_TYPE)]
        if isinstance(expr, ast.Call):
            return self._call(expr)
        template = self.template(expr)
        if template is None:
            return [self.builder.wire(ERROR_TYPE)]
        if template.inputs:
            self.diags.error("unconnected-input", expr.span, name=_label(expr),
                             signature=f"{describe(template.inputs)} -> {describe(template.outputs)}")
            return [self.builder.wire(t) for t in template.outputs]
        return template.apply(self.builder, [], expr.span)

    def wire_list(self, exprs: Sequence[ast.Expr]) -> tuple[list[int], list[Span]]:
        """Each expression's wires, flattened, with the span each came from."""
        wires: list[int] = []
        spans: list[Span] = []
        for e in exprs:
            ws = self.wires(e)
            wires.extend(ws)
            spans.extend([e.span] * len(ws))
        return wires, spans

    def _call(self, expr: ast.Call) -> list[int]:
        args, spans = self.wire_list(expr.args)
        multi = next((a for a in expr.args if spans.count(a.span) > 1), None)
        head = expr.head
        if isinstance(head, ast.Ref) and head.name in self.env:
            self.diags.error("wrong-kind", head.span, name=head.name, actual="wire", wanted="box")
            return [self.builder.wire(ERROR_TYPE)]
        if isinstance(head, ast.Ref) and head.name in BUILTINS and not self._shadowed(head.name):
            return self._builtin_call(head, args, spans, expr.span)
        template = self.template(head)
        if template is None:
            return [self.builder.wire(ERROR_TYPE)]
        name = _label(head)
        if len(args) != len(template.inputs) and multi is not None:
            # An argument with several outputs: say so, not just that the count is off.
            inner = _label(multi.head) if isinstance(multi, ast.Call) else _label(multi)
            count = spans.count(multi.span)
            self.diags.error("multi-output", multi.span, name=inner, count=count, outer=name,
                             total=len(args), wanted=len(template.inputs),
                             signature=f"{describe(template.inputs)} -> "
                                       f"{describe(template.outputs)}",
                             names=", ".join(f"y{i + 1}" for i in range(count)))
            return [self.builder.wire(t) for t in template.outputs]
        if len(args) != len(template.inputs):
            self.diags.error(
                "arity", expr.span, name=name, wanted=len(template.inputs), count=len(args),
                were="was" if len(args) == 1 else "were",
                signature=f"{describe(template.inputs)} -> {describe(template.outputs)}",
            )
            return [self.builder.wire(t) for t in template.outputs]
        self._check_inputs(name, template.inputs, args, spans)
        return template.apply(self.builder, args, head.span)

    def _check_inputs(self, name: str, wanted: Sequence[WireType], args: list[int],
                      spans: list[Span]) -> None:
        found = [self.builder.wires[w].type for w in args]
        swapped = len(found) == 2 and compatible(found[0], wanted[1]) and compatible(found[1], wanted[0])
        for i, (want, have, span) in enumerate(zip(wanted, found, spans, strict=True)):
            if not compatible(want, have):
                self.diags.error(
                    "type-mismatch", span,
                    where=f"input {i + 1} of `{name}` is `{want}`, but this wire is `{have}`",
                    expected=want.described(), found=have.described(),
                    help="the two arguments look swapped" if swapped else "",
                )

    def _shadowed(self, name: str) -> bool:
        return name in self.scope.boxes or name in self.scope.defs

    def _builtin_call(self, head: ast.Ref, args: list[int], spans: list[Span],
                      span: Span) -> list[int]:
        builtin = BUILTINS[head.name]
        params = tuple(a for a in head.args if not isinstance(a, ast.TypeExpr))
        if len(params) != builtin.n_params or len(params) != len(head.args):
            self.diags.error("box-args", head.span, name=head.name,
                             wanted=f"{builtin.n_params} number(s) in brackets",
                             found=f"{len(head.args)} argument(s)")
            return [self.builder.wire(ERROR_TYPE)]
        if len(args) != builtin.arity:
            self.diags.error("arity", span, name=head.name, wanted=builtin.arity, count=len(args),
                             were="was" if len(args) == 1 else "were", signature=builtin.doc)
            return [self.builder.wire(ERROR_TYPE)]
        types = tuple(self.builder.wires[w].type for w in args)
        if any(t == ERROR_TYPE for t in types):
            return [self.builder.wire(ERROR_TYPE)]
        try:
            outputs = builtin.rule(types, params)
        except BuiltinTypeError as error:
            self.diags.error("type-mismatch", span, where=f"`{head.name}` {error}",
                             found=describe(types))
            return [self.builder.wire(ERROR_TYPE)]
        return self.builder.box(BoxKind.BUILTIN, head.name, args, outputs, head.span, params)

    # -- point-free form: expressions to templates
    def template(self, expr: ast.Expr) -> Template | None:
        if isinstance(expr, ast.Seq):
            return self._seq(expr)
        if isinstance(expr, ast.Par):
            return self._par(expr)
        if isinstance(expr, ast.Call):
            self.diags.error("syntax", expr.span,
                             message="an application cannot be composed with `>>` or `@`",
                             help="compose boxes point-free, or give the def parameters: "
                                  "`def f(x: T) = ...`")
            return None
        return self._ref(expr)

    def _ref(self, ref: ast.Ref) -> Template | None:
        name = ref.name
        if name in STRUCTURAL and not self._shadowed(name):
            return self._structural(ref)
        if name in BUILTINS and not self._shadowed(name):
            return self._builtin_template(ref)
        if name in self.env:
            self.diags.error("wrong-kind", ref.span, name=name, actual="wire", wanted="box")
            return None
        if ref.args:
            self.diags.error("box-args", ref.span, name=name, wanted="no arguments in brackets",
                             found=f"{len(ref.args)}")
        found = self.templates.lookup(name, self.scope, self.diags, ref.span)
        if found is not None:
            return found
        if name in self.scope.defs:
            return None  # a def that failed to build: its errors are already reported
        decl = self.scope.boxes.get(name)
        if decl is None:
            self.diags.error(
                "undefined", ref.span, what="name", name=name,
                help=suggest(name, [*self.env, *self.scope.boxes, *self.scope.defs, *BUILTINS]),
            )
            return None
        if decl.kind in (BoxKind.DATA, BoxKind.RANDOM):
            self.diags.error("source-in-expr", ref.span, name=name)
            return None
        return box_template(decl)

    def _structural(self, ref: ast.Ref) -> Template | None:
        types = [resolve_type(a, self.scope, self.diags) for a in ref.args
                 if isinstance(a, ast.TypeExpr)]
        wanted = 2 if ref.name == "swap" else 1
        if len(types) != wanted or len(ref.args) != wanted:
            example = "swap[A, B]" if ref.name == "swap" else f"{ref.name}[T]"
            self.diags.error("box-args", ref.span, name=ref.name, wanted=f"wire types: {example}",
                             found=f"{len(ref.args)} argument(s)")
            return None
        t = types[0]
        if ref.name == "id":
            return Template("id", (t,), (t,), lambda b, ws, s: list(ws))
        if ref.name == "copy":
            return Template("copy", (t,), (t, t), lambda b, ws, s: [ws[0], ws[0]])
        if ref.name == "discard":
            return Template("discard", (t,), (), lambda b, ws, s: [])
        return Template("swap", (t, types[1]), (types[1], t), lambda b, ws, s: [ws[1], ws[0]])

    def _builtin_template(self, ref: ast.Ref) -> Template | None:
        builtin = BUILTINS[ref.name]
        params = tuple(a for a in ref.args if not isinstance(a, ast.TypeExpr))
        types = [resolve_type(a, self.scope, self.diags) for a in ref.args
                 if isinstance(a, ast.TypeExpr)]
        if len(params) != builtin.n_params or len(types) not in (1, builtin.arity):
            if not types:
                self.diags.error("generic-builtin", ref.span, name=ref.name)
            else:
                self.diags.error("box-args", ref.span, name=ref.name,
                                 wanted=f"{builtin.n_params} number(s) and its input type(s)",
                                 found=f"{len(ref.args)} argument(s)")
            return None
        inputs = tuple(types * builtin.arity if len(types) == 1 else types)
        try:
            outputs = builtin.rule(inputs, params)
        except BuiltinTypeError as error:
            self.diags.error("type-mismatch", ref.span, where=f"`{ref.name}` {error}")
            return None
        name = ref.name
        return Template(
            name, inputs, outputs,
            lambda b, ws, s: b.box(BoxKind.BUILTIN, name, ws, outputs, s, params),
        )

    def _seq(self, expr: ast.Seq) -> Template | None:
        parts = [self.template(p) for p in expr.parts]
        if any(p is None for p in parts):
            return None
        present = [p for p in parts if p is not None]
        # The left side of each `>>` gives what its last part gives.
        for left, right, node in zip(present, present[1:], expr.parts[1:], strict=False):
            if not self._meets(left, right, node.span):
                return None
        return _then(present)

    def _meets(self, left: Template, right: Template, span: Span) -> bool:
        if len(left.outputs) == len(right.inputs):
            ok = all(compatible(a, b) for a, b in zip(left.outputs, right.inputs, strict=True))
            if ok:
                return True
            self.diags.error("type-mismatch", span,
                             where=f"the left side of `>>` gives `{describe(left.outputs)}`, "
                                   f"but the right side takes `{describe(right.inputs)}`",
                             expected=describe(right.inputs), found=describe(left.outputs))
            return False
        reuse = (
            len(left.outputs) > 0
            and len(right.inputs) % len(left.outputs) == 0
            and all(compatible(t, left.outputs[i % len(left.outputs)])
                    for i, t in enumerate(right.inputs))
        )
        if reuse:
            self.diags.error("seq-reuse", span, left=describe(left.outputs),
                             right=describe(right.inputs), type=str(left.outputs[0]))
        else:
            self.diags.error("seq-mismatch", span, left_count=len(left.outputs),
                             right_count=len(right.inputs), left=describe(left.outputs),
                             right=describe(right.inputs),
                             help="use `@` to place boxes side by side, `discard[T]` to drop a wire")
        return False

    def _par(self, expr: ast.Par) -> Template | None:
        parts = [self.template(p) for p in expr.parts]
        if any(p is None for p in parts):
            return None
        return _beside([p for p in parts if p is not None])


def _then(parts: list[Template]) -> Template:
    """``parts[0] >> parts[1] >> ...`` as one template, applied by a loop: a chain of
    any length costs no stack (nesting two-part templates would recurse once a part)."""
    if len(parts) == 1:
        return parts[0]

    def apply(b: Builder, ws: list[int], s: Span) -> list[int]:
        for part in parts:
            ws = part.apply(b, ws, s)
        return ws

    return Template(" >> ".join(p.name for p in parts), parts[0].inputs, parts[-1].outputs,
                    apply)


def _beside(parts: list[Template]) -> Template:
    """``parts[0] @ parts[1] @ ...`` as one template, applied by a loop (as :func:`_then`)."""
    if len(parts) == 1:
        return parts[0]

    def apply(b: Builder, ws: list[int], s: Span) -> list[int]:
        outputs: list[int] = []
        start = 0
        for part in parts:
            end = start + len(part.inputs)
            outputs.extend(part.apply(b, ws[start:end], s))
            start = end
        return outputs

    return Template(" @ ".join(p.name for p in parts),
                    tuple(t for p in parts for t in p.inputs),
                    tuple(t for p in parts for t in p.outputs), apply)


def _label(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Ref):
        return expr.name
    return "this diagram"


def box_template(decl: Declaration) -> Template:
    """A declared box as a template: applying it adds one box."""
    ins, outs = decl.signature.inputs, decl.signature.outputs
    return Template(decl.name, ins, outs,
                    lambda b, ws, s: b.box(decl.kind, decl.name, ws, outs, s, decl=decl))


class TemplateSource:
    """Where defs and refinements come from; the elaborator of statements provides one."""

    def lookup(self, name: str, scope: Scope, diags: Diagnostics, span: Span) -> Template | None:
        raise NotImplementedError


# --------------------------------------------------------------- finalize
def finalize(builder: Builder, outputs: Sequence[int], inputs: Sequence[int] = ()) -> Diagram:
    """The diagram computing ``outputs`` from ``inputs``, with explicit copies and discards.

    Only boxes that reach an output are kept.  A wire used by several consumers
    gets one copy box with one output per use; a box output (or diagram input)
    used by none gets a discard box.
    """
    producers = {w: box for box in builder.boxes for w in box.outputs}
    needed: set[int] = set()
    stack = list(outputs)
    while stack:
        box = producers.get(stack.pop())
        if box is not None and box.id not in needed:
            needed.add(box.id)
            stack.extend(box.inputs)
    kept = [b for b in builder.boxes if b.id in needed]

    uses: dict[int, list[tuple[int, int]]] = defaultdict(list)  # wire -> (box id or -1, slot)
    for box in kept:
        for slot, w in enumerate(box.inputs):
            uses[w].append((box.id, slot))
    for slot, w in enumerate(outputs):
        uses[w].append((-1, slot))

    wires = {w: builder.wires[w] for w in inputs}
    rewired: dict[tuple[int, int], int] = {}
    structural: dict[int, list[Box]] = defaultdict(list)  # placed after the producer

    def route(w: int, after: int) -> None:
        consumers = uses.get(w, [])
        wire = builder.wires[w]
        if not consumers:
            structural[after].append(
                Box(builder.fresh(), BoxKind.DISCARD, "discard", (w,), (), span=NO_SPAN))
        elif len(consumers) > 1:
            copies = []
            for consumer in consumers:
                c = builder.fresh()
                wires[c] = Wire(c, wire.type, wire.name)
                rewired[consumer] = c
                copies.append(c)
            structural[after].append(
                Box(builder.fresh(), BoxKind.COPY, "copy", (w,), tuple(copies), span=NO_SPAN))

    for w in inputs:
        route(w, -1)
    for box in kept:
        for w in box.outputs:
            wires[w] = builder.wires[w]
            route(w, box.id)

    def renamed(box: Box) -> Box:
        new_inputs = tuple(rewired.get((box.id, i), w) for i, w in enumerate(box.inputs))
        # Most boxes keep their wires: no copy (a measurable share of a large check).
        return box if new_inputs == box.inputs else dataclasses.replace(box, inputs=new_inputs)

    ordered: list[Box] = list(structural[-1])
    for box in kept:
        ordered.append(renamed(box))
        ordered.extend(structural[box.id])
    final_outputs = tuple(rewired.get((-1, i), w) for i, w in enumerate(outputs))
    for box in ordered:  # wires of failed elaboration have no producer; keep them typed
        for w in (*box.inputs, *box.outputs):
            if w not in wires:
                wires[w] = builder.wires[w]
    for w in final_outputs:
        if w not in wires:
            wires[w] = builder.wires[w]
    return Diagram(tuple(ordered), MappingProxyType(wires), tuple(inputs), final_outputs)


NO_SPAN = ast.NOWHERE
