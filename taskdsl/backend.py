"""Backends: what the front end asks of one, and how it finds the installed ones.

The front end names no backend.  A backend is a Python object that a package
registers under the entry-point group ``taskdsl.backends`` (a line under
``[project.entry-points."taskdsl.backends"]`` in its ``pyproject.toml``); the
command line adds its commands, and ``taskdsl check`` asks it to check what
only it understands: ``impl`` lines, data bindings and ``train`` settings.
Loading a backend object must be cheap and import no framework, so that
``taskdsl check`` stays fast; ``missing()`` says, without importing one,
whether the backend can run here.  See ``docs/design.md``, "Backends".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from taskdsl import messages
from taskdsl.diagnostics import Diagnostic, position
from taskdsl.ir import Program

GROUP = "taskdsl.backends"
"""The entry-point group that backends register themselves under."""


@runtime_checkable
class Backend(Protocol):
    """What a backend offers the front end.

    ``commands`` are module names, each with a ``register(subparsers)`` that adds
    one subcommand to ``taskdsl`` (importing no framework until the command runs).
    ``check`` returns every problem it finds, located in the user's files, and
    raises nothing for a bad program; it is called only on a program that the
    front end checked without errors, and only when ``missing()`` is None.
    """

    name: str
    commands: tuple[str, ...]

    def missing(self) -> str | None:
        """Why this backend cannot run here (e.g. its framework is not installed), or None."""
        ...

    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        """The backend's own findings on ``program`` with ``--set`` ``overrides`` applied."""
        ...


@dataclass(frozen=True)
class Unloadable:
    """An entry point whose object could not be loaded: reported, never fatal."""

    name: str
    error: str
    commands: tuple[str, ...] = ()

    def missing(self) -> str | None:
        return messages.BACKEND_BROKEN.format(name=self.name, error=self.error)

    def check(self, program: Program, overrides: Sequence[str] = ()) -> list[Diagnostic]:
        return []


def installed() -> list[Backend]:
    """Every backend registered under :data:`GROUP`, in name order.

    One whose entry point fails to load (a broken install) comes back as an
    :class:`Unloadable`, so that ``taskdsl check`` says which checks it skipped.
    """
    found: list[Backend] = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        try:
            backend = point.load()
        except Exception as error:  # a broken plugin must not break the front end
            found.append(Unloadable(point.name, f"{type(error).__name__}: {error}"))
            continue
        if not isinstance(backend, Backend):
            found.append(Unloadable(point.name, f"{point.value} is not a taskdsl backend"))
            continue
        found.append(backend)
    return found


@dataclass
class BackendReport:
    """What the backends said about one program, and which checks none could make."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # notes, one per reason


def run_checks(program: Program, overrides: Sequence[str] = (),
                  backends: Iterable[Backend] | None = None) -> BackendReport:
    """Ask each backend that can run here to check ``program``.

    ``backends`` defaults to the :func:`installed` ones.  A backend that cannot
    run, or that crashes (a bug in it), becomes a note or a diagnostic: checking
    never raises.  Without any backend able to run, the report's ``unchecked``
    says why the backend-only checks were skipped.
    """
    chosen = installed() if backends is None else list(backends)
    report = BackendReport()
    ran = False
    reasons: list[str] = []
    for backend in chosen:
        reason = backend.missing()
        if reason is not None:
            if isinstance(backend, Unloadable):
                reasons.append(reason)
            else:
                reasons.append(messages.BACKEND_CANNOT_RUN.format(name=backend.name, reason=reason))
            continue
        ran = True
        try:
            report.diagnostics.extend(backend.check(program, tuple(overrides)))
        except Exception as error:  # a bug in the backend: say so, keep the other findings
            report.diagnostics.append(Diagnostic(
                "backend-crash",
                messages.BACKEND_CRASH.format(name=backend.name,
                                              error=f"{type(error).__name__}: {error}"),
                None, help=messages.BACKEND_CRASH_HELP))
    if not ran:
        for reason in reasons or [messages.NO_BACKEND]:
            report.unchecked.append(messages.UNCHECKED.format(reason=reason))
    report.diagnostics.sort(key=position)
    return report
