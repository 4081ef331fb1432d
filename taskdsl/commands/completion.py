"""``taskdsl completion {bash,zsh,tcsh}``: a shell completion script, made by ``shtab``.

The script is generated from the same parser that reads real command lines, so a
new command or flag completes as soon as the script is regenerated.  ``.task``
file arguments (every command's ``FILE``) complete with ``*.task`` files and
folders, ``-o/--out`` and run folders with paths.  Install, for example::

    taskdsl completion bash > ~/.local/share/bash-completion/completions/taskdsl
    taskdsl completion zsh > ~/.zfunc/_taskdsl    # with fpath+=(~/.zfunc) before compinit
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import shtab

SHELLS = ("bash", "zsh", "tcsh")

TASK_FILES = {
    "bash": "_shtab_taskdsl_compgen_task_files",
    "zsh": "_files -g '*.task'",
    "tcsh": "f:*.task",
}
"""How each shell completes a ``.task`` file argument."""

PREAMBLE = {
    "bash": """
# folders (to descend into) and *.task files
_shtab_taskdsl_compgen_task_files() {
  compgen -d -- "$1"
  compgen -f -X '!*?.task' -- "$1"
}
""",
}

TASK_ARGUMENTS = ("file", "files")
"""The positional arguments that take ``.task`` files, by ``dest``."""

PATH_ARGUMENTS = ("out", "input", "like", "run_dir", "judge")
"""Other arguments that take a path, by ``dest``: completed with folders when their
metavar ends in ``DIR``, else with files."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "completion", help="print a shell completion script (bash, zsh, tcsh)",
        description="Print a tab-completion script for SHELL on standard output; e.g. "
                    "`taskdsl completion bash > ~/.local/share/bash-completion/completions/"
                    "taskdsl`, or `eval \"$(taskdsl completion bash)\"` in ~/.bashrc.")
    parser.add_argument("shell", metavar="SHELL", choices=SHELLS,
                        help=f"the shell: {', '.join(SHELLS)}")
    parser.set_defaults(handler=run)


def script(shell: str) -> str:
    """The completion script for ``shell``, for every command installed here."""
    from taskdsl.cli import build_parser

    parser = build_parser()
    for action in _actions(parser):
        if action.dest in TASK_ARGUMENTS and not action.option_strings:
            action.complete = TASK_FILES  # type: ignore[attr-defined]
        elif action.dest in PATH_ARGUMENTS:
            folder = str(action.metavar or "").endswith("DIR")
            action.complete = shtab.DIRECTORY if folder else shtab.FILE  # type: ignore[attr-defined]
    return shtab.complete(parser, shell=shell, preamble=PREAMBLE)


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Every argument of ``parser`` and of its subcommands, recursively."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from _actions(sub)


def run(args: argparse.Namespace) -> int:
    print(script(args.shell))
    return 0
