"""``taskdsl data list`` and ``taskdsl data fetch NAME``: the data sets, and getting their files.

Training never downloads anything, so that a run is the same offline and online
and never waits on a server: ``fetch`` is the one step that does, once, into the
folder runs read (``$TASKDSL_DATA`` or the user data folder), verifying each
file's SHA-256 before it is renamed into place.  ``--from`` takes a mirror URL or
a local folder, for machines without the internet.  Nothing here imports JAX.

Exit codes: 0 done; 1 a file could not be fetched (every place tried is listed);
2 an unknown data set, or one with no files to fetch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

LARGE = 1 << 20  # bytes: smaller files download without a progress bar


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data", help="list the data sets, or fetch one's files once",
        description="List the data sets `datasets.NAME(...)` can bind, or download a data "
                    "set's files (verified) into the folder training reads them from.",
    )
    parser.set_defaults(framework_free=True)  # no JAX needed: `taskdsl.cli` lets it run without
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="each data set: fields, whether its files are here")
    listing.set_defaults(handler=run_list)
    fetching = actions.add_parser(
        "fetch", help="download a data set's files, verify them and store them",
        description="Download NAME's files from their published URLs (or --from a mirror or "
                    "folder), check each one's SHA-256, and store them where training looks.",
    )
    fetching.add_argument("name", metavar="NAME", help="the data set, e.g. mnist")
    fetching.add_argument("--from", dest="source", metavar="URL",
                          help="a base URL (https://, file://) or a local folder holding the "
                               "files, plain or gzipped, instead of the published URLs")
    fetching.add_argument("-o", "--out", metavar="DIR",
                          help="the data folder to store into, as $TASKDSL_DATA names it "
                               "(the files go to DIR/NAME; default: $TASKDSL_DATA, else the "
                               "user data folder)")
    fetching.add_argument("--dir", dest="out", help=argparse.SUPPRESS)  # the old spelling
    fetching.add_argument("--quiet", action="store_true", help="no progress bars")
    fetching.set_defaults(handler=run_fetch)


def run_list(args: argparse.Namespace) -> int:
    from ..data import catalogue

    for line in catalogue.table():
        print(line)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from ..data import LOADERS, messages
    from ..data.fetch import REMOTES, FetchError, fetch
    from ..data.locate import data_root

    name = args.name.removeprefix("datasets.")
    if name not in REMOTES:
        if name in LOADERS:
            print(f"error: {messages.nothing_to_fetch(name, _origin(name))}", file=sys.stderr)
        else:
            print(f"error: {messages.unknown_dataset(name, list(LOADERS), list(REMOTES))}",
                  file=sys.stderr)
        return 2
    root = Path(args.out).expanduser() if args.out else data_root()[0]
    folder = root / name
    try:
        if args.quiet:
            fetched = fetch(name, folder, args.source)
        else:
            with _Bars() as progress:
                fetched = fetch(name, folder, args.source, progress)
    except FetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write to {folder}: {error.strerror or error}", file=sys.stderr)
        return 1
    for item in fetched:
        how = f"fetched from {item.origin}" if item.downloaded else "already there, verified"
        print(f"{item.path.name}: {how}")
    print(f"{name}: {len(fetched)} files in {folder} ({REMOTES[name].licence})")
    if args.out and root != data_root()[0]:
        print(f"runs read them with TASKDSL_DATA={root}, or `path = \"{folder}\"`")
    return 0


def _origin(name: str) -> str:
    from ..data.catalogue import ORIGINS

    return ORIGINS.get(name, "it is shipped or generated")


class _Bars:
    """A rich progress bar per file, on standard error; the context gives the
    ``progress(label, total)`` callback :func:`..data.fetch.fetch` takes."""

    def __enter__(self) -> Callable[[str, int | None], Callable[[int], None]]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                             TransferSpeedColumn(), console=Console(stderr=True),
                             transient=False)
        self.bars.__enter__()

        def start(label: str, total: int | None) -> Callable[[int], None]:
            if total is not None and total < LARGE:
                return lambda size: None
            task = self.bars.add_task(label, total=total)
            return lambda size: self.bars.advance(task, size)

        return start

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(None, None, None)
