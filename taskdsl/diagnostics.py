"""Diagnostics: what the compiler tells a user, with file, line, column and caret.

Every error and warning of the front end is a :class:`Diagnostic`.  Checking
collects them in a :class:`Diagnostics` list instead of raising, so one error
never hides the next.  The wording of each message lives in
:mod:`taskdsl.messages`, which depends on nothing: this module fills a
diagnostic in from its words.  Backends report in the same type
(see ``docs/design.md``, "Backends"), so every finding renders alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

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

    @classmethod
    def of(cls, code: str, span: Span | None, severity: str = "error", **details: object) -> Diagnostic:
        """The diagnostic for ``code``, worded by its template in :mod:`taskdsl.messages`."""
        words = messages.fill(code, details)
        return cls(code, words.message, span, severity, words.expected, words.found, words.help)

    def render(self, sources: dict[str, Source]) -> str:
        """The diagnostic as a compiler prints it: header, quoted line, caret, notes."""
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.severity}[{self.code}]: {self.message}"]
        source = sources.get(self.span.file) if self.span else None
        if self.span and source is not None and source.line(self.span.line):
            text = source.line(self.span.line).replace("\t", " ")
            gutter = str(self.span.line)
            pad = " " * len(gutter)
            width = (
                self.span.end_column - self.span.column
                if self.span.end_line == self.span.line
                else len(text) - self.span.column + 1
            )
            lines.append(f" {pad} |")
            lines.append(f" {gutter} | {text}")
            lines.append(f" {pad} | {' ' * (self.span.column - 1)}{'^' * max(1, width)}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        if self.help:
            lines.append(f"  help: {self.help}")
        return "\n".join(lines)


@dataclass
class Diagnostics:
    """An ordered collection that the parser and checker add findings to."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, span: Span | None, **details: object) -> None:
        self.items.append(Diagnostic.of(code, span, "error", **details))

    def warning(self, code: str, span: Span | None, **details: object) -> None:
        self.items.append(Diagnostic.of(code, span, "warning", **details))

    def extend(self, others: Iterable[Diagnostic]) -> None:
        self.items.extend(others)

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
