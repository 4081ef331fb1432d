"""The one error type of the JAX backend: a code, its words, where, and the exit code.

Every error the backend raises is a :class:`BackendError` (``LowerError``,
``TrainError``, ``EvalError``, ``NetError`` and ``WireValueError`` are its
kinds, so ``except LowerError`` still means "the lowering refused"): its
``code`` names the problem (``docs/errors.md`` lists them), its words come
from the templates of :mod:`.messages`, and it carries the exit code a
command returns for it, so no command maps exception types to exit codes.
:meth:`BackendError.diagnostic` makes it a front-end :class:`Diagnostic`, which
the commands print (located, with the line quoted, when it has a span).
"""

from __future__ import annotations

from typing import ClassVar, Self

from taskdsl.diagnostics import Diagnostic
from taskdsl.source import NOWHERE, Span

# The exit codes, re-exported: an error's ``exit_code`` is one of them.
from .messages import DIVERGED as DIVERGED
from .messages import ERRORS, PROGRAM, TEMPLATES, USAGE, Problem, error_words, problem
from .messages import INTERRUPTED as INTERRUPTED
from .messages import OK as OK


class BackendError(Exception):
    """A problem the user can fix, coded and worded once; ``str()`` is its one-line form.

    Built from words (``message``) it takes the kind's ``default_code`` unless given
    one; built from a :class:`Problem` (what ``taskdsl check`` reports) it keeps it
    (``problem``), its code, parts and span, and exits with 2 for a malformed
    ``--set`` (``Problem.usage``), 1 otherwise.
    """

    default_code: ClassVar[str] = "backend-failed"

    def __init__(self, message: str | Problem, exit_code: int | None = None, *,
                 code: str | None = None, span: Span | None = None,
                 expected: str | None = None, found: str | None = None,
                 help: str | None = None) -> None:
        self.problem = message if isinstance(message, Problem) else None
        if isinstance(message, Problem):
            code = code or message.code
            span = span or message.span
            expected, found = expected or message.expected, found or message.found
            help = help or message.help
            if exit_code is None:
                exit_code = USAGE if message.usage else PROGRAM
            message = message.message
        self.code = code or self.default_code
        self.message = message
        self.span = span
        self.expected = expected
        self.found = found
        self.help = help
        self.exit_code = PROGRAM if exit_code is None else exit_code
        super().__init__(str(self))

    @classmethod
    def of(cls, code: str, *, span: Span | None = None, **details: object) -> Self:
        """The error ``code`` worded by its template: a run-time one (:data:`ERRORS`), or
        one the check reports too (:data:`TEMPLATES`), with the same words as the check."""
        if code in ERRORS:
            words = error_words(code, **details)
            return cls(words.message, words.exit_code, code=code, span=span)
        if code in TEMPLATES:
            return cls(problem(code, **details).at(span))
        raise KeyError(f"no template for error code `{code}`")

    @classmethod
    def carrying(cls, error: BackendError) -> Self:
        """``error`` as this kind, with its code, words, span and exit code unchanged."""
        if isinstance(error, cls):
            return error
        made = cls(error.message, error.exit_code, code=error.code, span=error.span,
                   expected=error.expected, found=error.found, help=error.help)
        made.problem = error.problem
        return made

    def __str__(self) -> str:
        """Message, what was expected (unless the message says it), the fix; prefixed with
        the place when it is in a file: one line, as :class:`Problem` has it."""
        return str(Problem(self.code, self.message, self.expected, self.found, self.help,
                           self.span))

    def diagnostic(self) -> Diagnostic:
        """The error as the front end reports findings, for a command to render."""
        span = None if self.span == NOWHERE else self.span
        return Diagnostic(self.code, self.message, span, "error", self.expected, self.found,
                          self.help)
