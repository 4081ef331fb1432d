"""Pausing the garbage collector while the front end builds, and what it leaves behind."""

from __future__ import annotations

import gc

from taskdsl.collector import collector_paused


def test_collector_comes_back() -> None:
    """The collector, paused while the front end builds, runs again after it (nested too),
    and stays off for a caller that had turned it off."""
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_was_made_meanwhile_is_not_left_to_the_next_collection() -> None:
    """The objects made while paused leave the youngest generation on the way out, so the
    first allocation after it does not walk them all (a tenth of a second on a large file)."""
    kept = []
    with collector_paused():
        kept.extend([i] for i in range(50_000))
    assert gc.get_count()[0] < 1_000
    assert len(kept) == 50_000


def test_what_the_program_froze_stays_frozen() -> None:
    """A program that froze its objects (before a fork, say) finds them frozen still."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            [object() for _ in range(10)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
