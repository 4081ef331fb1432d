"""The canonical formatter: one spelling for every .task program, comments kept.

The style: 4-space indentation; single spaces around ``=``, ``->``, ``<-``,
``>>``, ``@``, ``+``, ``*``, ``~`` and after commas; a task's ``trains``/``by``
clauses two spaces after its equation; one blank line around every block
(``task``, ``pattern``, ``train``), while consecutive one-line statements keep
the user's grouping (at most one blank line between them); numbers in the
shortest spelling that reads back as the same value and type (``1e-3`` for
floats below 0.01); strings with escapes only for what needs them.  Parentheses
appear exactly where the syntax tree needs them, so formatting never changes a
program: the formatted text parses to an equal tree and an equal IR, and
formatting it again changes nothing.

Comments are kept: a comment on a line of its own stays before the statement
it preceded, at that statement's indentation (or at the end of the block it
was indented into); a comment after code stays at the end of that line, and the
comments after code on consecutive lines start in one column, two spaces after
the longest code among them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Any

from taskdsl import syntax as ast
from taskdsl.parser import SyntaxErrors, parse

__all__ = ["FormatError", "SyntaxErrors", "format_module", "format_text"]

INDENT = "    "
_END = 1 << 62  # a line past the end of any file


class FormatError(Exception):
    """The formatter would have changed a program's meaning or lost a comment (a bug)."""


def format_text(text: str, path: str = "<input>") -> str:
    """``text`` in canonical style.

    Raises :class:`SyntaxErrors` (with every diagnostic) when ``text`` does not
    parse, and :class:`FormatError` if the result would not mean the same.
    """
    module = parse(text, path)
    formatted = format_module(module)
    _verify(module, formatted)
    return formatted


def format_module(module: ast.Module) -> str:
    """A parsed module in canonical style, with its comments in place."""
    units = list(_units(module.statements, 0))
    lines = _Layout(sorted(module.comments, key=lambda c: (c.line, c.column))).render(units)
    return "".join(line + "\n" for line in lines)


def _verify(module: ast.Module, formatted: str) -> None:
    """Check that ``formatted`` means what ``module`` says and keeps every comment."""
    try:
        again = parse(formatted, module.path)
    except SyntaxErrors as error:
        raise FormatError(f"formatted text does not parse: {error}") from error
    if repr(again.statements) != repr(module.statements):
        raise FormatError("formatting changed the syntax tree")
    if sorted(c.text for c in again.comments) != sorted(c.text for c in module.comments):
        raise FormatError("formatting lost or changed a comment")


# ------------------------------------------------------------ layout
@dataclass(frozen=True)
class _Unit:
    """One output line: a one-line statement or a block's header, and where it was written."""

    depth: int
    text: str
    first: int  # the source lines its code covers
    last: int
    column: int  # the source column it started at
    block: bool  # a block's header: blank lines around it


def _units(items: Sequence[object], depth: int) -> Iterator[_Unit]:
    """The output lines of statements (or a block's items), blocks flattened in order."""
    for item in items:
        span = item.span  # type: ignore[attr-defined]
        children = _block_items(item)
        if children is None:
            last = max([span.line, *(s.end_line for s in _inner_spans(item))])
            yield _Unit(depth, _statement(item), span.line, last, span.column, False)
        else:
            yield _Unit(depth, _header(item), span.line, span.line, span.column, True)
            yield from _units(children, depth + 1)


def _block_items(item: object) -> Sequence[object] | None:
    if isinstance(item, ast.Task | ast.Pattern | ast.Train):
        return item.items
    return None


def _inner_spans(node: object) -> Iterator[ast.Span]:
    """The spans of every node inside ``node`` (not its own: that one runs past the line end)."""
    for f in fields(node):  # type: ignore[arg-type]
        if f.name != "span":
            yield from _spans_in(getattr(node, f.name))


def _spans_in(value: object) -> Iterator[ast.Span]:
    if isinstance(value, tuple):
        for v in value:
            yield from _spans_in(v)
    elif is_dataclass(value):
        span = getattr(value, "span", None)
        if span is not None:
            yield span
        yield from _inner_spans(value)


class _Layout:
    """Places units and comments on lines, with the blank lines between them."""

    def __init__(self, comments: list[ast.Comment]):
        self.comments = comments
        self.next = 0  # the first comment not yet placed
        self.out: list[str] = []
        self.trailing: dict[int, tuple[str, str]] = {}  # output line -> (code, its comment)

    def render(self, units: list[_Unit]) -> list[str]:
        before: _Unit | None = None
        siblings: dict[int, _Unit] = {}  # the enclosing chain: the last unit at each depth
        for unit in units:
            self._gap(before, unit, siblings, self._blank_policy(before, unit, siblings))
            self._unit(unit)
            siblings = {d: u for d, u in siblings.items() if d < unit.depth}
            siblings[unit.depth] = unit
            before = unit
        self._gap(before, _Unit(0, "", _END, _END, 1, False), siblings, None)
        self._align_trailing()
        return self.out

    def _align_trailing(self) -> None:
        """Trailing comments on consecutive lines start in one column, two spaces after the
        longest code among them (as gofmt aligns them), so a commented block reads as a table."""
        run: list[int] = []
        for index in [*sorted(self.trailing), -2]:
            if run and index != run[-1] + 1:
                width = max(len(self.trailing[i][0]) for i in run)
                for i in run:
                    code, comment = self.trailing[i]
                    self.out[i] = f"{code.ljust(width)}  {comment}"
                run = []
            run.append(index)

    @staticmethod
    def _blank_policy(before: _Unit | None, unit: _Unit, siblings: dict[int, _Unit]) -> bool | None:
        """True: one blank line before ``unit``; False: none; None: one if the source had one."""
        if before is None:
            return None
        if unit.depth > before.depth:
            return False
        return True if siblings[unit.depth].block or unit.block else None

    def _take(self, below: int) -> list[ast.Comment]:
        """The comments not yet placed that start before line ``below``."""
        start = self.next
        while self.next < len(self.comments) and self.comments[self.next].line < below:
            self.next += 1
        return self.comments[start : self.next]

    def _gap(self, before: _Unit | None, unit: _Unit, siblings: dict[int, _Unit],
             blank: bool | None) -> None:
        """The own-line comments and the blank line between two units."""
        between = self._take(unit.first)
        previous = before.last if before is not None else 0
        if before is not None and unit.depth < before.depth:
            # Comments indented past the next unit stay at the end of the block they are in.
            while between and between[0].column > unit.column:
                comment = between.pop(0)
                depth = max((d for d in range(unit.depth + 1, before.depth + 1)
                             if siblings[d].column <= comment.column), default=unit.depth + 1)
                self._line(depth, comment.text)
                previous = comment.line
        lines = [previous, *(c.line for c in between), unit.first]
        empty = next((i for i in range(len(between) + 1) if lines[i + 1] - lines[i] > 1), None)
        if (before is None and empty == 0) or (unit.first == _END and empty == len(between)):
            empty = None  # no blank line at the top or the bottom of the file
        if blank is not None:
            empty = (0 if empty is None else empty) if blank else None
        for i, comment in enumerate(between):
            if i == empty:
                self.out.append("")
            self._line(unit.depth, comment.text)
        if empty == len(between):
            self.out.append("")

    def _unit(self, unit: _Unit) -> None:
        for comment in self._take(unit.last):
            self._line(unit.depth, comment.text)
        self._line(unit.depth, unit.text)
        if self.next < len(self.comments) and self.comments[self.next].line == unit.last:
            self.trailing[len(self.out) - 1] = (self.out[-1], self.comments[self.next].text)
            self.out[-1] += "  " + self.comments[self.next].text
            self.next += 1

    def _line(self, depth: int, text: str) -> None:
        self.out.append(INDENT * depth + text)


# -------------------------------------------------------- statements
def _header(node: ast.Task | ast.Pattern | ast.Train) -> str:
    if isinstance(node, ast.Task):
        return f"task {node.name}:"
    if isinstance(node, ast.Train):
        return f"train {node.name}:"
    types = _bracketed(node.type_params, _type_param) if node.type_params else ""
    values = "; " + ", ".join(map(_value_param, node.values)) if node.values else ""
    return f"pattern {node.name}{types}({', '.join(node.params)}{values}):"


def _statement(node: object) -> str:
    """A one-line statement (or block item)."""
    match node:
        case ast.Import(name=name, module=module, module_is_path=is_path):
            where = "" if module is None else f" from {_string(module) if is_path else module}"
            return f"import {name}{where}"
        case ast.TypeAlias(name=name, type=type_expr):
            return f"type {name} = {_type(type_expr)}"
        case ast.BoxDecl():
            return _box_decl(node)
        case ast.DiagramDef(keyword=keyword, name=name, params=params, body=body):
            bound = "" if params is None else _parenthesized(params, _param)
            return f"{keyword} {name}{bound} = {_exprs(body)}"
        case ast.Objective(name=name, terms=terms):
            signs = [(" - " if t.negated else " + ") if i else ("- " if t.negated else "")
                     for i, t in enumerate(terms)]
            return f"objective {name} = " + "".join(
                sign + _term(t) for sign, t in zip(signs, terms, strict=True))
        case ast.Use(pattern=pattern, args=args, alias=alias):
            named = "" if alias is None else f" as {alias}"
            return f"use {pattern}{_parenthesized(args, _use_arg)}{named}"
        case ast.Impl(name=name, value=value):
            return f"impl {name} = {_value(value)}"
        case ast.ParamSig(name=name, sig=sig):
            return f"{name} : {_signature(sig)}"
        case ast.Draw(targets=targets, source=source):
            return f"{_exprs(targets)} <- {source}"
        case ast.Let(targets=targets, values=values):
            return f"let {_exprs(targets)} = {_exprs(values)}"
        case ast.EquationStmt(lhs=lhs, rhs=rhs, clauses=clauses):
            return "  ".join([f"{_exprs(lhs)} = {_exprs(rhs)}", *map(_clause, clauses)])
        case ast.ClauseStmt(clauses=clauses):
            return "  ".join(map(_clause, clauses))
        case ast.Claim():
            return _claim(node)
        case ast.DataBinding(name=name, value=value):
            return f"data {name} = {_value(value)}"
        case ast.Setting(key=key, value=value):
            return f"{key} {_value(value)}"
    raise TypeError(f"not a statement: {node!r}")


def _claim(node: ast.Claim) -> str:
    using = "" if node.using is None else " by " + ", ".join(ref.name for ref in node.using)
    return f"claim {node.name}: {claim_goal(node)}{using}"


def claim_goal(node: ast.Claim) -> str:
    """A claim's goal as ``taskdsl prove`` reads one: a task's name or ``lhs = rhs``."""
    if node.task is not None:
        return node.task.name
    return f"{_exprs(node.lhs)} = {_exprs(node.rhs)}"


def _box_decl(node: ast.BoxDecl) -> str:
    if node.follow is not None:
        decay = "" if node.decay is None else f", {_number(node.decay)}"
        return f"{node.kind} {node.name} = {node.follow}({node.follows}{decay})"
    text = f"{node.kind} {node.name} : {_signature(node.sig)}"
    if node.distribution is not None:
        text += f" ~ {node.distribution}"
    if node.value is not None:
        text += f" = {_number(node.value)}"
    return text


def _signature(sig: ast.SigExpr) -> str:
    outputs = ", ".join(map(_type, sig.outputs)) + (", ..." if sig.open_tail else "")
    if not sig.inputs:
        return f"-> {outputs}"
    return f"{', '.join(map(_type, sig.inputs))} -> {outputs}"


def _type(node: ast.TypeExpr) -> str:
    if node.dims is None:
        return node.name
    return node.name + _bracketed(node.dims, _dim)


def _dim(dim: int | float | str) -> str:
    return dim if isinstance(dim, str) else _number(dim)


def _type_param(param: ast.TypeParam) -> str:
    return param.name if param.kind == "type" else f"{param.name}: {param.kind}"


def _value_param(param: ast.ValueParam) -> str:
    default = "" if param.default is None else f" = {_box_arg(param.default)}"
    return f"{param.name}: {param.kind}{default}"


def _param(param: ast.Param) -> str:
    return param.name if param.type is None else f"{param.name}: {_type(param.type)}"


def _use_arg(arg: ast.UseArg) -> str:
    return f"{arg.name} = {_box_arg(arg.value)}"


def _term(term: ast.Term) -> str:
    if isinstance(term.weight, str):  # a pattern's `number` parameter
        return f"{term.weight} * {term.name}"
    return term.name if term.weight is None else f"{_number(term.weight)} * {term.name}"


def _clause(clause: ast.Clause) -> str:
    if isinstance(clause, ast.Trains):
        return "trains " + ", ".join(ref.name for ref in clause.names)
    return "by " + ", ".join(
        name + (f"[{', '.join(map(_number, clause.params_of(i)))}]" if clause.params_of(i) else "")
        for i, name in enumerate(clause.all_names))


# ------------------------------------------------------- expressions
# How tightly a position binds: what may stand there without parentheses.
_ANY, _SEQ_PART, _PAR_PART, _HEAD = range(4)


def _exprs(exprs: Sequence[ast.Expr]) -> str:
    return ", ".join(_expr(e, _ANY) for e in exprs)


def _expr(node: ast.Expr, position: int) -> str:
    """An expression, parenthesized where its position binds tighter than it (``>>`` < ``@``)."""
    match node:
        case ast.Ref(name=name, args=args):
            return name + (_bracketed(args, _box_arg) if args else "")
        case ast.Call(head=head, args=args):
            return f"{_expr(head, _HEAD)}({_exprs(args)})"
        case ast.Seq(parts=parts):
            text = " >> ".join(_expr(p, _SEQ_PART) for p in parts)
            return f"({text})" if position >= _SEQ_PART else text
        case ast.Par(parts=parts):
            text = " @ ".join(_expr(p, _PAR_PART) for p in parts)
            return f"({text})" if position >= _PAR_PART else text
    raise TypeError(f"not an expression: {node!r}")


def _box_arg(arg: ast.TypeExpr | int | float) -> str:
    return _type(arg) if isinstance(arg, ast.TypeExpr) else _number(arg)


# ------------------------------------------------------------ values
def _value(node: ast.Value) -> str:
    match node:
        case ast.Literal(value=bool() as flag):
            return "true" if flag else "false"
        case ast.Literal(value=str() as text):
            return _string(text)
        case ast.Literal(value=number):
            return _number(number)  # type: ignore[arg-type]
        case ast.NameValue(name=name):
            return name
        case ast.CallValue(name=name, args=args, kwargs=kwargs):
            parts = [*map(_value, args), *(f"{k} = {_value(v)}" for k, v in kwargs)]
            return f"{name}({', '.join(parts)})"
        case ast.ListValue(items=items):
            return _bracketed(items, _value)
    raise TypeError(f"not a value: {node!r}")


def _number(value: int | float) -> str:
    """A number that reads back as the same value and type (an int stays an int).

    Floats take their shortest round-trip spelling; small ones (below 0.01) and
    those Python spells with an exponent use the compact scientific form ``1e-3``.
    """
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    text = repr(value)
    if "e" not in text and not 0 < abs(value) < 0.01:
        return text
    return format(Decimal(text).normalize(), "e").replace("e+", "e")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _string(text: str) -> str:
    """A string literal that reads back as ``text``."""
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _bracketed(items: Sequence[Any], show: Callable[[Any], str]) -> str:
    return "[" + ", ".join(show(i) for i in items) + "]"


def _parenthesized(items: Sequence[Any], show: Callable[[Any], str]) -> str:
    return "(" + ", ".join(show(i) for i in items) + ")"
