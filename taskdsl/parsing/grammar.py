"""The grammar, loaded once: Lark's LALR(1) parser for ``grammar/task.lark``.

Two start rules: ``start`` (a whole file) and ``config_value`` (one value, as
``--set`` gives it).  Lark's analysis of the grammar is cached on disk between
runs, and the parser object in memory for the process.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark, Tree
from lark.indenter import Indenter


class IndentError(Exception):
    """Indentation that matches no enclosing block (Lark's bare ``DedentError``)."""


class TaskIndenter(Indenter):
    """Python-style blocks: ``_INDENT``/``_DEDENT`` from leading white space."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]  # noqa: RUF012  (Lark reads these as class attributes)
    CLOSE_PAREN_types = ["RPAR", "RSQB"]  # noqa: RUF012
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


@cache
def lark() -> Lark:
    """The parser, built (or loaded from the cache) on first use."""
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
def line_rules() -> frozenset[str]:
    """The rules that end with the end of a line: their span runs to the next line's code."""
    return frozenset(rule.alias or rule.origin.name for rule in lark().rules
                     if rule.expansion and rule.expansion[-1].name == "_NL")


def parse_tree(text: str, start: str = "start") -> Tree:
    """Lark's tree for ``text`` from rule ``start``; bad indentation raises :class:`IndentError`."""
    try:
        return lark().parse(text, start=start)
    except Exception as error:
        # Lark's Indenter raises a bare DedentError on inconsistent indentation.
        if type(error).__name__ == "DedentError":
            raise IndentError(str(error)) from error
        raise
