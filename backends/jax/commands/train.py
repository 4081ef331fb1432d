"""``taskdsl train FILE``: train an objective, with checkpoints that a later ``--resume`` continues.

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
    parser.add_argument("--out", metavar="RUN_DIR",
                        help="the run folder (default: runs/OBJECTIVE); must be new or empty "
                             "unless --resume")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from its latest checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskdsl import TaskError, load

    from ..training import errors
    from ..training.settings import objective_name, resolve

    try:
        program = load(args.file)
        # Checked before JAX is imported, so that a typo is reported in a blink.
        resolve(program, objective_name(program, args.objective), args.overrides)
        from ..training.train import train

        result = train(program, args.objective, args.overrides, args.out, resume=args.resume,
                       progress=not args.quiet)
    except TaskError as error:
        print(error, file=sys.stderr)
        return errors.PROGRAM
    except errors.TrainError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(errors.aborted(), file=sys.stderr)
        return errors.INTERRUPTED
    if result.status == "interrupted":
        print(errors.interrupted(result.step, _resume_command(args, result.out)), file=sys.stderr)
        return errors.INTERRUPTED
    print(errors.finished(result.step, result.loss, result.out, result.seconds))
    return 0


def _resume_command(args: argparse.Namespace, out: object) -> str:
    """The command that continues this run: the same file, objective and overrides."""
    words = ["taskdsl", "train", args.file]
    if args.objective:
        words += ["--objective", args.objective]
    for override in args.overrides:
        words += ["--set", override]
    words += ["--out", str(out), "--resume"]
    return shlex.join(words)
