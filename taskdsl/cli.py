"""The ``taskdsl`` command line: the front end's subcommands and each backend's.

Every subcommand is a module with ``register(subparsers)``.  The front end's
are listed here; a backend's come from its ``commands``, found through the
``taskdsl.backends`` entry points (:mod:`taskdsl.backend`), so this module
names no backend.  Commands register their arguments without importing a
framework, so ``taskdsl check`` stays fast and works where no backend is
installed.  A backend's command run where its backend cannot run (JAX not
installed) says what is missing and how to install it, exit 2, before the
command imports anything.

Conventions every command follows: a command that writes a file or folder
takes it as ``-o/--out``; ``render -o`` and ``compile -o`` never overwrite what
they read, nor any other file without ``--force`` (:func:`refuse_overwrite`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from taskdsl import __version__, backend, messages

COMMANDS = (
    "taskdsl.commands.check",
    "taskdsl.commands.explain",
    "taskdsl.commands.fmt",
    "taskdsl.commands.render",
    "taskdsl.commands.prove",
    "taskdsl.commands.analyse",
    "taskdsl.commands.lsp",
    "taskdsl.commands.completion",
)

USAGE = 2
"""The exit code of a command line that asks for something impossible."""

OWNER = "_taskdsl_backend"
"""The parsed arguments' attribute naming the backend a command came from (None: the front end)."""

FRAMEWORK_FREE = "framework_free"
"""A backend command that sets this default to True runs even where its backend cannot
(e.g. ``taskdsl data``, which needs no JAX)."""


def command_modules() -> list[str]:
    """The front end's command modules, then each installed backend's."""
    return [name for name, _ in _modules()]


def _modules() -> list[tuple[str, backend.Backend | None]]:
    """Each command module with the backend it comes from (None for the front end's)."""
    found: list[tuple[str, backend.Backend | None]] = [(name, None) for name in COMMANDS]
    for each in backend.installed():
        found.extend((name, each) for name in each.commands)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskdsl",
        description="Check, explain, draw and train ML objectives written as string diagrams.",
    )
    parser.add_argument("--version", action="version", version=f"taskdsl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, owner in _modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and name.startswith(error.name):
                continue  # a command whose module is not installed
            raise
        before = set(subparsers.choices)
        module.register(subparsers)
        for added in set(subparsers.choices) - before:
            subparsers.choices[added].set_defaults(**{OWNER: owner})
    return parser


def cannot_run(args: argparse.Namespace) -> str | None:
    """Why the backend behind ``args.command`` cannot run here, as one line, or None."""
    owner: backend.Backend | None = getattr(args, OWNER, None)
    if owner is None or getattr(args, FRAMEWORK_FREE, False):
        return None
    reason = owner.missing()
    if reason is None:
        return None
    return messages.BACKEND_COMMAND_CANNOT_RUN.format(command=args.command, name=owner.name,
                                                      reason=reason)


def refuse_overwrite(out: str | Path, inputs: Iterable[str | Path], force: bool) -> str | None:
    """Why ``-o out`` must not be written, or None.

    ``inputs`` are the files the command reads, the one named on the command line
    first, then what it imports: writing over one of them is refused even with
    ``force`` (it would destroy the source).  Any other existing file is refused
    unless ``force``.
    """
    inputs = list(inputs)
    target = Path(out)
    for i, path in enumerate(inputs):
        if _same_file(target, Path(path)):
            what = (messages.OUTPUT_IS_INPUT_FILE.format(path=path) if i == 0 else
                    messages.OUTPUT_IS_IMPORT.format(path=path, file=inputs[0]))
            return messages.OUTPUT_IS_INPUT.format(out=out, what=what)
    if not force and os.path.lexists(target) and not target.is_dir():
        return messages.OUTPUT_EXISTS.format(out=out)
    return None


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one existing file (through links, ``..`` or case folding)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one does not exist (then they differ), or a NUL in a path
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reason = cannot_run(args)
    if reason is not None:
        print(f"error: {reason}", file=sys.stderr)
        return USAGE
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
