"""``taskdsl lsp``: run the language server on standard input and output, for an editor to start.

The server needs ``pygls`` (``pip install 'taskdsl[lsp]'``); without it the
command says so and exits 1, and every other command still works.  It is
imported only when the command runs, so ``taskdsl check`` never pays for it.
"""

from __future__ import annotations

import argparse
import sys

MISSING = ("taskdsl lsp needs the `pygls` package (missing here: {name}); "
           "install it with: pip install 'taskdsl[lsp]'")
HELP = "run the language server on stdio (for editors; see docs/editors.md)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lsp", help=HELP, description=HELP)
    parser.add_argument("--stdio", action="store_true",
                        help="accepted for editors that pass it; stdio is the only transport")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from taskdsl import lsp
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("pygls", "lsprotocol", "cattrs"):
            print(MISSING.format(name=error.name), file=sys.stderr)
            return 1
        raise
    lsp.main()
    return 0
