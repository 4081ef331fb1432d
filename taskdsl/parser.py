"""Parsing .task text into a syntax tree, with errors in the language's terms.

The entry points: :func:`parse` (a file) and :func:`parse_value` (one
configuration value, as ``--set`` gives it).  Their parts live in
:mod:`taskdsl.parsing`: the grammar and its cache (``grammar``), Lark's tree
to syntax nodes (``build``), syntax errors in words (``errors``), recovery at
the next top-level statement (``recovery``), comments for the formatter
(``comments``) and literals (``literals``).  A good file takes the fast path
(``fast``: Lark's tables in one loop, building syntax nodes as it reduces);
anything else Lark parses itself, so errors and recovery are Lark's.

The grammar (``grammar/task.lark``) is LALR(1) and indentation-sensitive.
After a syntax error the parser recovers at the next top-level statement, so
every broken statement in a file is reported and the intact ones still reach
the checker.
"""

from __future__ import annotations

from lark.exceptions import LarkError, UnexpectedInput

from taskdsl import syntax as ast
from taskdsl.collector import collector_paused
from taskdsl.diagnostics import Diagnostics
from taskdsl.parsing.build import ToAst, parse_statements
from taskdsl.parsing.comments import comments
from taskdsl.parsing.errors import SyntaxErrors, TooDeep, report
from taskdsl.parsing.fast import Fallback, fast_statements
from taskdsl.parsing.grammar import IndentError, parse_tree
from taskdsl.parsing.recovery import parse_recovering
from taskdsl.source import Span

__all__ = ["SyntaxErrors", "collector_paused", "parse", "parse_value"]


def parse(text: str, path: str = "<input>", diagnostics: Diagnostics | None = None) -> ast.Module:
    """Parse a whole file.  Syntax errors go to ``diagnostics``; never raises on bad input.

    Without a ``diagnostics`` list, a syntax error raises :class:`SyntaxErrors`.
    """
    sink = diagnostics if diagnostics is not None else Diagnostics()
    found = tuple(comments(text))
    source = text if text.endswith("\n") else text + "\n"
    with collector_paused():
        try:
            try:
                statements = fast_statements(source, path)
            except Fallback:  # not sure to build what Lark would: Lark decides
                statements = parse_statements(source, path)
        except (LarkError, IndentError, TooDeep):
            statements = parse_recovering(source, path, sink)
    if diagnostics is None and sink.errors:
        raise SyntaxErrors(sink)
    return ast.Module(path, tuple(statements), found)


def parse_value(text: str, origin: str = "<value>") -> ast.Value:
    """One configuration value, as an ``impl`` line or a ``train`` setting would hold it.

    ``--set`` values go through here, so a value is valid on the command line
    exactly when it is valid in a file.  A syntax error raises
    :class:`SyntaxErrors`, located in ``origin`` at line 1.
    """
    sink = Diagnostics()
    one_line = text.strip()
    if "\n" in one_line or "#" in one_line:
        sink.error("syntax", Span(origin, 1, 1, 1, max(2, len(one_line) + 1)),
                   message="a value is one line with no comment", expected="a value",
                   found=repr(text), help=None)
        raise SyntaxErrors(sink)
    try:
        value = ToAst(origin).build(parse_tree(one_line, "config_value"), one_line)
    except UnexpectedInput as error:
        report(error, one_line + "\n", origin, sink)
    except (LarkError, IndentError, TooDeep) as error:
        sink.error("syntax", Span(origin, 1, 1, 1, 2), message=str(error).splitlines()[0])
    if sink.errors:
        raise SyntaxErrors(sink)
    return value
