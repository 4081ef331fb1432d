"""Literals as the grammar spells them: numbers and string escapes."""

from __future__ import annotations

import re
import sys


def number(text: str) -> int | float:
    """A NUMBER token's value: whole numbers stay ``int``."""
    try:
        return int(text)
    except ValueError:
        return float(text)


ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def unquote(text: str) -> str:
    """A string literal's value: escapes decoded, any other backslash kept as written.

    Never fails (``"\\x"`` is a backslash and an ``x``) and leaves non-ASCII text alone.
    """

    def decode(match: re.Match[str]) -> str:
        body = match.group(1)
        if len(body) > 1 and int(body[1:], 16) <= sys.maxunicode:
            return chr(int(body[1:], 16))
        return SIMPLE_ESCAPES.get(body, match.group())

    return ESCAPE.sub(decode, text[1:-1])
