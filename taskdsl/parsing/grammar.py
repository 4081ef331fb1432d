"""The grammar, loaded once: Lark's LALR(1) parser for ``grammar/task.lark``.

Two start rules: ``start`` (a whole file) and ``config_value`` (one value, as
``--set`` gives it).  Lark's analysis of the grammar is cached on disk between
runs (as JSON, never a pickle, and only where no one else can write it: see
``docs/security.md``), and the parser object in memory for the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
from contextlib import suppress
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Tree
from lark import __version__ as lark_version
from lark.grammar import Rule
from lark.indenter import Indenter
from lark.lark import _LOAD_ALLOWED_OPTIONS
from lark.lexer import TerminalDef

from taskdsl.caching import trusted, user_cache_folder


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
    options: dict[str, Any] = {"parser": "lalr", "maybe_placeholders": False,
                               "start": ["start", "config_value"]}
    folder = user_cache_folder()
    key = _cache_key(grammar, options)
    if folder is not None:
        cached = read_cache(folder / CACHE_NAME, key)
        if cached is not None:
            try:
                return Lark._load_from_dict(cached["data"], cached["memo"],
                                            postlex=TaskIndenter())
            except Exception:  # a cache this Lark cannot load: build afresh, and rewrite it
                pass
    parser = Lark(grammar, postlex=TaskIndenter(), **options)
    if folder is not None:
        data, memo = parser.memo_serialize([TerminalDef, Rule])
        data["options"] = {n: v for n, v in data["options"].items()
                           if n not in _LOAD_ALLOWED_OPTIONS}  # as Lark's own cache does
        write_cache(folder / CACHE_NAME, key, {"data": data, "memo": memo})
    return parser


# The analysed grammar between runs (a tenth of the start-up time).  Lark's own
# `cache=` option unpickles its file, so a file planted there runs code; this cache
# is JSON, read only from a folder and file that no one but the user can write,
# and checked against a hash of its body.  See docs/security.md.
CACHE_NAME = "task-grammar.json"
CACHE_FORMAT = 1
_TUPLE, _PAIRS = "\x00tuple", "\x00pairs"  # JSON has no tuples and only string keys


def _cache_key(grammar: str, options: dict[str, Any]) -> str:
    """What the cache was built from: the grammar, the options, Lark, Python, this format."""
    what = json.dumps([CACHE_FORMAT, grammar, options, lark_version, sys.version], sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()


def read_cache(path: Path, key: str) -> dict[str, Any] | None:
    """The cached grammar at ``path`` if it is trustworthy and current, else None.

    Opened without following a link and checked on the open file (so it cannot be
    swapped between check and read): a regular file owned by this user and writable
    by no one else.  Its first line holds the key it was built for and the SHA-256
    of the rest, which catches a stale, truncated or damaged file.  Nothing in it is
    unpickled: it is JSON.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (OSError, ValueError):
        return None
    try:
        with os.fdopen(fd, "rb") as file:
            if not trusted(os.fstat(file.fileno()), stat.S_ISREG):
                return None
            header, _, body = file.read().partition(b"\n")
        wanted = json.dumps({"key": key, "sha256": hashlib.sha256(body).hexdigest()})
        if header != wanted.encode():
            return None
        payload = json.loads(body, object_hook=_decode)
    except (OSError, ValueError, RecursionError, TypeError):
        return None
    return payload if isinstance(payload, dict) and {"data", "memo"} <= payload.keys() else None


def write_cache(path: Path, key: str, payload: dict[str, Any]) -> None:
    """Write the cache atomically, readable and writable by this user alone; best effort."""
    try:
        body = json.dumps(_encode(payload), separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError):  # something JSON cannot hold: no cache
        return
    header = json.dumps({"key": key, "sha256": hashlib.sha256(body).hexdigest()}).encode()
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".task-grammar-")  # mode 0600
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(header + b"\n" + body)
        os.replace(temporary, path)
    except OSError:
        with suppress(OSError):
            os.unlink(temporary)


def _encode(value: object) -> object:
    """Lark's serialized grammar as JSON can hold it: tuples and non-string keys tagged."""
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("\x00") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {_PAIRS: [[_encode(k), _encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> object:
    """The inverse of :func:`_encode`, one JSON object at a time."""
    if len(obj) == 1 and _TUPLE in obj:
        return tuple(obj[_TUPLE])
    if len(obj) == 1 and _PAIRS in obj:
        return dict(obj[_PAIRS])  # a malformed list raises TypeError or ValueError
    return obj


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
