"""Checkpoints: an exact round trip of NNX params and Optax state, pruning, and mismatches."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from taskdsl.backends.jax.training.checkpoint import Checkpoints
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
