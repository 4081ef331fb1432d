"""``taskdsl check FILE... [--set KEY=VALUE]``: exit 0 when clean, 1 with errors (warnings pass).

Each file is checked by the front end, then (when it has no errors) by every
installed backend, which checks what only it understands: ``impl`` lines,
data bindings and ``train`` settings, with ``--set`` overrides applied as
``taskdsl train`` would.  All findings print together, in position order.
Where no backend can run, one note at the end says which checks were skipped.
"""

from __future__ import annotations

import argparse
import sys

from taskdsl.loader import check_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="type-check .task files")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="check with a setting overridden, as `taskdsl train --set` would; "
                             "repeatable")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    failed = 0
    unchecked: dict[str, None] = {}  # the notes, once each, in order
    for path in args.files:
        result = check_file(path, backends=True, overrides=args.overrides)
        if result.diagnostics:
            print(result.render(), file=sys.stderr, end="\n\n")
        unchecked.update(dict.fromkeys(result.unchecked))
        if not result.ok:
            failed += 1
        else:
            print(f"{path}: ok")
    for note in unchecked:
        print(f"note: {note}", file=sys.stderr)
    if failed:
        print(f"{failed} of {len(args.files)} file(s) have errors", file=sys.stderr)
    return 1 if failed else 0
