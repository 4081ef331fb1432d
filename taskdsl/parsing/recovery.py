"""Error recovery: after a syntax error, parse each top-level statement on its own.

So one broken statement hides no other: each is reported, and the intact ones
still reach the checker.  A top-level statement starts at a line that begins
with neither white space nor a comment.
"""

from __future__ import annotations

import re

from lark.exceptions import LarkError, UnexpectedInput

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostics
from taskdsl.parsing.build import MAX_NESTING, parse_statements
from taskdsl.parsing.errors import TooDeep, report
from taskdsl.parsing.grammar import IndentError
from taskdsl.source import Span

TOP_LEVEL = re.compile(r"^(?![ \t#\r\n])", re.MULTILINE)


def parse_recovering(text: str, path: str, sink: Diagnostics) -> list[ast.Statement]:
    """Parse each top-level statement on its own, so one error hides no other."""
    starts = [m.start() for m in TOP_LEVEL.finditer(text) if m.start() < len(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    statements: list[ast.Statement] = []
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        chunk = text[begin:end]
        if not chunk.strip():
            continue
        padded = "\n" * text.count("\n", 0, begin) + chunk
        try:
            statements.extend(parse_statements(padded, path))
        except UnexpectedInput as error:
            report(error, padded, path, sink)
        except IndentError:
            line = _bad_indent_line(padded)
            text_line = padded.splitlines()[line - 1] if padded.splitlines() else ""
            indent = len(text_line) - len(text_line.lstrip(" \t"))
            sink.error("bad-indent", Span(path, line, 1, line, max(2, indent + 1)))
        except TooDeep as error:
            sink.error("syntax", error.span, message=f"nested more than {MAX_NESTING} deep",
                       help="give inner parts names with `let` (or a `def`)")
        except LarkError as error:  # pragma: no cover - Lark's other internal errors
            sink.error("syntax", Span(path, 1, 1, 1, 2), message=str(error).splitlines()[0])
    return statements


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
