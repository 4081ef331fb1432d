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
    """Pause the cyclic garbage collector (if it was running) for the ``with`` block.

    On the way out the objects made meanwhile go straight to the oldest generation
    (``freeze`` then ``unfreeze``: no walk over them): left in the youngest, the first
    allocation after ``enable`` would walk them all, a tenth of a second for a large
    file, to find what is already known to be alive.  A cycle among them is still
    collected, by the next full collection.  (Skipped where the program has frozen
    objects of its own, say before a fork: ``unfreeze`` would thaw those too.)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():  # never thaw what the program froze itself
                gc.freeze()
                gc.unfreeze()
            gc.enable()
