"""Error recovery: after a syntax error, parse each top-level statement on its own.

So one broken statement hides no other: each is reported, and the intact ones
still reach the checker.  A top-level statement starts at a line that begins
with neither white space nor a comment.
"""

from __future__ import annotations

import re
from dataclasses import replace

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostic, Diagnostics
from taskdsl.parsing.build import MAX_NESTING, parse_statements_of
from taskdsl.parsing.errors import TooDeep, report
from taskdsl.parsing.grammar import IndentError, parse_tree
from taskdsl.source import Span

TOP_LEVEL = re.compile(r"^(?![ \t#\r\n])", re.MULTILINE)


def parse_recovering(text: str, path: str, sink: Diagnostics) -> list[ast.Statement]:
    """Parse each top-level statement on its own, so one error hides no other.

    Linear in the text's size: each statement is parsed as a text of its own
    (not padded with the lines before it), its tokens and diagnostics then moved
    to its place in the file.  Stops once ``sink`` takes no more of the file's
    diagnostics.
    """
    starts = [m.start() for m in TOP_LEVEL.finditer(text) if m.start() < len(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    statements: list[ast.Statement] = []
    line, counted = 1, 0  # the line that `counted` (a statement's start) is on
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        if sink.full(path):
            break
        line += text.count("\n", counted, begin)
        counted = begin
        chunk = text[begin:end]
        if not chunk.strip():
            continue
        statements.extend(_parse_statement(chunk, path, line - 1, sink))
    return statements


def _parse_statement(text: str, path: str, offset: int,
                     sink: Diagnostics) -> list[ast.Statement]:
    """The statements of ``text``, which starts after line ``offset`` of the file."""
    found = Diagnostics(limit=None)  # located in `text`, moved by `offset` below
    try:
        tree = parse_tree(text, "start")
        _move_tokens(tree, offset)
        return parse_statements_of(tree, text, path)
    except UnexpectedInput as error:
        report(error, text, path, found)
    except IndentError:
        line = _bad_indent_line(text)
        text_line = text.splitlines()[line - 1] if text.splitlines() else ""
        indent = len(text_line) - len(text_line.lstrip(" \t"))
        found.error("bad-indent", Span(path, line, 1, line, max(2, indent + 1)))
    except TooDeep as error:  # located in the file already: its tokens were moved
        sink.error("syntax", error.span, message=f"nested more than {MAX_NESTING} deep",
                   help="give inner parts names with `let` (or a `def`)")
    except LarkError as error:  # pragma: no cover - Lark's other internal errors
        found.error("syntax", Span(path, 1, 1, 1, 2), message=str(error).splitlines()[0])
    for diagnostic in found.items:
        sink.add(_moved(diagnostic, offset))
    return []


def _move_tokens(tree: Tree, lines: int) -> None:
    """Add ``lines`` to the line numbers of every token in ``tree`` (a loop, no recursion)."""
    if not lines:
        return
    stack = [tree]
    while stack:
        for child in stack.pop().children:
            if isinstance(child, Tree):
                stack.append(child)
            elif isinstance(child, Token):
                if child.line is not None:
                    child.line += lines
                if child.end_line is not None:
                    child.end_line += lines


def _moved(diagnostic: Diagnostic, lines: int) -> Diagnostic:
    """``diagnostic`` located ``lines`` further down its file."""
    span = diagnostic.span
    if span is None or not lines:
        return diagnostic
    return replace(diagnostic, span=replace(span, line=span.line + lines,
                                            end_line=span.end_line + lines))


def _bad_indent_line(text: str) -> int:
    """The first line whose indentation is deeper than a block's but opens none."""
    stack = [0]
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent > stack[-1]:
            stack.append(indent)
        else:
            while indent < stack[-1]:
                stack.pop()
            if indent != stack[-1]:
                return number
    return 1
