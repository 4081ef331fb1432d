"""The fast path of parsing: Lark's own tables, driven by a tight loop that builds syntax nodes.

Lark's LALR parser is exact but general: a lexer generator, a post-lexer
generator, a ``Token`` per piece of white space, a ``Tree`` per rule that
:class:`~taskdsl.parsing.build.ToAst` then walks again.  A well-formed file
needs none of that, so :func:`fast_statements` runs the very same analysis --
Lark's parse table, its contextual lexer's patterns (one per parser state),
the indenter's rules, the tree builder's filtering and inlining of rules --
in one loop, and calls ``ToAst``'s method for each rule as it is reduced.

It is only a fast path: at the first thing it does not expect (a syntax
error, bad indentation, nesting deep enough that ``ToAst`` might report it)
it raises :class:`Fallback`, and the caller parses with Lark itself, whose
errors and recovery are what the user sees.  What it builds for a good file
is what Lark and ``ToAst`` build (tests/taskdsl/parsing/test_fast.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from functools import cache
from typing import Any, cast

from lark import Lark, Token, Tree
from lark.lexer import UnlessCallback
from lark.parsers.lalr_analysis import Shift

from taskdsl import syntax as ast
from taskdsl.parsing.build import MAX_DEPTH, ToAst, _place
from taskdsl.parsing.grammar import TaskIndenter, lark, line_rules
from taskdsl.source import Span

# What each bracket does to the nesting (the indenter's paren level).
BRACKETS = {"LPAR": 1, "LSQB": 1, "RPAR": -1, "RSQB": -1}


class Fallback(Exception):
    """The fast path cannot (or will not) parse this text: parse it with Lark."""


# Tree levels one bracket's nesting can add at most (a call, its arguments, a keyword
# argument, a `>>` chain, a `@` group), and the levels outside any bracket.  Below the
# bound the tree is too shallow for ToAst's depth limit; above it, Lark's path decides.
LEVELS_PER_BRACKET = 5
LEVELS_OUTSIDE = 20
MAX_BRACKETS = (MAX_DEPTH - LEVELS_OUTSIDE) // LEVELS_PER_BRACKET


@cache
def _plain_span_class() -> bool:
    """Whether a Span is its five fields in a ``__dict__``, and nothing more is done to make
    one: then :class:`_Builder` may fill that ``__dict__`` itself."""
    fields = tuple(f.name for f in dataclasses.fields(Span))
    return (fields == ("file", "line", "column", "end_line", "end_column")
            and not hasattr(Span, "__slots__") and not hasattr(Span, "__post_init__")
            and Span.__new__ is object.__new__)


class _Builder(ToAst):
    """``ToAst`` with a cheaper span: a frozen dataclass sets each field through
    ``object.__setattr__``, four times the cost of filling the instance's ``__dict__``,
    and a file has as many spans as names.  The span made is the same (class and fields)."""

    def _span(self, meta: Any) -> Span:
        if meta is None:
            return Span(self.path, 1, 1, 1, 1)
        span = _new(Span)
        fields = span.__dict__
        fields["file"] = self.path
        fields["line"], fields["column"], fields["end_line"], fields["end_column"] = meta[:4]
        return span


_new = object.__new__


@dataclass(slots=True)
class _Splice:
    """An inlined rule's children (Lark's ``_rule`` and ``x*`` helpers), spliced into its parent."""

    children: list
    places: list


@dataclass(frozen=True, slots=True)
class _Rule:
    """One grammar rule as the loop reduces it (Lark's callback chain, unrolled)."""

    size: int  # symbols on the right
    origin: str  # the rule it reduces to (the goto table's key)
    name: str  # the tree's name: its alias, or the rule's
    include: tuple[tuple[int, bool], ...] | None  # kept children (index, splice?); None: all
    single: bool  # a `?rule`: one child stands for the rule
    splice: bool  # an inlined `_rule`: its children go to its parent
    ends_line: bool  # its span runs over the end of its line
    method: Callable | None  # ToAst's method for it (None: keep a Tree)
    one: bool  # one symbol, kept as it is, no line end, a method: reduced in place

    @property
    def unit(self) -> bool:
        """A `?rule` of one kept symbol: its child stands for it, as it is."""
        return self.size == 1 and self.single and self.include is None and not self.splice


@dataclass(frozen=True, slots=True)
class _Tables:
    """What the loop reads, per parser state: actions, and the lexer's pattern and keywords."""

    actions: dict[int, dict[str, tuple[bool, Any]]]  # state -> token -> (shift?, state or rule)
    lexers: dict[int, tuple[Callable, dict[str, str], frozenset[str], frozenset[str]]]
    start: int
    end: int
    # (state below, state on top, next token) -> the state on top after the unit rules
    # that token reduces by there: a chain of them costs one lookup.
    units: dict[tuple[int, int, str], int] = field(default_factory=dict)


@cache
def _tables() -> _Tables | None:
    """Lark's analysis of the grammar, arranged for the loop; None (once and for all) if
    this Lark builds its parser in a way the loop does not reproduce."""
    try:
        return _arrange(lark())
    except (AttributeError, AssertionError, KeyError, TypeError):
        return None


def _arrange(parser: Lark) -> _Tables:
    frontend = parser.parser
    postlex, contextual = frontend.lexer.postlexer, frontend.lexer.lexer
    assert isinstance(postlex, TaskIndenter) and not parser.options.maybe_placeholders
    assert not parser.options.propagate_positions and parser.options.transformer is None
    assert not parser.options.lexer_callbacks and parser.options.tree_class in (None, Tree)
    table = frontend.parser.parser.parse_table
    rules: dict[Any, _Rule] = {}
    for rule in parser.rules:
        assert rule.options.template_source is None and not rule.options.empty_indices
        assert not rule.options.keep_all_tokens
        include = [(i, not sym.is_term and sym.name.startswith("_"))
                   for i, sym in enumerate(rule.expansion)
                   if not (sym.is_term and sym.filter_out)]
        whole = len(include) == len(rule.expansion) and not any(s for _, s in include)
        # Plain strings: a parser Lark has just built names its rules with Tokens.
        name = str(rule.alias or rule.origin.name)
        single = bool(rule.options.expand1 and not rule.alias)
        splice, ends_line = name.startswith("_"), name in line_rules()
        method = getattr(ToAst, name, None)
        one = (len(rule.expansion) == 1 and whole and method is not None
               and not (single or splice or ends_line))
        rules[rule] = _Rule(len(rule.expansion), str(rule.origin.name), name,
                            None if whole else tuple(include), single, splice, ends_line,
                            method, one)
    # A shift holds its state; a reduce by a unit rule its rule's name (a string: the goto
    # is all there is to do); any other reduce its rule's fields, as a tuple.
    actions = {state: {token: (action is Shift, arg if action is Shift else
                               rules[arg].origin if rules[arg].unit else astuple(rules[arg]))
                       for token, (action, arg) in row.items()}
               for state, row in table.states.items()}
    lexers = {}
    for state, lexer in contextual.lexers.items():
        scanner = lexer.scanner
        assert len(scanner._mres) == 1
        keywords: dict[str, str] = {}
        for kind, callback in lexer.callback.items():
            assert isinstance(callback, UnlessCallback) and kind == "NAME"
            keywords = {t.pattern.value: t.name for t in callback.scanner.terminals}
        lexers[state] = (scanner._mres[0].match, keywords, lexer.ignore_types, lexer.newline_types)
    return _Tables(actions, lexers, table.start_states["start"], table.end_states["start"])


def fast_statements(text: str, path: str) -> list[ast.Statement]:
    """The statements of ``text`` (which ends with a newline), as Lark and ToAst would build
    them; raises :class:`Fallback` wherever it is not sure to."""
    tables = _tables()
    if tables is None:
        raise Fallback("this Lark is not arranged as the loop expects")
    builder = _Builder(path) if _plain_span_class() else ToAst(path)
    actions, lexers, end_state, units = tables.actions, tables.lexers, tables.end, tables.units
    new_str = str.__new__
    states: list[int] = [tables.start]
    values: list[Any] = []
    places: list[Any] = []
    indents = [0]
    brackets = deepest = 0
    pos, line, line_start, size = 0, 1, 0, len(text)

    def feed(kind: str, token: Any, token_place: Any) -> Any:
        """Lark's ``feed_token``: reduce while the table says so, then shift (or accept)."""
        while True:
            try:
                shift, arg = actions[states[-1]][kind]
            except KeyError:
                raise Fallback(kind) from None
            if shift:
                states.append(arg)
                values.append(token)
                places.append(token_place)
                return None
            if arg.__class__ is str:  # a unit rule: only the state changes
                key = (states[-2], states[-1], kind)
                top = units.get(key)
                if top is None:  # follow the chain of unit rules once, and remember its end
                    top = states[-1]
                    while arg.__class__ is str:
                        top = actions[key[0]][arg][1]
                        if kind == "$END" and top == end_state:
                            return values[-1]
                        arg = actions[top].get(kind, (True, None))[1]
                    units[key] = top
                states[-1] = top
                continue
            size_, origin, name, include, single, splice, ends_line, method, one = arg
            if one:  # one child, kept, and a method: the node replaces its child in place
                value = method(builder, places[-1], [values[-1]])  # the child's place is its
                states[-1] = goto = actions[states[-2]][origin][1]
                values[-1] = value
                if kind == "$END" and goto == end_state:
                    return value
                continue
            if size_:
                got, where = values[-size_:], places[-size_:]
                del states[-size_:], values[-size_:], places[-size_:]
            else:
                got, where = [], []
            if include is not None:
                kept: list = []
                at: list = []
                for i, spliced in include:
                    if spliced and kept:
                        kept += got[i].children
                        at += got[i].places
                    elif spliced:  # as Lark does: a left-recursive list grows in place
                        kept, at = got[i].children, got[i].places
                    else:
                        kept.append(got[i])
                        at.append(where[i])
                got, where = kept, at
            if splice:
                value, place = _Splice(got, where), None
            elif single and len(got) == 1:
                value, place = got[0], where[0]
            else:
                if ends_line or not where or None in where:
                    place = _place(where, text if ends_line else None)
                else:  # _place's common case, inline
                    first, last = where[0], where[-1]
                    place = (first[0], first[1], last[2], last[3], last[4])
                value = method(builder, place, got) if method is not None else Tree(name, got)
            goto = actions[states[-1]][origin][1]
            states.append(goto)
            values.append(value)
            places.append(place)
            if kind == "$END" and goto == end_state:
                return value

    while pos < size:
        match, keywords, ignored, multiline = lexers[states[-1]]
        found = match(text, pos)
        if found is None:
            raise Fallback("no token")
        kind = found.lastgroup
        value = found.group()
        start, column = pos, pos - line_start + 1
        first_line = line
        pos = found.end()
        if kind in multiline and (newlines := value.count("\n")):
            line += newlines
            line_start = start + value.rindex("\n") + 1
        if kind in ignored:
            continue
        if kind == "_NL":
            if brackets:
                continue
            feed(kind, None, None)
            indent_text = value.rsplit("\n", 1)[1]
            indent = indent_text.count(" ") + indent_text.count("\t") * TaskIndenter.tab_len
            if indent > indents[-1]:
                indents.append(indent)
                feed("_INDENT", None, None)
            else:
                while indent < indents[-1]:
                    indents.pop()
                    feed("_DEDENT", None, None)
                if indent != indents[-1]:
                    raise Fallback("dedent")
            continue
        if kind == "NAME" and keywords:
            kind = keywords.get(value, kind)
        token = new_str(Token, value)
        token.type, token.value, token.start_pos = kind, value, start
        token.line, token.column, token.end_line = first_line, column, line
        token.end_column, token.end_pos = pos - line_start + 1, pos
        if kind in BRACKETS:
            brackets += BRACKETS[kind]
            if brackets > deepest:
                deepest = brackets
                if deepest > MAX_BRACKETS:
                    raise Fallback("deep")
            elif brackets < 0:
                raise Fallback("brackets")
        feed(kind, token, (first_line, column, line, pos - line_start + 1, pos))
    if brackets:
        raise Fallback("brackets")
    for _ in indents[1:]:
        feed("_DEDENT", None, None)
    return cast("list[ast.Statement]", feed("$END", None, None))
