"""Fuzzing as a habit: a few seconds of it in every test run (``benchmarks/fuzz.py`` is
the long run).  ``check``, ``fmt`` and ``compile`` must answer any input with the
product's own errors, never a traceback or a hang (``tests/fuzz/harness.py``)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import SEEDS, Tally, exercise, mutants, mutate
from tests.taskdsl.strategies import corruptions, programs

FAST = settings(max_examples=4, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def assert_clean(tally: Tally) -> None:
    assert (tally.tracebacks, tally.hangs) == (0, 0), "\n\n".join(tally.found)


@FAST
@given(text=programs())
def test_generated_programs_check_format_and_compile(text: str) -> None:
    tally = Tally()
    exercise(text, tally)
    assert_clean(tally)


@FAST
@given(data=st.data())
def test_corrupted_generated_programs_get_answers(data: st.DataObject) -> None:
    text = data.draw(programs())
    tally = Tally()
    exercise(data.draw(corruptions(text)), tally, compile_too=False)
    assert_clean(tally)


def test_mutants_of_the_shipped_files_get_answers() -> None:
    tally = Tally()
    for mutant in mutants(seed=random.randrange(2**32), count=10):
        exercise(mutant, tally)
    assert tally.inputs == 10
    assert_clean(tally)


@pytest.mark.slow
def test_the_shipped_files_themselves_check_format_and_compile() -> None:
    tally = Tally()
    for path in SEEDS:
        exercise(path.read_text(encoding="utf-8"), tally)
    assert tally.inputs == len(SEEDS) > 10
    assert_clean(tally)


def test_a_traceback_and_a_hang_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness is what the other tests trust: it must see what they look for."""
    import tests.fuzz.harness as harness

    def boom(data: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(harness, "_check", boom)
    tally = Tally()
    exercise("x", tally)
    assert (tally.tracebacks, tally.hangs) == (1, 0) and "KeyError" in tally.found[0]

    def spin(data: object) -> None:
        while True:
            pass

    monkeypatch.setattr(harness, "_check", spin)
    exercise("x", tally, limit=0.2)
    assert (tally.inputs, tally.tracebacks, tally.hangs) == (2, 1, 1)
    assert tally.line() == "fuzz: inputs=2 tracebacks=1 hangs=1"


def test_mutations_change_the_text() -> None:
    rng = random.Random(0)
    text = SEEDS[0].read_text(encoding="utf-8")
    changed = [mutate(rng, text, text) for _ in range(20)]
    assert sum(m != text for m in changed) >= 15
