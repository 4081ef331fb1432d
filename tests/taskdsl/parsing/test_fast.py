"""The fast path of parsing builds what Lark and ToAst build, spans included, or steps aside.

``fast_statements`` drives Lark's own tables in one loop; whatever it returns must
be exactly the Lark path's result (every node, every span, every token's place),
and wherever it is not sure (a syntax error, bad indentation, deep nesting) it
raises ``Fallback`` so that the Lark path, with its errors and recovery, decides.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Token, Tree
from lark.exceptions import LarkError

from taskdsl.diagnostics import Diagnostics
from taskdsl.parser import parse
from taskdsl.parsing import fast, grammar
from taskdsl.parsing.build import parse_statements
from taskdsl.parsing.errors import TooDeep
from taskdsl.parsing.fast import MAX_BRACKETS, Fallback, fast_statements
from taskdsl.parsing.grammar import IndentError
from tests.taskdsl.strategies import corruptions, programs

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted([*ROOT.glob("examples/**/*.task"), *ROOT.glob("stdlib/*.task"),
                  *ROOT.glob("benchmarks/*.task"), *ROOT.glob("tests/**/*.task")])


def dump(node: object) -> object:
    """``node`` as plain data, spans and token places included (syntax nodes' equality
    ignores spans, and this test is about them too)."""
    if isinstance(node, Token):
        return ("token", node.type, node.value, node.line, node.column, node.end_line,
                node.end_column, node.start_pos, node.end_pos)
    if isinstance(node, Tree):
        return ("tree", node.data, [dump(c) for c in node.children])
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,
                tuple((f.name, dump(getattr(node, f.name))) for f in dataclasses.fields(node)))
    if isinstance(node, list | tuple):
        return (type(node).__name__, [dump(c) for c in node])
    return node


def lark_path(text: str) -> object:
    """What the Lark path builds, or the kind of error it raises."""
    try:
        return dump(parse_statements(text, "t.task"))
    except (LarkError, IndentError, TooDeep) as error:
        return ("error", type(error))


def same_or_fallback(text: str) -> None:
    """The fast path builds what the Lark path does, or steps aside where that fails."""
    text = text if text.endswith("\n") else text + "\n"
    expected = lark_path(text)
    try:
        got = dump(fast_statements(text, "t.task"))
    except Fallback:
        assert expected[0] == "error" or "(" * (MAX_BRACKETS // 2) in text.replace(" ", "")
        return
    assert got == expected


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_files(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: a test of the loader's message")
    same_or_fallback(text)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs(text: str) -> None:
    same_or_fallback(text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_corruptions(data: st.DataObject) -> None:
    """A corrupted program: Lark's path and the fast one agree, or the fast one steps aside."""
    same_or_fallback(data.draw(corruptions(data.draw(programs()))))


KEYWORDS_AS_NAMES = """\
type A = Real[4]
learner by : A -> A
learner import : A -> A
def g = import >> by
"""


def test_a_keyword_where_only_a_name_fits() -> None:
    """The contextual lexer reads ``by`` as a name where no keyword fits; so does the loop."""
    names = [s.name for s in fast_statements(KEYWORDS_AS_NAMES, "t.task")[1:3]]
    assert names == ["by", "import"]
    same_or_fallback(KEYWORDS_AS_NAMES)


@pytest.mark.parametrize("depth", [MAX_BRACKETS - 1, MAX_BRACKETS + 1, 150])
def test_nesting(depth: int) -> None:
    """Nesting below the bound parses on the fast path; above it the Lark path decides
    (and reports nesting past its limit, as before)."""
    text = ("type A = Real[4]\nlearner f : A -> A\ndata d : -> A\ntask t:\n    x <- d\n"
            f"    {'f(' * depth}x{')' * depth} = x  trains f\n")
    if depth <= MAX_BRACKETS:
        assert dump(fast_statements(text, "t.task")) == lark_path(text)
    else:
        with pytest.raises(Fallback):
            fast_statements(text, "t.task")
        sink = Diagnostics()
        parse(text, "t.task", sink)
        assert bool(sink.errors) == (lark_path(text) == ("error", TooDeep))


@pytest.mark.parametrize("text", [
    "task t:\n    x <- d\n  y <- d\n",  # a dedent to no enclosing block
    "def f = (a >> b\n",  # an unclosed bracket
    "def f = a >> b)\n",  # a closing one too many
    "type A = Real[4] $\n",  # no such token
])
def test_errors_step_aside(text: str) -> None:
    with pytest.raises(Fallback):
        fast_statements(text, "t.task")
    assert lark_path(text)[0] == "error"


def test_a_parser_built_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the grammar cache Lark builds its parser anew (its rules named by Tokens,
    not strings); the loop reads that parser's tables as well as a loaded one's."""
    monkeypatch.setattr(grammar, "user_cache_folder", lambda *parts: None)
    grammar.lark.cache_clear()
    grammar.line_rules.cache_clear()
    fast._tables.cache_clear()
    try:
        for path in SHIPPED[:12]:
            same_or_fallback(path.read_text(encoding="utf-8"))
    finally:
        grammar.lark.cache_clear()
        grammar.line_rules.cache_clear()
        fast._tables.cache_clear()


@pytest.mark.parametrize("text", [
    "", "\n\n", "# only a comment", "   \n",
    "type A = Real[4]\r\nlearner f : A -> A\r\n",  # Windows line ends
    "task t:\n\tx <- d\n        f(x) = x\n",  # a tab is eight spaces
    "def f = a >> \\\n  b\n",  # a line continued
    "type A = Real[4]   # c\n\n\n# d\n",
    "task t:\n    x <- d\n\n    # c\n    f(x) = x\n# end",
    "def f = (a\n  >> b)\n",  # a line end inside brackets
    'train t:\n    lr 0.1\n    opt adam(b=[1, 2], c: "x")\n',
])
def test_layouts(text: str) -> None:
    """Odd layouts take the fast path, and build what Lark builds."""
    source = text if text.endswith("\n") else text + "\n"
    assert dump(fast_statements(source, "t.task")) == lark_path(source)


def test_spans_made_cheaply_are_spans() -> None:
    """The fast path fills a span's fields itself: the span is the same, to its hash."""
    text = "type A = Real[4]\nlearner f : A -> A\ndef g = f >> f\n"
    fast_spans = [s.span for s in fast_statements(text, "t.task")]
    lark_spans = [s.span for s in parse_statements(text, "t.task")]
    assert fast_spans == lark_spans
    assert [hash(s) for s in fast_spans] == [hash(s) for s in lark_spans]
    assert all(type(s) is type(t) for s, t in zip(fast_spans, lark_spans, strict=True))
    assert [str(s) for s in fast_spans] == ["t.task:1:1", "t.task:2:1", "t.task:3:1"]


def _nested(layout: str, times: int, inner: str) -> str:
    for _ in range(times):
        inner = layout.format(inner)
    return inner


@pytest.mark.parametrize("text", [
    "pattern p[T](f, a, c):\n    task t:\n        x <- d\n        "
    + _nested("f((c >> a @ f({})))", MAX_BRACKETS // 3, "x") + " = x  trains f\n",
    "pattern p[T](f, a, c):\n    task t:\n        x <- d\n        "
    + _nested("f(c >> a @ {})", MAX_BRACKETS, "x") + " = x  trains f\n",
    "train t:\n    opt " + _nested("adam(b=[{}])", MAX_BRACKETS // 2, "1") + "\n",
])
def test_the_deepest_the_fast_path_takes(text: str) -> None:
    """At the nesting bound, with the most tree levels a bracket can add (a call, its
    arguments, a `>>` chain, a `@` group, a keyword argument), the tree is still within
    ToAst's depth limit: the fast path never builds what Lark's path would refuse."""
    assert lark_path(text)[0] != "error"
    assert dump(fast_statements(text, "t.task")) == lark_path(text)


def test_a_lark_arranged_otherwise_leaves_parsing_to_lark(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a Lark release arrange its parser differently, the loop steps aside for good
    and every file is parsed by Lark, as before."""
    def unexpected(parser: object) -> None:
        raise AssertionError("arranged otherwise")

    monkeypatch.setattr(fast, "_arrange", unexpected)
    fast._tables.cache_clear()
    try:
        with pytest.raises(Fallback):
            fast_statements(KEYWORDS_AS_NAMES, "t.task")
        assert dump(list(parse(KEYWORDS_AS_NAMES, "t.task").statements)) == \
            dump(parse_statements(KEYWORDS_AS_NAMES, "t.task"))
    finally:
        fast._tables.cache_clear()
