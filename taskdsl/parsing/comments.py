"""Comments with their positions: the parser drops them, the formatter keeps them."""

from __future__ import annotations

import re

from taskdsl import syntax as ast

# A string literal (skipped, with its escaped quotes) or a comment, as the grammar reads them.
STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def comments(text: str) -> list[ast.Comment]:
    """Comments with their positions, for the formatter (the parser drops them).

    Lines are counted at ``\\n`` only, as Lark counts them.
    """
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        if "#" not in line:  # most lines: no comment to find
            continue
        for match in STRING_OR_COMMENT.finditer(line):
            if match.group().startswith("#"):
                out.append(ast.Comment(number, match.start() + 1, match.group().rstrip()))
                break
    return out
