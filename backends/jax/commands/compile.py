"""``taskdsl compile FILE -o OUT.py``: an objective as a standalone JAX module.

JAX is not imported here: the module the command writes is text, and the
lowering it mirrors is only imported when the command runs.  The objective's
``train`` block is read for its update schedule (``schedule alternate(...)``),
which the module's train step applies as training does.

Exit codes: 0 written; 1 the file cannot be compiled as written (its diagnostics,
or the lowering's error, are printed) or the module cannot be written; 2 an
``--objective`` the file does not have.
"""

from __future__ import annotations

import argparse
import sys

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
    parser.add_argument("-o", "--output", metavar="OUT.py",
                        help="where to write the module (default: standard output)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..messages import note

    def body() -> int:
        from taskdsl import load

        from ..lowering.compile import compile_objective, loaded_learners, write_module
        from ..lowering.lower import find_objective
        from ..training.settings import resolve

        program = load(args.file)
        target = find_objective(program, args.objective)
        phases = resolve(program, target.name).schedule.phases
        if args.output:
            path = write_module(program, args.output, args.objective, phases=phases)
            print(note("wrote", path=path))
        else:
            print(compile_objective(program, args.objective, phases=phases))
        for name, frozen in loaded_learners(program, target).items():
            print(note("compile-frozen", name=name, run=frozen.run), file=sys.stderr)
        return 0

    return guarded(body, output=args.output)
