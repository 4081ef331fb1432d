"""``taskdsl explain FILE [--latex] [--simplify]``: the symbol table and each task's loss
formula; ``--simplify`` adds each task rewritten by the builtins' laws (docs/reasoning.md)."""

from __future__ import annotations

import argparse
import sys

from taskdsl.explain import explain
from taskdsl.loader import check_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("explain", help="print boxes and loss formulas")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--latex", action="store_true", help="formulas in LaTeX")
    parser.add_argument("--simplify", action="store_true",
                        help="also each task after the builtins' laws and refinements")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    result = check_file(args.file)
    if not result.ok:
        print(result.render(), file=sys.stderr)
        return 1
    print(explain(result.program, latex=args.latex))
    if args.simplify:
        # The reasoning (egglog) is imported only when asked for, as `check` does for claims.
        from taskdsl.reasoning.simplify import render

        print()
        print(render(result.program, as_latex=args.latex))
    return 0
