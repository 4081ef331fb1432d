"""Syntax errors in the language's terms, not Lark's.

Lark reports a token it did not expect and the set of token names it would
have taken; this module turns that into a located diagnostic that says what
was expected in words a user knows ("expected `=` between the two sides of an
equation"), using the statement the error is in for context.
"""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from taskdsl.diagnostics import Diagnostics
from taskdsl.source import Span


class SyntaxErrors(Exception):
    """Raised where a caller asked for an exception: carries every syntax diagnostic."""

    def __init__(self, diagnostics: Diagnostics):
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics))


class TooDeep(Exception):
    """A construct nested deeper than the passes after parsing can follow; ``span`` is where."""

    def __init__(self, span: Span):
        super().__init__(str(span))
        self.span = span


# How each terminal reads in a message.
TOKEN_WORDS: dict[str, str] = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "BOOL": "`true` or `false`",
    "_NL": "the end of the line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "$END": "the end of the file",
    "ARROW": "`->`",
    "DRAW": "`<-`",
    "THEN": "`>>`",
    "TENSOR": "`@`",
    "ELLIPSIS": "`...`",
    "EQUAL": "`=`",
    "COLON": "`:`",
    "COMMA": "`,`",
    "SEMICOLON": "`;`",
    "DOT": "`.`",
    "PLUS": "`+`",
    "STAR": "`*`",
    "TILDE": "`~`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
}
KEYWORDS = [
    "import", "from", "type", "learner", "fixed", "data", "random", "const", "def", "refine",
    "task", "let", "trains", "by", "objective", "pattern", "use", "as", "impl", "train", "claim",
]
TOKEN_WORDS.update({k.upper(): f"`{k}`" for k in KEYWORDS})

# Words that open a statement (or a line of a pattern), for the context of a message.
STATEMENT_WORDS = frozenset((
    "import", "type", "learner", "fixed", "data", "random", "const", "def", "refine", "task",
    "objective", "pattern", "use", "impl", "train", "claim",
))


def report(error: UnexpectedInput, text: str, path: str, sink: Diagnostics) -> None:
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else "?"
        help_text = "strings use double quotes" if char == "'" else None
        span = Span(path, error.line, error.column, error.line, error.column + 1)
        shown = char if char.isprintable() else f"U+{ord(char):04X}"
        sink.error("bad-character", span, char=shown, help=help_text)
        return
    token = getattr(error, "token", None)
    expected = set(getattr(error, "expected", ()) or ())
    if isinstance(error, UnexpectedEOF) or token is None or token.type == "$END":
        # Point just past the last thing written: that is where more was wanted.
        lines = text.rstrip().splitlines()
        line = max(1, len(lines))
        column = len(lines[-1]) + 1 if lines else 1
        span = Span(path, line, column, line, column + 1)
        found = "the end of the file"
    elif token.type == "_INDENT":
        # Lark dates an indent from the newline before it; point at the indented line.
        line = token.end_line or token.line or 1
        span = Span(path, line, 1, line, max(2, token.end_column or 2))
        found = _describe_token(token)
    else:
        span = token_span(token, path)
        found = _describe_token(token)
    keyword = text.split(None, 1)[0] if text.split() else ""
    error_line = text.splitlines()[span.line - 1] if span.line <= len(text.splitlines()) else ""
    first_word = re.split(r"[^A-Za-z_]", error_line.strip() + " ", maxsplit=1)[0]
    if first_word in STATEMENT_WORDS:  # e.g. a `def` inside a pattern
        keyword = first_word
    before = error_line[: span.column - 1] if token is not None else error_line
    message, help_text = _explain(expected, token, keyword, before)
    # LALR merges look-ahead sets, so for the messages that name the fix, name only that.
    focused = {"expected `=` between": "`=` (or `<-` in a draw)",
               "expected `->` in": "`->` (or `,` and another input type)",
               "expected `>>`": "`>>`, `@`, `,` or the end of the line",
               "expected `+`": "`+` or the end of the line"}
    focus = next((words for start, words in focused.items() if message.startswith(start)), None)
    sink.error(
        "syntax",
        span,
        message=message,
        expected=focus or _expected_words(expected),
        found=found,
        help=help_text or "",
    )


def token_span(token: Token, path: str) -> Span:
    line = token.line or 1
    column = token.column or 1
    if token.type in ("_NL", "_DEDENT", "_INDENT"):
        return Span(path, line, column, line, column + 1)
    width = max(1, len(str(token.value)))
    return Span(path, line, column, token.end_line or line, (token.end_column or column + width))


def _describe_token(token: Token) -> str:
    if token.type in ("_NL", "_INDENT", "_DEDENT"):
        return TOKEN_WORDS[token.type]
    return f"`{token.value}`"


def _expected_words(expected: set[str]) -> str:
    words = sorted({TOKEN_WORDS.get(name, name.lower()) for name in expected})
    return ", ".join(words) if len(words) <= 8 else ", ".join(words[:8]) + ", ..."


def _explain(
    expected: set[str], token: Token | None, keyword: str = "task", before: str = ""
) -> tuple[str, str | None]:
    """The one-line message for a syntax error, in the language's terms.

    ``keyword`` opens the statement the error is in, and ``before`` is its line up
    to the error: LALR merges the states of expressions, so the expected tokens
    alone cannot tell an equation's left side from a def's body.
    """
    found = _describe_token(token) if token is not None and token.type != "$END" else "end of file"
    at_end = token is None or token.type == "$END"
    in_task = keyword in ("task", "pattern")
    if at_end and expected & {"RPAR", "RSQB"}:
        return "unexpected end of file", "a `(` or `[` is still open; close it"
    sided = "=" in before or "<-" in before  # the line already has its `=` or `<-`
    if "DRAW" in expected and "EQUAL" in expected and in_task and not at_end and not sided:
        return (
            f"expected `=` between the two sides of an equation (or `<-` to draw), found {found}",
            "a task's lines are draws `x <- source`, `let` bindings and one equation `lhs = rhs`",
        )
    if "THEN" in expected and (sided or not in_task) and not at_end:  # after an expression
        operators = "`+`" if keyword == "objective" else "`>>`, `@`, `,`"
        return f"expected {operators} or the end of the line, found {found}", None
    if "ARROW" in expected and "COMMA" in expected:
        return (
            f"expected `->` in the signature, found {found}",
            "a signature reads `A, B -> C`; a source has none on the left: `-> A`",
        )
    if expected == {"EQUAL"} or ("EQUAL" in expected and (
            "COMMA" in expected and "LPAR" in expected if in_task
            else keyword in ("def", "refine", "use", "type", "impl") and "THEN" not in expected)):
        return f"expected `=`, found {found}", None
    if expected <= {"_INDENT"}:
        return f"expected an indented block after `:`, found {found}", "indent the block's lines"
    if token is not None and token.type == "_INDENT":
        return "unexpected indentation", "only the body of a block (after `:`) is indented"
    # (`learner NAME` may also go on with `= ema(...)`: the `:` is what is missing)
    if "COLON" in expected and "LPAR" not in expected and len(expected - {"EQUAL"}) <= 2:
        return f"expected `:`, found {found}", None
    if token is not None and token.type == "NAME" and token.value in ("learner", "task"):
        return f"unexpected {found}", None
    if "_NL" in expected and token is not None and token.type != "_NL":
        return f"expected the end of the line, found {found}", None
    words = sorted({TOKEN_WORDS.get(name, name.lower()) for name in expected})
    if 0 < len(words) <= 3:
        return f"expected {' or '.join(words)}, found {found}", None
    return f"unexpected {found.removeprefix('the ')}", None

