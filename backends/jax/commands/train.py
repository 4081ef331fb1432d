"""``taskdsl train FILE``: train an objective, with checkpoints that a later ``--resume`` continues.

Before anything trains, the file is checked as ``taskdsl check`` checks it, and
then by the backend's own check with the ``--set`` overrides
(``check.check_program``): every mistake in an ``impl`` line, a data binding, a
setting or a ``--set`` is reported at once, located, and nothing is written.  A
missing data file or run folder to load, only a warning for ``taskdsl check``,
is an error here.

Exit codes: 0 trained; 1 the file, its data or its implementation cannot be
trained as written; 2 the command line asks for something impossible (a bad
``--set``, a run folder that holds another run); 3 the loss stopped being
finite; 130 interrupted (a checkpoint was saved).  Errors are messages, never
tracebacks.  JAX is imported only when the command runs, so registering it
costs the other commands nothing.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING

from taskdsl.commands.check import HELP_ALLOW_IMPORT, AllowImport

from .. import cache as compilation_cache
from .guard import guarded

if TYPE_CHECKING:
    from taskdsl.ir import Program
    from taskdsl.source import Source


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train an objective's learners (JAX)",
        description="Train an objective of FILE; see docs/training.md.",
    )
    parser.add_argument("file", metavar="FILE", help="the .task file")
    parser.add_argument("--objective", metavar="NAME",
                        help="the objective or task to train (default: the file's last objective)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a setting, e.g. steps=500, optimizer=adam(lr=1e-4), "
                             "impl.get=nets.mlp(width=64), data.mnist=datasets.digits(); "
                             "repeatable")
    parser.add_argument("-o", "--out", metavar="RUN_DIR",
                        help="the run folder (default: runs/OBJECTIVE); must be new or empty "
                             "unless --resume")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument("--allow-import", action=AllowImport, metavar="PKG",
                        help=HELP_ALLOW_IMPORT)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskdsl.loader import check_file

    from ..check import set_sources
    from ..training import errors

    checked = check_file(args.file)
    if checked.diagnostics:  # errors stop here; warnings (lints) are shown and training goes on
        print(checked.render(), file=sys.stderr)
    if not checked.ok:
        return errors.PROGRAM
    program = checked.program

    def body() -> int:
        compilation_cache.enable()
        from ..training.settings import objective_name

        name = objective_name(program, args.objective)
        code = _check(program, name, args.overrides, checked.sources)
        if code:
            return code
        from ..training.train import train

        result = train(program, name, args.overrides, args.out, resume=args.resume,
                       progress=not args.quiet)
        if result.status == "interrupted":
            print(errors.interrupted(result.step, _resume_command(args, result.out)),
                  file=sys.stderr)
            return errors.INTERRUPTED
        print(errors.finished(result.step, result.loss, result.out, result.seconds))
        return 0

    return guarded(body, sources=checked.sources | set_sources(args.overrides),
                   output=args.out, interrupted=errors.aborted())


def _check(program: Program, objective: str, overrides: list[str],
           sources: dict[str, Source]) -> int:
    """Run the backend's check; print its diagnostics.  The exit code if there are errors:
    2 when they are all malformed ``--set`` values, 1 when the file, its data or its ``impl``
    lines are wrong; 0 when training may start."""
    from ..check import check_program, set_sources
    from ..messages import SET_FILE, USAGE_CODES
    from ..training import errors

    diagnostics = check_program(program, overrides, objective=objective, training=True)
    if diagnostics:
        shown = sources | set_sources(overrides)
        print("\n\n".join(d.render(shown) for d in diagnostics), file=sys.stderr)
    failed = [d for d in diagnostics if d.severity == "error"]
    if not failed:
        return 0
    usage = all(d.span is not None and d.span.file == SET_FILE and d.code in USAGE_CODES
                for d in failed)
    return errors.USAGE if usage else errors.PROGRAM


def _resume_command(args: argparse.Namespace, out: object) -> str:
    """The command that continues this run: the same file, objective and overrides."""
    words = ["taskdsl", "train", args.file]
    if args.objective:
        words += ["--objective", args.objective]
    for override in args.overrides:
        words += ["--set", override]
    words += ["--out", str(out), "--resume"]
    return shlex.join(words)
