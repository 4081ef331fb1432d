"""Source files and spans: where in the user's text a thing was written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns count from 1, the end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Span("<generated>", 0, 0, 0, 0)
"""The span of what no user wrote (a default, a generated box)."""

SET_FILE = "--set"
"""The file a ``--set KEY=VALUE`` override is located in: line i is the i-th override.

Diagnostics about overrides point there, after those about the files
(:func:`taskdsl.diagnostics.position`), and quote the override like a line of a file.
"""


def set_source(overrides: list[str] | tuple[str, ...]) -> Source:
    """The ``--set`` overrides as the source :data:`SET_FILE` names."""
    return Source(SET_FILE, "\n".join(overrides))


@dataclass(frozen=True)
class Source:
    """A file's name and text, kept so that diagnostics can quote the line."""

    path: str
    text: str

    def line(self, number: int) -> str:
        lines = self.text.split("\n")  # as the parser counts lines: form feeds do not end one
        return lines[number - 1] if 0 < number <= len(lines) else ""
