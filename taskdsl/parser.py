"""Parsing .task text into a syntax tree, with errors in the language's terms.

The grammar (``grammar/task.lark``) is LALR(1) and indentation-sensitive.  A
syntax error is translated from Lark's token names into words a user knows
("expected `=` between the two sides of an equation"), and the parser then
recovers at the next top-level statement, so every broken statement in a file
is reported and the intact ones still reach the checker.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
)
from lark.indenter import Indenter

from taskdsl import syntax as ast
from taskdsl.diagnostics import Diagnostics
from taskdsl.source import Span

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
    "task", "let", "trains", "by", "objective", "pattern", "use", "as", "impl", "train",
]
TOKEN_WORDS.update({k.upper(): f"`{k}`" for k in KEYWORDS})

# Words that open a statement (or a line of a pattern), for the context of a message.
STATEMENT_WORDS = frozenset((
    "import", "type", "learner", "fixed", "data", "random", "const", "def", "refine", "task",
    "objective", "pattern", "use", "impl", "train",
))

TOP_LEVEL = re.compile(r"^(?![ \t#\r\n])", re.MULTILINE)


class TaskIndenter(Indenter):
    """Python-style blocks: ``_INDENT``/``_DEDENT`` from leading white space."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]  # noqa: RUF012  (Lark reads these as class attributes)
    CLOSE_PAREN_types = ["RPAR", "RSQB"]  # noqa: RUF012
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


@cache
def _lark() -> Lark:
    grammar = resources.files("taskdsl.grammar").joinpath("task.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        postlex=TaskIndenter(),
        maybe_placeholders=False,
        start=["start", "config_value"],
        cache=_grammar_cache(),
    )


def _grammar_cache() -> str | bool:
    """Where Lark keeps the analysed grammar between runs (a tenth of the start-up time).

    The user's own cache folder, not a shared temporary one, since Lark unpickles it;
    Lark rebuilds it whenever the grammar, Lark or Python changes.  No cache if the
    folder cannot be made.
    """
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()) / "taskdsl"
    if not folder.is_absolute():  # no home folder to be found
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return str(folder / "task-grammar.lark")


@cache
def _line_rules() -> frozenset[str]:
    """The rules that end with the end of a line: their span runs to the next line's code."""
    return frozenset(rule.alias or rule.origin.name for rule in _lark().rules
                     if rule.expansion and rule.expansion[-1].name == "_NL")


def parse(text: str, path: str = "<input>", diagnostics: Diagnostics | None = None) -> ast.Module:
    """Parse a whole file.  Syntax errors go to ``diagnostics``; never raises on bad input.

    Without a ``diagnostics`` list, a syntax error raises :class:`SyntaxErrors`.
    """
    sink = diagnostics if diagnostics is not None else Diagnostics()
    comments = tuple(_comments(text))
    source = text if text.endswith("\n") else text + "\n"
    with collector_paused():
        try:
            statements = _parse_chunk(source, path)
        except (LarkError, _IndentError, _TooDeep):
            statements = _parse_recovering(source, path, sink)
    if diagnostics is None and sink.errors:
        raise SyntaxErrors(sink)
    return ast.Module(path, tuple(statements), comments)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector.

    Parsing and elaboration allocate a great many objects that all stay alive;
    collections while they pile up find nothing to free, and made checking a large
    file twice as slow.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        tree = _lark().parse(one_line, start="config_value")
        value = _ToAst(origin).build(tree, one_line)
    except UnexpectedInput as error:
        _report(error, one_line + "\n", origin, sink)
    except (LarkError, _TooDeep) as error:
        sink.error("syntax", Span(origin, 1, 1, 1, 2), message=str(error).splitlines()[0])
    if sink.errors:
        raise SyntaxErrors(sink)
    return value


class SyntaxErrors(Exception):
    def __init__(self, diagnostics: Diagnostics):
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics))


class _IndentError(Exception):
    pass


class _TooDeep(Exception):
    """A construct nested deeper than :data:`MAX_DEPTH`; ``span`` is where."""

    def __init__(self, span: Span):
        super().__init__(str(span))
        self.span = span


def _parse_chunk(text: str, path: str) -> list[ast.Statement]:
    try:
        tree = _lark().parse(text)
    except Exception as error:
        # Lark's Indenter raises a bare DedentError on inconsistent indentation.
        if type(error).__name__ == "DedentError":
            raise _IndentError(str(error)) from error
        raise
    return _ToAst(path).build(tree, text)


def _parse_recovering(text: str, path: str, sink: Diagnostics) -> list[ast.Statement]:
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
            statements.extend(_parse_chunk(padded, path))
        except UnexpectedInput as error:
            _report(error, padded, path, sink)
        except _IndentError:
            line = _bad_indent_line(padded)
            text_line = padded.splitlines()[line - 1] if padded.splitlines() else ""
            indent = len(text_line) - len(text_line.lstrip(" \t"))
            sink.error("bad-indent", Span(path, line, 1, line, max(2, indent + 1)))
        except _TooDeep as error:
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


# ------------------------------------------------------------ error words
def _report(error: UnexpectedInput, text: str, path: str, sink: Diagnostics) -> None:
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
        span = _token_span(token, path)
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


def _token_span(token: Token, path: str) -> Span:
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
    if "COLON" in expected and "LPAR" not in expected and len(expected) <= 2:
        return f"expected `:`, found {found}", None
    if token is not None and token.type == "NAME" and token.value in ("learner", "task"):
        return f"unexpected {found}", None
    if "_NL" in expected and token is not None and token.type != "_NL":
        return f"expected the end of the line, found {found}", None
    words = sorted({TOKEN_WORDS.get(name, name.lower()) for name in expected})
    if 0 < len(words) <= 3:
        return f"expected {' or '.join(words)}, found {found}", None
    return f"unexpected {found.removeprefix('the ')}", None


# A string literal (skipped, with its escaped quotes) or a comment, as the grammar reads them.
STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def _comments(text: str) -> list[ast.Comment]:
    """Comments with their positions, for the formatter (the parser drops them).

    Lines are counted at ``\\n`` only, as Lark counts them.
    """
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        for match in STRING_OR_COMMENT.finditer(line):
            if match.group().startswith("#"):
                out.append(ast.Comment(number, match.start() + 1, match.group().rstrip()))
                break
    return out


# ----------------------------------------------------------- tree to AST
def _tokens(children: list, kind: str | None = None) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and (kind is None or c.type == kind)]


def _nodes(children: list) -> list:
    return [c for c in children if not isinstance(c, Token)]


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


# Where a parsed piece lies: line, column, end line, end column, end offset.
_Place = tuple[int, int, int, int, int]

# What ends a line's rule: spaces, line continuations, then Lark's `_NL` token.
END_OF_LINE = re.compile(r"(?:[\t \f]+|\\[\t \f]*\r?\n)*(?:\r?\n[\t ]*|#[^\n]*)+")


def _place(places: list[_Place | None], text: str | None) -> _Place | None:
    """Where a rule lies whose children lie at ``places``: from the first one's start
    to the last one's end (None: nowhere, an empty rule).

    With ``text``, the rule ends a line, and (as in Lark) its span runs over the
    end of the line, blank and comment lines included, to the next code.
    """
    inside = [p for p in places if p is not None] if None in places else places
    if not inside:
        return None
    line, column, end_line, end_column, end_pos = inside[0][0], inside[0][1], *inside[-1][2:]
    if text is not None and (match := END_OF_LINE.match(text, end_pos)):
        newlines = text.count("\n", end_pos, match.end())
        if newlines:
            end_line += newlines
            end_column = match.end() - text.rfind("\n", 0, match.end())
        else:
            end_column += match.end() - end_pos
        end_pos = match.end()
    return line, column, end_line, end_column, end_pos


# How deep applications (or brackets) may nest.  The passes after parsing recurse on
# expressions; this keeps them well inside Python's stack.
MAX_NESTING = 100
MAX_DEPTH = 2 * MAX_NESTING + 10  # parse-tree levels: two per application, and the statement's


class _ToAst:
    """Lark's tree to :mod:`taskdsl.syntax` nodes, keeping spans.

    Each rule's method takes the rule's ``meta`` (where it lies, a :data:`_Place`,
    None for an empty rule) and its children, already built.
    """

    def __init__(self, path: str):
        self.path = path

    def build(self, tree: Tree, text: str) -> object:
        """The node for ``tree`` (parsed from ``text``), built bottom-up without recursion.

        Each rule's position is worked out here as Lark's ``propagate_positions``
        would (from its first child's start to its last child's end, a line's rule
        running on over the end of the line), at a fraction of the cost; and Lark's
        ``Transformer`` would recurse, and take twice the time.
        """
        # Per rule: its method (None: keep a Tree) and whether it ends a line.  Keyed by
        # the rule's name as Lark gives it, the same object each time, so lookups are cheap.
        rules: dict[str, tuple[Callable[[_Place | None, list], object] | None, bool]] = {}
        # One frame per open tree: the tree, its children still to visit, and its children
        # built so far with where each lies (None: nowhere).
        stack: list[tuple[Tree, Iterator[Tree | Token], list[object], list[_Place | None]]]
        stack = [(tree, iter(tree.children), [], [])]
        while True:
            node, rest, children, places = stack[-1]
            for child in rest:
                if isinstance(child, Tree):
                    if len(stack) > MAX_DEPTH:
                        raise _TooDeep(self._first_token_span(child))
                    stack.append((child, iter(child.children), [], []))
                    break
                children.append(child)
                places.append((child.line, child.column, child.end_line, child.end_column,
                               child.end_pos))
            else:  # all its children are built
                stack.pop()
                rule = rules.get(node.data)
                if rule is None:
                    rule = rules[node.data] = (getattr(self, node.data, None),
                                               node.data in _line_rules())
                method, ends_line = rule
                place = _place(places, text if ends_line else None)
                result = (method(place, children) if method is not None
                          else Tree(node.data, children))
                if not stack:
                    return result
                stack[-1][2].append(result)
                stack[-1][3].append(place)

    def _span(self, meta: _Place | None) -> Span:
        if meta is None:
            return Span(self.path, 1, 1, 1, 1)
        return Span(self.path, *meta[:4])

    def _first_token_span(self, tree: Tree) -> Span:
        """The span of the first token under ``tree`` (found without recursion)."""
        stack: list[Tree | Token] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, Token):
                return self._tok_span(node)
            stack.extend(reversed(node.children))
        return Span(self.path, 1, 1, 1, 1)

    def _tok_span(self, token: Token) -> Span:
        return _token_span(token, self.path)

    # -- small pieces
    def start(self, meta, children):
        return _nodes(children)

    def config_value(self, meta, children):
        return self._value(_nodes(children)[0])

    def number(self, meta, children):
        return _number(children[0].value)

    def qualified(self, meta, children):
        return ".".join(t.value for t in _tokens(children, "NAME")), self._span(meta)

    def type_expr(self, meta, children):
        name = children[0].value
        dims = [c.value if isinstance(c, Token) else c for c in children[1:]]
        dims = [d for d in dims if d not in ("[", "]", ",")]
        has_brackets = any(isinstance(c, Token) and c.type == "LSQB" for c in children)
        return ast.TypeExpr(name, tuple(dims) if has_brackets else None, self._span(meta))

    def type_list(self, meta, children):
        return _nodes(children)

    def signature(self, meta, children):
        arrow = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "ARROW")
        inputs = next((c for c in children[:arrow] if isinstance(c, list)), [])
        outputs = _nodes(children[arrow:])
        return ast.SigExpr(tuple(inputs), tuple(outputs), bool(_tokens(children, "ELLIPSIS")))

    # -- declarations
    def import_stmt(self, meta, children):
        names = _tokens(children, "NAME")
        strings = _tokens(children, "STRING")
        if strings:
            return ast.Import(names[0].value, _unquote(strings[0].value), True, self._span(meta))
        module = names[1].value if len(names) > 1 else None
        return ast.Import(names[0].value, module, False, self._span(meta))

    def type_alias(self, meta, children):
        return ast.TypeAlias(_tokens(children, "NAME")[0].value, _nodes(children)[0], self._span(meta))

    def box_kind(self, meta, children):
        return children[0].value

    def distribution(self, meta, children):
        return ("dist", _tokens(children, "NAME")[0].value)

    def const_value(self, meta, children):
        return ("value", _nodes(children)[0])

    def box_decl(self, meta, children):
        kind = children[0]
        name = _tokens(children, "NAME")[0].value
        sig = next(c for c in children if isinstance(c, ast.SigExpr))
        extras = dict(c for c in children if isinstance(c, tuple))
        return ast.BoxDecl(kind, name, sig, extras.get("dist"), extras.get("value"), self._span(meta))

    # -- diagrams
    def def_param(self, meta, children):
        types = _nodes(children)
        return ast.Param(children[0].value, types[0] if types else None, self._span(meta))

    def def_params(self, meta, children):
        return tuple(_nodes(children))

    def _diagram_def(self, meta, children):
        keyword = children[0].value
        name = children[1].value
        params = next((c for c in children if isinstance(c, tuple)), None)
        body = next(c for c in children if isinstance(c, list))
        return ast.DiagramDef(keyword, name, params, tuple(body), self._span(meta))

    def def_stmt(self, meta, children):
        return self._diagram_def(meta, children)

    def refine_stmt(self, meta, children):
        return self._diagram_def(meta, children)

    def expr_list(self, meta, children):
        return _nodes(children)

    def args(self, meta, children):
        return _nodes(children)

    def seq(self, meta, children):
        return ast.Seq(tuple(_nodes(children)), self._span(meta))

    def par(self, meta, children):
        return ast.Par(tuple(_nodes(children)), self._span(meta))

    def call(self, meta, children):
        nodes = _nodes(children)
        args = nodes[1] if len(nodes) > 1 else []
        return ast.Call(nodes[0], tuple(args), self._span(meta))

    def group(self, meta, children):
        return _nodes(children)[0]

    def ref(self, meta, children):
        name, _ = children[0]
        args = tuple(_nodes(children[1:]))
        return ast.Ref(name, args, self._span(meta))

    # -- tasks
    def draw(self, meta, children):
        targets, (source, _) = _nodes(children)
        return ast.Draw(tuple(targets), source, self._span(meta))

    def let_stmt(self, meta, children):
        targets, values = _nodes(children)
        return ast.Let(tuple(targets), tuple(values), self._span(meta))

    def trains_clause(self, meta, children):
        refs = tuple(ast.Ref(name, (), span) for name, span in _nodes(children))
        return ast.Trains(refs, self._span(meta))

    def by_clause(self, meta, children):
        return ast.By(_tokens(children, "NAME")[0].value, self._span(meta))

    def equation(self, meta, children):
        nodes = _nodes(children)
        return ast.EquationStmt(tuple(nodes[0]), tuple(nodes[1]), tuple(nodes[2:]), self._span(meta))

    def clause_stmt(self, meta, children):
        return ast.ClauseStmt(tuple(_nodes(children)), self._span(meta))

    def task(self, meta, children):
        return ast.Task(children[1].value, tuple(_nodes(children)), self._span(meta))

    def term(self, meta, children):
        nodes = _nodes(children)
        weight = nodes[0] if len(nodes) == 2 else None
        name, span = nodes[-1]
        return ast.Term(weight, name, self._span(meta) if weight is not None else span)

    def objective(self, meta, children):
        return ast.Objective(children[1].value, tuple(_nodes(children)), self._span(meta))

    # -- patterns
    def type_param(self, meta, children):
        names = _tokens(children, "NAME")
        kind = names[1].value if len(names) > 1 else "type"
        return ast.TypeParam(names[0].value, kind, self._span(meta))

    def pattern_types(self, meta, children):
        return tuple(_nodes(children))

    def param_sig(self, meta, children):
        return ast.ParamSig(children[0].value, _nodes(children)[0], self._span(meta))

    def pattern(self, meta, children):
        name = children[1].value
        type_params = next((c for c in children if isinstance(c, tuple)), ())
        rpar = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == "RPAR")
        params = tuple(t.value for t in _tokens(children[2:rpar], "NAME"))
        items = tuple(c for c in _nodes(children[rpar:]) if not isinstance(c, tuple))
        return ast.Pattern(name, type_params, params, items, self._span(meta))

    def use_arg(self, meta, children):
        return ast.UseArg(children[0].value, _nodes(children)[0], self._span(meta))

    def use_stmt(self, meta, children):
        names = _tokens(children, "NAME")
        has_alias = any(isinstance(c, Token) and c.type == "AS" for c in children)
        alias = names[-1].value if has_alias else None
        return ast.Use(names[0].value, tuple(_nodes(children)), alias, self._span(meta))

    # -- implementation
    def string(self, meta, children):
        return ast.Literal(_unquote(children[0].value), self._span(meta))

    def boolean(self, meta, children):
        return ast.Literal(children[0].value == "true", self._span(meta))

    def name_value(self, meta, children):
        name, span = children[0]
        return ast.NameValue(name, span)

    def call_arg(self, meta, children):
        return _nodes(children)[0]

    def keyword_arg(self, meta, children):
        return (children[0].value, _nodes(children)[0])

    def call_value(self, meta, children):
        (name, _), *rest = _nodes(children)
        args = tuple(self._value(c) for c in rest if not isinstance(c, tuple))
        kwargs = tuple((k, self._value(v)) for k, v in (c for c in rest if isinstance(c, tuple)))
        return ast.CallValue(name, args, kwargs, self._span(meta))

    def list_value(self, meta, children):
        return ast.ListValue(tuple(self._value(c) for c in _nodes(children)), self._span(meta))

    def _value(self, node) -> ast.Value:
        if isinstance(node, int | float):
            return ast.Literal(node, Span(self.path, 1, 1, 1, 1))
        return node

    def impl_stmt(self, meta, children):
        return ast.Impl(children[1].value, self._value(_nodes(children)[0]), self._span(meta))

    def data_binding(self, meta, children):
        return ast.DataBinding(children[1].value, self._value(_nodes(children)[0]), self._span(meta))

    def setting(self, meta, children):
        return ast.Setting(children[0].value, self._value(_nodes(children)[0]), self._span(meta))

    def train_block(self, meta, children):
        return ast.Train(children[1].value, tuple(_nodes(children)), self._span(meta))


ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    """A string literal's value: escapes decoded, any other backslash kept as written.

    Never fails (``"\\x"`` is a backslash and an ``x``) and leaves non-ASCII text alone.
    """

    def decode(match: re.Match[str]) -> str:
        body = match.group(1)
        if len(body) > 1 and int(body[1:], 16) <= sys.maxunicode:
            return chr(int(body[1:], 16))
        return SIMPLE_ESCAPES.get(body, match.group())

    return ESCAPE.sub(decode, text[1:-1])
