"""``taskdsl report``: one self-contained HTML page for a training run.

    taskdsl report RUN_DIR [-o report.html]

The page (``reporting/page.py``) shows the objective's diagram, each task's
training and held-out curves, the final figures, ``eval.json`` when present,
the settings and the run's pictures, all inline, so it is one file to share.
It reads files only: no JAX is imported, and it runs where JAX is not
installed (``framework_free``).  A folder that is not a run, corrupt
metrics, or an output that is not an earlier report is one message on stderr
and exit status 1 (``commands/guard.py``), never a traceback.
"""

from __future__ import annotations

import argparse

from .guard import guarded


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write one HTML page about a training run",
        description="Write a self-contained HTML page for RUN_DIR: the objective's diagram, "
                    "each task's training and held-out curves, the final figures, eval.json, "
                    "the settings and the pictures. See docs/training.md.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `taskdsl train`")
    parser.add_argument("-o", "--out", metavar="FILE",
                        help="where to write the page (default: RUN_DIR/report.html); an "
                             "existing file is replaced only if it is an earlier report")
    # It reads files only: `taskdsl.cli` lets it run where JAX is not installed.
    parser.set_defaults(handler=run_report, framework_free=True)


def run_report(args: argparse.Namespace) -> int:
    def body() -> int:
        from ..messages import note
        from ..reporting.page import write_report

        written = write_report(args.run_dir, args.out)
        print(note("wrote", path=written))
        return 0

    return guarded(body, output=args.out)
