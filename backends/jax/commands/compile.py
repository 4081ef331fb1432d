"""``taskdsl compile FILE -o OUT.py [--force]``: an objective as a standalone JAX module.

JAX is not imported here: the module the command writes is text, and the
lowering it mirrors is only imported when the command runs.  The objective's
``train`` block is read for its update schedule (``schedule alternate(...)``),
which the module's train step applies as training does.

``-o`` never overwrites FILE or a file it imports, nor another existing file
unless ``--force``; ``--output`` is the old spelling of ``--out``, kept hidden.

Exit codes: 0 written; 1 the file cannot be compiled as written (its diagnostics,
or the lowering's error, are printed) or the module cannot be written; 2 an
``--objective`` the file does not have, or an ``-o`` that would overwrite a file.
"""

from __future__ import annotations

import argparse
import sys

from taskdsl.commands.check import HELP_ALLOW_IMPORT, AllowImport

from .guard import guarded


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compile", help="write an objective as a standalone JAX/Optax module",
        description="Write the objective's loss (one function per equation) and train step "
                    "as a Python module that imports only jax and optax.",
    )
    parser.add_argument("file", metavar="FILE", help="the .task file")
    parser.add_argument("--objective", metavar="NAME",
                        help="the objective or task (default: the file's trained objective)")
    parser.add_argument("-o", "--out", metavar="OUT.py",
                        help="where to write the module (default: standard output)")
    parser.add_argument("--output", dest="out", help=argparse.SUPPRESS)  # the old spelling
    parser.add_argument("--allow-import", action=AllowImport, metavar="PKG",
                        help=HELP_ALLOW_IMPORT)
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUT.py if it exists (never FILE or a file it imports)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..messages import note

    def body() -> int:
        from taskdsl.cli import USAGE, refuse_overwrite
        from taskdsl.diagnostics import TaskError
        from taskdsl.loader import check_file

        checked = check_file(args.file)
        if not checked.ok:
            raise TaskError([d for d in checked.diagnostics if d.severity == "error"],
                            checked.sources)
        if args.out:
            refusal = refuse_overwrite(args.out, [args.file, *checked.sources], args.force)
            if refusal is not None:
                print(f"error: {refusal}", file=sys.stderr)
                return USAGE
        from ..lowering.compile import compile_objective, loaded_learners, write_module
        from ..lowering.lower import find_objective
        from ..training.settings import resolve, reweighted

        target = find_objective(checked.program, args.objective)
        # The module trains as `taskdsl train` would: its weights, schedule and optimizers.
        settings = resolve(checked.program, target.name)
        program = reweighted(checked.program, target.name, settings.weights)
        how = {"phases": settings.schedule.phases, "optimizer": settings.optimizer,
               "precision": settings.precision, "matmul_precision": settings.matmul_precision}
        if args.out:
            path = write_module(program, args.out, target.name, **how)
            print(note("wrote", path=path))
        else:
            print(compile_objective(program, target.name, **how))
        for name, frozen in loaded_learners(program, target).items():
            print(note("compile-frozen", name=name, run=frozen.run), file=sys.stderr)
        return 0

    return guarded(body, output=args.out)
