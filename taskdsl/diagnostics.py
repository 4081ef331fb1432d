"""Diagnostics: what the compiler tells a user, with file, line, column and caret.

Every error and warning of the front end is a :class:`Diagnostic`.  Checking
collects them in a :class:`Diagnostics` list instead of raising, so one error
never hides the next.  The wording of each message lives in
:mod:`taskdsl.messages`, which depends on nothing: this module fills a
diagnostic in from its words.  Backends report in the same type
(see ``docs/design.md``, "Backends"), so every finding renders alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from taskdsl import messages
from taskdsl.source import SET_FILE, Source, Span


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where, what, what was expected and found, and how to fix it."""

    code: str
    message: str
    span: Span | None
    severity: str = "error"
    expected: str | None = None
    found: str | None = None
    help: str | None = None
    # Where else it comes from: an error inside an instantiated pattern is reported at
    # the `use` line, with the pattern's own line here.
    note: str | None = None

    @classmethod
    def of(cls, code: str, span: Span | None, severity: str = "error", **details: object) -> Diagnostic:
        """The diagnostic for ``code``, worded by its template in :mod:`taskdsl.messages`."""
        words = messages.fill(code, details)
        return cls(code, words.message, span, severity, words.expected, words.found, words.help)

    def render(self, sources: dict[str, Source]) -> str:
        """The diagnostic as a compiler prints it: header, quoted line, caret, notes.

        A long line is quoted only around the caret (:func:`excerpt`), so a file of
        one huge line cannot make each of its diagnostics huge too.
        """
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.severity}[{self.code}]: {self.message}"]
        source = sources.get(self.span.file) if self.span else None
        text = source_line(source, self.span.line) if self.span and source is not None else ""
        if self.span and text:
            text = text.replace("\t", " ")
            gutter = str(self.span.line)
            pad = " " * len(gutter)
            width = (
                self.span.end_column - self.span.column
                if self.span.end_line == self.span.line
                else len(text) - self.span.column + 1
            )
            text, column, width = excerpt(text, self.span.column, max(1, width))
            lines.append(f" {pad} |")
            lines.append(f" {gutter} | {text}")
            lines.append(f" {pad} | {' ' * (column - 1)}{'^' * width}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        if self.help:
            lines.append(f"  help: {self.help}")
        if self.note:
            lines.append(f"  note: {self.note}")
        return "\n".join(lines)


# How much of a line a diagnostic quotes: the whole line up to this length, else an
# excerpt of about this length around the caret.
MAX_QUOTE = 160
ELLIPSIS = "..."


def excerpt(text: str, column: int, width: int) -> tuple[str, int, int]:
    """``text`` cut to about :data:`MAX_QUOTE` characters around columns ``column`` to
    ``column + width``, marked ``...`` where cut; with the caret's new column and width."""
    if len(text) <= MAX_QUOTE:
        return text, column, width
    width = min(width, MAX_QUOTE // 2)
    begin = max(0, min(column - 1 - MAX_QUOTE // 4, len(text) - MAX_QUOTE))
    end = min(len(text), begin + MAX_QUOTE)
    head = ELLIPSIS if begin > 0 else ""
    tail = ELLIPSIS if end < len(text) else ""
    return head + text[begin:end] + tail, column - begin + len(head), width


@lru_cache(maxsize=4)
def _lines(text: str) -> tuple[str, ...]:
    """A text's lines, split once however many diagnostics quote it (keyed by the
    text, whose hash Python keeps, so a lookup costs no pass over it)."""
    return tuple(text.split("\n"))  # as the parser counts lines: form feeds do not end one


def source_line(source: Source, number: int) -> str:
    """Line ``number`` of ``source`` (empty when there is none), in constant time:
    :meth:`Source.line` splits the whole text at each call, quadratic over many diagnostics."""
    lines = _lines(source.text)
    return lines[number - 1] if 0 < number <= len(lines) else ""


# How many diagnostics one file may have before the rest are dropped, with one
# `too-many-errors` diagnostic in their place: so a broken (or hostile) file costs
# time and output in proportion to this, not to its size.  The environment
# variable raises (or lowers) it.
MAX_PER_FILE = 200
MAX_PER_FILE_VARIABLE = "TASKDSL_MAX_ERRORS"


def positive_setting(variable: str, default: int) -> int:
    """A limit from the environment variable ``variable``: a positive whole number,
    else ``default`` (a bad value must not stop a check)."""
    value = os.environ.get(variable, "").strip().replace("_", "")
    if value.isascii() and value.isdigit() and len(value) < 19 and int(value) > 0:
        return int(value)
    return default


def default_limit() -> int:
    """Diagnostics kept per file: :data:`MAX_PER_FILE` unless the environment says otherwise."""
    return positive_setting(MAX_PER_FILE_VARIABLE, MAX_PER_FILE)


@dataclass
class Diagnostics:
    """An ordered collection that the parser and checker add findings to.

    It keeps at most ``limit`` diagnostics per file (None: no limit); the next one
    is replaced by a single ``too-many-errors`` error, and the rest are dropped.
    """

    items: list[Diagnostic] = field(default_factory=list)
    limit: int | None = field(default_factory=default_limit)
    counts: dict[str | None, int] = field(default_factory=dict, repr=False)

    def error(self, code: str, span: Span | None, **details: object) -> None:
        self.add(Diagnostic.of(code, span, "error", **details))

    def warning(self, code: str, span: Span | None, **details: object) -> None:
        self.add(Diagnostic.of(code, span, "warning", **details))

    def add(self, diagnostic: Diagnostic) -> None:
        """Keep ``diagnostic`` unless its file already has ``limit`` of them."""
        file = diagnostic.span.file if diagnostic.span else None
        count = self.counts.get(file, 0)
        self.counts[file] = count + 1
        if self.limit is None or count < self.limit:
            self.items.append(diagnostic)
        elif count == self.limit:
            self.items.append(Diagnostic.of("too-many-errors", diagnostic.span, "error",
                                            limit=self.limit))

    def extend(self, others: Iterable[Diagnostic]) -> None:
        for diagnostic in others:
            self.add(diagnostic)

    def full(self, file: str | None) -> bool:
        """Whether ``file`` is past its limit: later findings in it are dropped unseen."""
        return self.limit is not None and self.counts.get(file, 0) > self.limit

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(sorted(self.items, key=position))

    def __len__(self) -> int:
        return len(self.items)


def position(d: Diagnostic) -> tuple[int, str, int, int]:
    """Where a diagnostic points, as a sort key: file, line, column; unplaced ones first,
    those about ``--set`` overrides (:data:`~taskdsl.source.SET_FILE`) after the files."""
    if d.span is None:
        return (0, "", 0, 0)
    return (2 if d.span.file == SET_FILE else 1, d.span.file, d.span.line, d.span.column)


class TaskError(Exception):
    """Raised by library entry points when a program has errors; carries them all."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, Source]):
        self.diagnostics = diagnostics
        self.sources = sources
        super().__init__("\n\n".join(d.render(sources) for d in diagnostics))
