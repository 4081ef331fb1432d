"""``taskdsl predict`` and ``taskdsl sample``: using any trained run's boxes.

    taskdsl predict RUN_DIR LEARNER --input FILE.npz [-o OUT.npz] [--seed 0] [--force]
    taskdsl sample RUN_DIR [LEARNER] [-n 16] [-o OUT.npz] [--seed 0] [--force]

JAX is imported only when a command runs.  ``-o`` never overwrites the input (nor,
without ``--force``, any other existing file).  Anything the user can fix is one
message on stderr and a non-zero exit (``commands/guard.py``), never a traceback.
See docs/using-runs.md.
"""

from __future__ import annotations

import argparse
import sys

from .. import cache as compilation_cache
from .guard import guarded


def register(subparsers: argparse._SubParsersAction) -> None:
    predict = subparsers.add_parser(
        "predict", help="apply a learner of a trained run to arrays in a .npz file",
        description="Apply LEARNER (or a refined learner) of the run in RUN_DIR to the arrays in "
                    "FILE.npz, one per input (named by the input's type alias, or x0, x1, ...); "
                    "writes OUT.npz and, for image outputs, OUT.png. See docs/using-runs.md.")
    predict.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `taskdsl train`")
    predict.add_argument("learner", metavar="LEARNER", help="the learner or refinement to apply")
    predict.add_argument("--input", required=True, metavar="FILE",
                         help="a .npz with one array per input of LEARNER")
    predict.add_argument("-o", "--out", metavar="OUT",
                         help="the .npz to write (default: FILE_LEARNER.npz beside FILE)")
    predict.add_argument("--seed", type=int, default=0, metavar="SEED",
                         help="seeds the learner's random boxes (default: 0)")
    predict.add_argument("--force", action="store_true",
                         help="overwrite OUT if it exists (never FILE)")
    predict.set_defaults(handler=run_predict)

    draw = subparsers.add_parser(
        "sample", help="draw from a trained generator or decoder",
        description="Feed LEARNER (default: the run's only generator) from the random sources "
                    "the file declares for its inputs (a VAE's decoder from its Gaussian prior) "
                    "and write OUT.npz and, for image outputs, a picture grid. See "
                    "docs/using-runs.md.")
    draw.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `taskdsl train`")
    draw.add_argument("learner", metavar="LEARNER", nargs="?",
                      help="the generator to sample (default: the run's only one)")
    draw.add_argument("-n", type=int, default=16, metavar="N",
                      help="how many samples (default: 16)")
    draw.add_argument("-o", "--out", metavar="OUT",
                      help="the .npz to write (default: RUN_DIR/samples_LEARNER.npz)")
    draw.add_argument("--seed", type=int, default=0, metavar="SEED",
                      help="seeds the draws: the same seed, the same samples (default: 0)")
    draw.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    draw.set_defaults(handler=run_sample)


def refused(out: str | None, inputs: list[str], force: bool) -> int | None:
    """The exit code of refusing ``-o`` (printed), or ``None`` if it may be written."""
    if out is None:
        return None
    from taskdsl.cli import USAGE, refuse_overwrite

    refusal = refuse_overwrite(out, inputs, force)
    if refusal is None:
        return None
    print(f"error: {refusal}", file=sys.stderr)
    return USAGE


def _wrote(paths: list) -> None:
    from ..messages import note

    for path in paths:
        print(note("wrote", path=path))


def run_predict(args: argparse.Namespace) -> int:
    def body() -> int:
        code = refused(args.out, [args.input], args.force)
        if code is not None:
            return code
        compilation_cache.enable()
        from ..evaluation.predict import predict

        _wrote(predict(args.run_dir, args.learner, args.input, args.out, seed=args.seed))
        return 0

    return guarded(body, output=args.out)


def run_sample(args: argparse.Namespace) -> int:
    def body() -> int:
        code = refused(args.out, [], args.force)
        if code is not None:
            return code
        compilation_cache.enable()
        from ..evaluation.sample import sample

        _wrote(sample(args.run_dir, args.learner, args.n, args.out, seed=args.seed))
        return 0

    return guarded(body, output=args.out)
