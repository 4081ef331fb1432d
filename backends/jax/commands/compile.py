"""``taskdsl compile FILE -o OUT.py``: an objective as a standalone JAX module.

JAX is not imported here: the module the command writes is text, and the
lowering it mirrors is only imported when the command runs.  The objective's
``train`` block is read for its update schedule (``schedule alternate(...)``),
which the module's train step applies as training does.
"""

from __future__ import annotations

import argparse
import sys


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
    from taskdsl import TaskError, load

    from ..lowering.compile import compile_objective, loaded_learners, write_module
    from ..lowering.errors import LowerError
    from ..lowering.lower import find_objective
    from ..training.errors import TrainError
    from ..training.settings import resolve

    try:
        program = load(args.file)
        target = find_objective(program, args.objective)
        phases = resolve(program, target.name).schedule.phases
        if args.output:
            path = write_module(program, args.output, args.objective, phases=phases)
            print(f"wrote {path}")
        else:
            print(compile_objective(program, args.objective, phases=phases))
        loaded = loaded_learners(program, target)
        for name, frozen in loaded.items():
            print(f"note: learner `{name}` is loaded from {frozen.run} and frozen: the module "
                  "takes its apply function and trained parameters from the caller and never "
                  "trains it (see the module's docstring)", file=sys.stderr)
    except TaskError as error:
        print(error, file=sys.stderr)
        return 1
    except (LowerError, TrainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
