"""The ``taskdsl`` command line: one subcommand per module, registered here.

Backend commands register their arguments without importing JAX, so
``taskdsl check`` stays fast and works where no backend is installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from taskdsl import __version__

COMMANDS = (
    "taskdsl.commands.check",
    "taskdsl.commands.explain",
    "taskdsl.commands.fmt",
    "taskdsl.commands.render",
    "taskdsl.backends.jax.commands.train",
    "taskdsl.backends.jax.commands.compile",
    "taskdsl.backends.jax.commands.evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskdsl",
        description="Check, explain, draw and train ML objectives written as string diagrams.",
    )
    parser.add_argument("--version", action="version", version=f"taskdsl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
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
