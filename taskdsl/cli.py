"""The ``taskdsl`` command line: the front end's subcommands and each backend's.

Every subcommand is a module with ``register(subparsers)``.  The front end's
are listed here; a backend's come from its ``commands``, found through the
``taskdsl.backends`` entry points (:mod:`taskdsl.backend`), so this module
names no backend.  Commands register their arguments without importing a
framework, so ``taskdsl check`` stays fast and works where no backend is
installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from taskdsl import __version__, backend

COMMANDS = (
    "taskdsl.commands.check",
    "taskdsl.commands.explain",
    "taskdsl.commands.fmt",
    "taskdsl.commands.render",
    "taskdsl.commands.prove",
    "taskdsl.commands.analyse",
    "taskdsl.commands.lsp",
)


def command_modules() -> list[str]:
    """The front end's command modules, then each installed backend's."""
    return [*COMMANDS, *(name for found in backend.installed() for name in found.commands)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskdsl",
        description="Check, explain, draw and train ML objectives written as string diagrams.",
    )
    parser.add_argument("--version", action="version", version=f"taskdsl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and name.startswith(error.name):
                continue  # a command whose module is not installed
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
