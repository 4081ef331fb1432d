"""``taskdsl check FILE... [--set KEY=VALUE] [--format human|json]``: exit 0 when clean,
1 with errors (warnings pass).

Each file is checked by the front end, then (when it has no errors) by every
installed backend, which checks what only it understands: ``impl`` lines,
data bindings and ``train`` settings, with ``--set`` overrides applied as
``taskdsl train`` would.  All findings print together, in position order.
Where no backend can run, one note at the end says which checks were skipped.

A file's claims (``claim NAME: GOAL [by ...]``) are proved once it checks clean,
within ``--claim-seconds`` each (:mod:`taskdsl.reasoning.claims`); one refuted or
left undecided is an error at the claim.

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
import os
import sys
from dataclasses import replace
from typing import Any

from taskdsl import lints
from taskdsl.diagnostics import Diagnostic
from taskdsl.loader import Result, check_file, check_text

STDIN = "-"
STDIN_NAME = "<stdin>"
FORMATS = ("human", "json")

HELP_FORMAT = "how to print findings: `human` (default) or `json` (an array on stdout, for tools)"
HELP_FILES = "the files to check; `-` reads one from standard input"
CLAIM_SECONDS = 2.0  # as taskdsl.reasoning.claims.DEFAULT_SECONDS, without importing the reasoning
HELP_CLAIMS = (f"time to prove or refute each claim of a file, in seconds ({CLAIM_SECONDS:g}); "
               "0 skips the claims")
ALLOW_IMPORT_ENV = "TASKDSL_ALLOW_IMPORT"  # backends/jax/trust.py reads it
HELP_ALLOW_IMPORT = ("trust the Python package PKG (and its modules) for `impl` lines that "
                     "name nets by dotted path; repeatable (docs/security.md)")


class AllowImport(argparse.Action):
    """``--allow-import PKG``: adds PKG to ``$TASKDSL_ALLOW_IMPORT`` for this process, so
    that every backend check and resolution in it sees it (docs/security.md)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        given = [n for n in os.environ.get(ALLOW_IMPORT_ENV, "").split(",") if n.strip()]
        os.environ[ALLOW_IMPORT_ENV] = ",".join(dict.fromkeys([*given, str(values).strip()]))
        namespace.allow_import = [*(getattr(namespace, "allow_import", None) or []), values]


HELP_STRICT = ("treat the checker's warnings (lints) as errors: exit 1 if there are any; "
               "a backend's warnings (a missing data file) stay warnings")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="type-check .task files")
    parser.add_argument("files", nargs="+", metavar="FILE", help=HELP_FILES)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="check with a setting overridden, as `taskdsl train --set` would; "
                             "repeatable")
    parser.add_argument("--format", choices=FORMATS, default="human", help=HELP_FORMAT)
    parser.add_argument("--strict", action="store_true", help=HELP_STRICT)
    parser.add_argument("--allow-import", action=AllowImport, metavar="PKG",
                        help=HELP_ALLOW_IMPORT)
    parser.add_argument("--claim-seconds", type=float, default=CLAIM_SECONDS, metavar="S",
                        help=HELP_CLAIMS)
    parser.set_defaults(handler=run)


def check_one(path: str, overrides: list[str], strict: bool = False) -> tuple[str, Result]:
    """The name a file is reported by and its result; ``-`` is standard input.  With
    ``strict``, every warning is an error (``--strict``)."""
    if strict:
        name, result = check_one(path, overrides)
        return name, replace(result, diagnostics=lints.strict(result.diagnostics))
    if path == STDIN:
        text = sys.stdin.read()
        return STDIN_NAME, check_text(text, STDIN_NAME, backends=True, overrides=overrides)
    return path, check_file(path, backends=True, overrides=overrides)


def check_claims(result: Result, seconds: float) -> Result:
    """``result`` with its file's claims proved once it checks clean; the reasoning (egglog,
    z3) is imported only for a file with claims."""
    program = result.program
    if not program.claims and not any(g.claims for g in program.generic.values()):
        return result
    from taskdsl.reasoning.claims import with_claims

    return with_claims(result, seconds)


def run(args: argparse.Namespace) -> int:
    if args.format == "json":
        return run_json(args)
    failed = 0
    unchecked: dict[str, None] = {}  # the notes, once each, in order
    for path in args.files:
        name, result = check_one(path, args.overrides, args.strict)
        result = check_claims(result, args.claim_seconds)
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
        name, result = check_one(path, args.overrides, args.strict)
        result = check_claims(result, args.claim_seconds)
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
        "note": diagnostic.note,
    }
