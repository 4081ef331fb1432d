"""``taskdsl eval``, ``taskdsl manipulate`` and ``taskdsl demo``: measuring any run, judging
and using manipulators.

    taskdsl eval RUN_DIR [--judge RUN_DIR] [--split test] [-n 1000] [--seed 0] [--no-realism]
    taskdsl manipulate RUN_DIR --input FILE --to CLASS [-o OUT] [--strength 1.0] [--seed 0]
    taskdsl demo [-o demo_out] [--fast]

JAX is imported only when a command runs, so registering these costs the other
commands nothing.  Anything the user can fix (a missing run, an unknown class,
an image of the wrong size, a broken data binding) is one message on stderr and
exit status 1 (a diverged training run keeps its own code, 3), never a traceback:
``commands/guard.py`` prints it, as every JAX command does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from taskdsl.commands.check import HELP_ALLOW_IMPORT, AllowImport

from .. import cache as compilation_cache
from .guard import guarded


def register(subparsers: argparse._SubParsersAction) -> None:
    judge = subparsers.add_parser(
        "eval", help="measure a trained run on held-out data (a manipulator: with a judge)",
        description="Measure the run in RUN_DIR on held-out data: each task's value, the "
                    "weighted total, accuracy for Class outputs compared by ce, MSE for Real "
                    "ones, -ELBO for a VAE; a manipulator is also judged by an independent "
                    "classifier. Writes RUN_DIR/eval.json (and a manipulator's pictures). "
                    "See docs/using-runs.md and docs/manipulators.md.")
    judge.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `taskdsl train`")
    judge.add_argument("--judge", metavar="RUN_DIR",
                       help="a classifier run to judge with (default: train one into "
                            "RUN_DIR/judge/, or reuse the one there)")
    judge.add_argument("--split", default="test", choices=("train", "test"),
                       help="the data split to judge on (default: test)")
    judge.add_argument("-n", type=int, default=1000, metavar="N",
                       help="how many examples (default: 1000)")
    judge.add_argument("--allow-import", action=AllowImport, metavar="PKG",
                       help=HELP_ALLOW_IMPORT)
    judge.add_argument("--quiet", action="store_true", help="no progress bar for the judge")
    judge.add_argument("--seed", type=int, default=0, metavar="SEED",
                       help="seeds the manipulator's random boxes (e.g. a sampling editor's "
                            "noise), recorded in eval.json (default: 0)")
    judge.add_argument("-o", "--out", metavar="DIR",
                       help="write eval.json and the pictures to DIR (made if missing) "
                            "rather than into RUN_DIR: to keep the judgements of several "
                            "judges or seeds apart")
    judge.add_argument("--no-realism", action="store_true",
                       help="skip the realism figures (two-sample test, Fréchet distance), "
                            "which train small classifiers")
    judge.set_defaults(handler=run_eval)

    edit = subparsers.add_parser(
        "manipulate", help="edit images or sentences with a trained manipulator",
        description="Apply the manipulator in RUN_DIR to FILE: a .png, a .npz with an `images` "
                    "array, or a text file with one sentence a line.")
    edit.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `taskdsl train`")
    edit.add_argument("--input", required=True, metavar="FILE", help="what to edit")
    toward = edit.add_mutually_exclusive_group(required=True)
    toward.add_argument("--to", metavar="CLASS",
                        help="the class to give it, by name (e.g. blue) or number")
    toward.add_argument("--like", metavar="FILE",
                        help="give it the class the classifier reads on FILE (one input for "
                             "all, or one per input): put(x, get(x'))")
    edit.add_argument("-o", "--out", metavar="OUT",
                      help="where to write the edits (default: FILE_to_CLASS or FILE_like_LIKE "
                           "beside FILE)")
    edit.add_argument("--strength", type=float, default=1.0, metavar="S",
                      help="how far to edit, from 0 (what the classifier reads) to 1 (the "
                           "asked-for class)")
    edit.add_argument("--seed", type=int, default=0, metavar="SEED",
                      help="seeds the manipulator's random boxes: the same seed, the same edits "
                           "(default: 0)")
    edit.set_defaults(handler=run_manipulate)

    demo = subparsers.add_parser(
        "demo", help="train and judge a sprite-colour manipulator, end to end",
        description="Train a classifier and a manipulator on the built-in sprites, judge it, and "
                    "write the objective's diagram, grid.png and eval.json to -o/--out.")
    demo.add_argument("-o", "--out", default="demo_out", metavar="DIR",
                      help="the output folder (default: demo_out)")
    demo.add_argument("--fast", action="store_true", help="a tiny budget, for tests")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=run_demo)


def run_eval(args: argparse.Namespace) -> int:
    def body() -> int:
        compilation_cache.enable()
        from ..evaluation import errors
        from ..evaluation.evaluate import evaluate, print_report

        if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
            raise errors.out_not_a_folder(Path(args.out))
        result = evaluate(args.run_dir, args.judge, args.split, args.n, out=args.out,
                          progress=not args.quiet, seed=args.seed,
                          measure_realism=not args.no_realism)
        print_report(result)
        return 0

    return guarded(body)


def run_manipulate(args: argparse.Namespace) -> int:
    def body() -> int:
        compilation_cache.enable()
        from ..evaluation.manipulate import manipulate
        from ..messages import note

        written = manipulate(args.run_dir, args.input, args.to, args.out, args.strength, args.like,
                             seed=args.seed)
        print(note("wrote", path=written))
        return 0

    return guarded(body)


def run_demo(args: argparse.Namespace) -> int:
    def body() -> int:
        compilation_cache.enable()
        from ..evaluation.demo import demo

        demo(args.out, fast=args.fast, progress=not args.quiet)
        return 0

    return guarded(body)
