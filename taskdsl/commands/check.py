"""``taskdsl check FILE...``: exit 0 when clean, 1 with errors (warnings alone pass)."""

from __future__ import annotations

import argparse
import sys

from taskdsl.loader import check_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="type-check .task files")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        result = check_file(path)
        if result.diagnostics:
            print(result.render(), file=sys.stderr, end="\n\n")
        if not result.ok:
            failed += 1
        else:
            print(f"{path}: ok")
    if failed:
        print(f"{failed} of {len(args.files)} file(s) have errors", file=sys.stderr)
    return 1 if failed else 0
