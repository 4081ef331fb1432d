"""``taskdsl fmt FILE... [--check] [--stdout]``: rewrite .task files in canonical style.

A file with syntax errors is never rewritten: its diagnostics are printed and
the command exits 1.  Rewriting is atomic (a temporary file in the same folder,
then ``os.replace``), so no error leaves a user's file truncated.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from taskdsl.fmt import FormatError, SyntaxErrors, format_text
from taskdsl.loader import _reason
from taskdsl.source import Source


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("fmt", help="format .task files in the canonical style")
    parser.add_argument("files", nargs="+", metavar="FILE")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 and list the files that would change")
    mode.add_argument("--stdout", action="store_true",
                      help="print the formatted text instead of rewriting the files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        if not _format_file(path, check=args.check, to_stdout=args.stdout):
            failed += 1
    if failed:
        print(f"{failed} of {len(args.files)} file(s) "
              f"{'would be reformatted or ' if args.check else ''}have errors", file=sys.stderr)
    return 1 if failed else 0


def _format_file(path: str, *, check: bool, to_stdout: bool) -> bool:
    """Format one file as asked; False when it failed (or, with ``check``, would change)."""
    try:
        original = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"{path}: cannot read: {_reason(error)}", file=sys.stderr)
        return False
    # Newlines as every reader of .task files sees them (`taskdsl check` included).
    text = original.replace("\r\n", "\n").replace("\r", "\n")
    try:
        formatted = format_text(text, path)
    except SyntaxErrors as error:
        sources = {path: Source(path, text)}
        print("\n\n".join(d.render(sources) for d in error.diagnostics), file=sys.stderr)
        print(f"{path}: not formatted: it has syntax errors", file=sys.stderr)
        return False
    except FormatError as error:
        print(f"{path}: not formatted: {error} (a bug in taskdsl fmt)", file=sys.stderr)
        return False
    if to_stdout:
        sys.stdout.write(formatted)
        return True
    if formatted == original:
        return True
    if check:
        print(f"would reformat {path}")
        return False
    try:
        _replace(Path(path), formatted)
    except OSError as error:
        print(f"{path}: cannot write: {_reason(error)}", file=sys.stderr)
        return False
    print(f"reformatted {path}", file=sys.stderr)
    return True


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping the file's permissions."""
    target = path.resolve()  # through a symbolic link, rewrite the file it names
    mode = target.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
