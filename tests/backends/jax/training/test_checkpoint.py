"""Checkpoints: an exact round trip of NNX params and Optax state, pruning, mismatches, and
checksums that refuse a damaged checkpoint by name."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl.backends.jax.training.checkpoint import (
    AUTO_EVERY,
    AUTO_SECONDS,
    CHECKSUMS,
    Checkpoints,
    due,
    period,
)
from taskdsl.backends.jax.training.errors import TrainError


def state(width: int = 3, seed: int = 0) -> tuple[dict, optax.OptState]:
    params = {"get": nnx.split(nnx.Linear(width, 2, rngs=nnx.Rngs(seed)))[1]}
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(params)
    grads = jax.tree.map(lambda x: x * 0.5 + 1.0, params)  # a step, so moments are non-zero
    _, opt_state = optimizer.update(grads, opt_state, params)
    return params, opt_state


def leaves_equal(a: object, b: object) -> bool:
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_round_trip_is_exact_and_keeps_the_structure(tmp_path: Path) -> None:
    params, opt_state = state()
    with Checkpoints(tmp_path, keep=2) as checkpoints:
        checkpoints.save(10, params, opt_state, seed=4)
    blank, blank_opt = state(seed=1)
    with Checkpoints(tmp_path, keep=2) as checkpoints:
        assert checkpoints.latest_step() == 10
        got, got_opt, meta = checkpoints.restore(10, blank, blank_opt)
    assert leaves_equal(got, params)
    assert leaves_equal(got_opt, opt_state)
    assert isinstance(got["get"], nnx.State)
    assert meta == {"step": 10, "seed": 4}


def test_only_the_latest_are_kept(tmp_path: Path) -> None:
    params, opt_state = state()
    with Checkpoints(tmp_path, keep=2) as checkpoints:
        for step in (1, 2, 3):
            checkpoints.save(step, params, opt_state, seed=0)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["2", "3"]


def test_read_needs_no_program(tmp_path: Path) -> None:
    params, opt_state = state()
    with Checkpoints(tmp_path, keep=1) as checkpoints:
        checkpoints.save(5, params, opt_state, seed=0)
        raw = checkpoints.read()
    np.testing.assert_array_equal(raw["params"]["get"]["kernel"]["value"],
                                  params["get"]["kernel"][...])


def test_a_checkpoint_of_other_learners_is_a_clear_error(tmp_path: Path) -> None:
    params, opt_state = state()
    with Checkpoints(tmp_path, keep=1) as checkpoints:
        checkpoints.save(5, params, opt_state, seed=0)
    other, other_opt = state(width=4)
    with Checkpoints(tmp_path, keep=1) as checkpoints, pytest.raises(TrainError) as caught:
        checkpoints.restore(5, other, other_opt)
    assert "does not fit this program's learners" in str(caught.value)


# ---------------------------------------------------------------- checksums (issue 17)


def saved(tmp_path: Path, steps: tuple[int, ...] = (5,), keep: int = 3) -> tuple[dict, object]:
    params, opt_state = state()
    with Checkpoints(tmp_path, keep=keep) as checkpoints:
        for step in steps:
            checkpoints.save(step, params, opt_state, seed=0)
    return params, opt_state


def step_files(tmp_path: Path, step: int) -> list[Path]:
    folder = tmp_path / "checkpoints" / str(step)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS)


def test_every_saved_step_records_the_checksum_of_each_of_its_files(tmp_path: Path) -> None:
    saved(tmp_path, steps=(1, 2, 3), keep=2)
    for step in (2, 3):
        folder = tmp_path / "checkpoints" / str(step)
        record = json.loads((folder / CHECKSUMS).read_text())
        files = {p.relative_to(folder).as_posix(): p for p in step_files(tmp_path, step)}
        assert set(record["files"]) == set(files) and files
        assert all(hashlib.sha256(files[name].read_bytes()).hexdigest() == digest
                   for name, digest in record["files"].items())
    assert not (tmp_path / "checkpoints" / "1").exists()


def data_file(tmp_path: Path, step: int) -> Path:
    """The largest file of a step: where its arrays' bytes are."""
    return max(step_files(tmp_path, step), key=lambda p: p.stat().st_size)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path, offset: int = 0, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 1 << bit
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "truncated": (truncate, "does not match its checksum"),
    "bit-flipped": (lambda p: flip(p, offset=len(p.read_bytes()) // 2), "does not match its checksum"),
    "emptied": (lambda p: p.write_bytes(b""), "does not match its checksum"),
    "deleted": (Path.unlink, "is missing"),
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_a_corrupt_checkpoint_is_refused_by_name(tmp_path: Path, how: str) -> None:
    params, opt_state = saved(tmp_path)
    damaged = data_file(tmp_path, 5)
    corrupt, words = CORRUPTIONS[how]
    corrupt(damaged)
    name = damaged.relative_to(tmp_path / "checkpoints" / "5").as_posix()
    with Checkpoints(tmp_path, keep=3) as checkpoints:
        for attempt in (lambda: checkpoints.restore(5, params, opt_state),
                        lambda: checkpoints.read(5)):
            with pytest.raises(TrainError) as caught:
                attempt()
            assert caught.value.code == "checkpoint-corrupt"
            assert f"file {name} {words}" in str(caught.value)
            assert "step 5" in str(caught.value)


@pytest.fixture(scope="module")
def flippable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One saved checkpoint for every example of the test below (each puts it back)."""
    folder = tmp_path_factory.mktemp("flipped")
    saved(folder)
    return folder


@settings(max_examples=40, deadline=None)
@given(which=st.integers(min_value=0), offset=st.integers(min_value=0),
       bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_of_any_file_is_found(flippable: Path, which: int, offset: int,
                                              bit: int) -> None:
    files = step_files(flippable, 5)
    target = files[which % len(files)]
    original = target.read_bytes()
    checkpoints = Checkpoints(flippable, keep=3)
    try:
        assert checkpoints.problem(5) is None
        flip(target, offset, bit)
        why = checkpoints.problem(5)
        assert why is not None
        assert target.relative_to(flippable / "checkpoints" / "5").as_posix() in why
    finally:
        target.write_bytes(original)
        checkpoints.close()


def test_restore_latest_falls_back_to_the_newest_that_verifies(tmp_path: Path) -> None:
    params, opt_state = saved(tmp_path, steps=(1, 2, 3))
    flip(data_file(tmp_path, 3))
    (tmp_path / "checkpoints" / "2" / "state" / "_METADATA").unlink()
    said: list[str] = []
    with Checkpoints(tmp_path, keep=3) as checkpoints:
        restored = checkpoints.restore_latest(*state(seed=1), say=said.append)
    assert restored is not None
    assert (restored.step, restored.corrupt) == (1, (3, 2))
    assert leaves_equal(restored.params, params)
    assert leaves_equal(restored.opt_state, opt_state)
    assert "step 3" in said[0] and "step 2" in said[1] and "is missing" in said[1]
    assert "step 1" in said[-1] and "the newest that verifies" in said[-1]


def test_when_no_checkpoint_verifies_it_is_an_error_naming_them(tmp_path: Path) -> None:
    saved(tmp_path, steps=(1, 2))
    for step in (1, 2):
        truncate(data_file(tmp_path, step))
    with Checkpoints(tmp_path, keep=3) as checkpoints, pytest.raises(TrainError) as caught:
        checkpoints.restore_latest(*state(), say=lambda _: None)
    assert caught.value.code == "checkpoint-none-verifies"
    assert "steps 2, 1" in str(caught.value)


def test_a_file_added_to_a_step_or_unreadable_checksums_are_corrupt(tmp_path: Path) -> None:
    saved(tmp_path, steps=(1, 2))
    (tmp_path / "checkpoints" / "2" / "state" / "planted").write_bytes(b"x")
    (tmp_path / "checkpoints" / "1" / CHECKSUMS).write_text('{"files": ')
    with Checkpoints(tmp_path, keep=3) as checkpoints:
        assert "state/planted was not part of it" in (checkpoints.problem(2) or "")
        assert f"{CHECKSUMS} cannot be read" in (checkpoints.problem(1) or "")


def test_a_step_without_checksums_restores_as_before(tmp_path: Path) -> None:
    """Checkpoints from before checksums (or a kill between Orbax's rename and them)."""
    params, opt_state = saved(tmp_path)
    (tmp_path / "checkpoints" / "5" / CHECKSUMS).unlink()
    with Checkpoints(tmp_path, keep=3) as checkpoints:
        restored = checkpoints.restore_latest(*state(seed=1), say=pytest.fail)
    assert restored is not None and restored.step == 5
    assert leaves_equal((restored.params, restored.opt_state), (params, opt_state))


def test_a_finished_save_gets_its_checksums_before_the_next_one(tmp_path: Path) -> None:
    """``poll`` (the loop's, at logged steps): a kill soon after a save finds it verified."""
    params, opt_state = state()
    record = tmp_path / "checkpoints" / "5" / CHECKSUMS
    with Checkpoints(tmp_path, keep=3) as checkpoints:
        checkpoints.save(5, params, opt_state, seed=0)
        deadline = time.monotonic() + 60
        while not record.exists():
            assert time.monotonic() < deadline, "no checksums after the save finished"
            checkpoints.poll()
            time.sleep(0.01)
        assert checkpoints.problem(5) is None
        assert json.loads(record.read_text())["algorithm"] == "sha256"


# ------------------------------------------------------------ when the loop saves


def saved_steps(every: int | str, steps: int, seconds_per_step: float) -> list[int]:
    """The steps a loop saves at (the last one aside), its clock ``seconds_per_step`` a
    step: what ``train._Loop`` asks :func:`due`, with the clock injected."""
    last, saved = 0.0, []
    for step in range(1, steps + 1):
        now = step * seconds_per_step
        if due(step, every, last, now):
            saved.append(step)
            last = now
    return saved


@settings(deadline=None, max_examples=50)
@given(every=st.integers(1, 500), steps=st.integers(1, 3000),
       seconds=st.floats(0, 10, allow_nan=False))
def test_a_whole_number_saves_every_that_many_steps_whatever_the_clock(
        every: int, steps: int, seconds: float) -> None:
    assert saved_steps(every, steps, seconds) == list(range(every, steps + 1, every))
    assert period(every) == every


@settings(deadline=None, max_examples=50)
@given(steps=st.integers(1, 5_000), seconds=st.floats(1e-5, 1.0, allow_nan=False))
def test_auto_saves_at_multiples_of_its_period_at_least_its_seconds_apart(
        steps: int, seconds: float) -> None:
    saved = saved_steps("auto", steps, seconds)
    assert all(s % AUTO_EVERY == 0 for s in saved)
    times = [0.0, *(s * seconds for s in saved)]
    assert all(b - a >= AUTO_SECONDS for a, b in itertools.pairwise(times))
    # Each save is the first step of the period that is far enough from the previous one.
    for before, after in zip([0, *saved], [*saved, None], strict=True):
        first = next((s for s in range(before + AUTO_EVERY, steps + 1, AUTO_EVERY)
                      if (s - before) * seconds >= AUTO_SECONDS), None)
        assert first == after


def test_auto_saves_a_slow_run_at_each_period_and_a_fast_one_seldom() -> None:
    slow = AUTO_SECONDS / AUTO_EVERY  # 200 steps take the whole interval
    assert saved_steps("auto", 1000, slow) == [200, 400, 600, 800, 1000]
    # 0.05 ms a step: 20,000 steps in a second, far under the interval: none but the last.
    assert saved_steps("auto", 20_000, 5e-5) == []
    assert period("auto") == AUTO_EVERY
    assert due(400, "auto", last_saved=100.0, now=100.0 + AUTO_SECONDS)
    assert not due(400, "auto", last_saved=100.0, now=100.0 + AUTO_SECONDS - 0.01)
    assert not due(401, "auto", last_saved=0.0, now=1e9)
