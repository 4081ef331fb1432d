"""``taskdsl check FILE... [--set KEY=VALUE] [--format human|json]``: exit 0 when clean,
1 with errors (warnings pass).

Each file is checked by the front end, then (when it has no errors) by every
installed backend, which checks what only it understands: ``impl`` lines,
data bindings and ``train`` settings, with ``--set`` overrides applied as
``taskdsl train`` would.  All findings print together, in position order.
Where no backend can run, one note at the end says which checks were skipped.

``-`` as a file reads the text from standard input, reported as ``<stdin>``,
with relative imports resolved from the current folder: so an editor can check
an unsaved buffer.  ``--format json`` prints one JSON array on standard output
for tools (an editor, CI annotations): one object per file checked, with its
``ok`` and its diagnostics, each with its position spelled out (see
:func:`diagnostic_json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from taskdsl.diagnostics import Diagnostic
from taskdsl.loader import Result, check_file, check_text

STDIN = "-"
STDIN_NAME = "<stdin>"
FORMATS = ("human", "json")

HELP_FORMAT = "how to print findings: `human` (default) or `json` (an array on stdout, for tools)"
HELP_FILES = "the files to check; `-` reads one from standard input"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="type-check .task files")
    parser.add_argument("files", nargs="+", metavar="FILE", help=HELP_FILES)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="check with a setting overridden, as `taskdsl train --set` would; "
                             "repeatable")
    parser.add_argument("--format", choices=FORMATS, default="human", help=HELP_FORMAT)
    parser.set_defaults(handler=run)


def check_one(path: str, overrides: list[str]) -> tuple[str, Result]:
    """The name a file is reported by and its result; ``-`` is standard input."""
    if path == STDIN:
        text = sys.stdin.read()
        return STDIN_NAME, check_text(text, STDIN_NAME, backends=True, overrides=overrides)
    return path, check_file(path, backends=True, overrides=overrides)


def run(args: argparse.Namespace) -> int:
    if args.format == "json":
        return run_json(args)
    failed = 0
    unchecked: dict[str, None] = {}  # the notes, once each, in order
    for path in args.files:
        name, result = check_one(path, args.overrides)
        if result.diagnostics:
            print(result.render(), file=sys.stderr, end="\n\n")
        unchecked.update(dict.fromkeys(result.unchecked))
        if not result.ok:
            failed += 1
        else:
            print(f"{name}: ok")
    for note in unchecked:
        print(f"note: {note}", file=sys.stderr)
    if failed:
        print(f"{failed} of {len(args.files)} file(s) have errors", file=sys.stderr)
    return 1 if failed else 0


def run_json(args: argparse.Namespace) -> int:
    """Every file's findings as one JSON array on stdout; the exit code as in human format."""
    report = []
    for path in args.files:
        name, result = check_one(path, args.overrides)
        report.append({
            "file": name,
            "ok": result.ok,
            "diagnostics": [diagnostic_json(d, name) for d in result.diagnostics],
            "notes": list(result.unchecked),
        })
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if all(entry["ok"] for entry in report) else 1


def diagnostic_json(diagnostic: Diagnostic, checked: str) -> dict[str, Any]:
    """One diagnostic as JSON: 1-based ``line``/``column``, exclusive ``end_*``.

    ``file`` is where it points (an imported file, or ``--set`` for an override);
    a diagnostic without a place (an unreadable file) names the file checked and
    has null positions.
    """
    span = diagnostic.span
    return {
        "file": span.file if span else checked,
        "line": span.line if span else None,
        "column": span.column if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_column if span else None,
        "severity": diagnostic.severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "expected": diagnostic.expected,
        "found": diagnostic.found,
        "help": diagnostic.help,
    }
