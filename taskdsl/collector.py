"""Pausing Python's cyclic garbage collector while the front end builds.

Parsing and elaboration allocate a great many objects that all stay alive;
collections while they pile up find nothing to free, and made checking a large
file twice as slow.  Both passes use this, so it lives apart from either.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it was running) for the ``with`` block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
