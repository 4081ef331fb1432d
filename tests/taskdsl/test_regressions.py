"""Inputs that once crashed the front end (or misread a file), each kept as a test.

Most were found by the property tests (``test_properties.py``): each crashed with
a Python exception where the front end owes a diagnostic.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from taskdsl.loader import check_text
from taskdsl.parser import parse

HEAD = "data d : -> Real[2]\nlearner f : Real[2] -> Real[2]\n"


@contextmanager
def short_stack(frames: int = 400) -> Iterator[None]:
    """Python's recursion limit ``frames`` above the current depth, so that a chain of a
    few hundred definitions is enough to run out of it (and the test stays quick)."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def codes_and_messages(text: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in check_text(text, "r.task").diagnostics]


def test_positional_argument_of_a_configuration_call() -> None:
    """``impl f = load("runs/x")`` crashed: AttributeError ('Tree' has no 'name')."""
    result = check_text(HEAD + 'impl f = load("runs/x", width = 2)\n', "r.task")
    assert result.ok, result.render()
    call = result.program.impls["f"]
    assert (call.name, call.args, dict(call.kwargs)) == ("load", ("runs/x",), {"width": 2})


def test_bad_escape_in_a_string() -> None:
    """``"\\x"`` raised inside Lark's transformer: a message about Lark internals, at 1:1."""
    result = check_text(HEAD + 'impl f = load("a\\x")\n', "r.task")
    assert result.ok, result.render()
    assert result.program.impls["f"].args == ("a\\x",)


def test_non_ascii_string_keeps_its_value() -> None:
    """``"café"`` was read as ``"cafÃ©"`` (UTF-8 bytes decoded one by one)."""
    result = check_text(HEAD + 'impl f = load("runs/café-中")\n', "r.task")
    assert result.program.impls["f"].args == ("runs/café-中",)


def test_hash_in_a_string_with_an_escaped_quote_is_not_a_comment() -> None:
    """The comment scanner ended the string at ``\\"``, then took ``# c")`` for a comment
    (the formatter then appended a copy of it to the line at every run)."""
    module = parse('impl f = load("a\\"b # c")  # real\n')
    assert [c.text for c in module.comments] == ["# real"]


def test_comment_with_a_unicode_line_separator_is_kept_whole() -> None:
    """``str.splitlines`` split a comment at U+2028, and the formatter lost its tail."""
    module = parse("# one\u2028two\ntype A = Real[2]  # three\n")
    assert [(c.line, c.text) for c in module.comments] == [(1, "# one\u2028two"), (2, "# three")]


def test_deeply_nested_applications() -> None:
    """A thousand nested applications: RecursionError in Lark's transformer."""
    nested = "f(" * 1000 + "x" + ")" * 1000
    found = codes_and_messages(HEAD + f"task t:\n    x <- d\n    {nested} = x\n")
    assert found == [("syntax", "nested more than 100 deep")]


def test_a_long_chain_of_defs() -> None:
    """Each def built from the one before, hundreds deep: RecursionError while applying
    them."""
    defs = "\n".join(f"def h{i} = h{i - 1} >> f" for i in range(1, 400))
    text = HEAD + f"def h0 = f\n{defs}\ntask t:\n    x <- d\n    h399(x) = x\n"
    with short_stack():
        found = codes_and_messages(text)
    assert found and all(message.endswith("is nested too deeply to check")
                         for _, message in found)


def test_a_long_chain_of_defs_written_backwards() -> None:
    """The same chain, last def first: RecursionError while building them."""
    defs = "\n".join(f"def h{i} = h{i - 1} >> f" for i in range(399, 0, -1))
    with short_stack():
        found = codes_and_messages(HEAD + f"{defs}\ndef h0 = f\n")
    assert found and all(code == "syntax" and message.endswith("is nested too deeply to check")
                         for code, message in found)


def test_a_long_chain_of_objectives() -> None:
    """``objective o399 = o398`` ... ``objective o0 = t``: RecursionError."""
    chain = "\n".join(f"objective o{i} = o{i - 1}" for i in range(399, 0, -1))
    text = HEAD + f"task t:\n    x <- d\n    f(x) = x\n{chain}\nobjective o0 = t\n"
    with short_stack():
        found = codes_and_messages(text)
    assert len(found) == 1
    assert found[0][0] == "syntax" and found[0][1].endswith("is nested too deeply to check")
