"""A bfloat16 run (``precision = bfloat16``) of the digits MLP classifier learns as a
float32 one does, keeps float32 parameters, and its run folder says how it computed."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import taskdsl
from taskdsl.backends.jax import data
from taskdsl.backends.jax.training.runs import load_run
from taskdsl.backends.jax.training.train import CONFIG, RunResult, train

SOURCE = """
type Img = Real[8, 8, 1]
data digits : -> Img, Class[10]
learner clf : Img -> Class[10]

task classify:
    x, y <- digits
    clf(x) = y

impl clf = nets.mlp(width = 32, depth = 1)

train classify:
    data digits = datasets.digits(split = "train")
    batch 64
    steps 150
    log_every 50
    checkpoint_every 150
    tensorboard false
"""
ACCURACY = 0.85
"""What the float32 run reaches on the held-out digits (about 0.89): both must."""
TOLERANCE = 0.03
"""bfloat16's accuracy may differ from float32's by at most this (3 of 100 digits)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    folder = tmp_path_factory.mktemp("precision")
    path = folder / "digits.task"
    path.write_text(SOURCE, encoding="utf-8")
    program = taskdsl.load(path)
    return {precision: train(program, None, (f"precision={precision}",
                                             "matmul_precision=highest"),
                             folder / precision, progress=False)
            for precision in ("float32", "bfloat16")}


def _accuracy(result: RunResult) -> float:
    test = data.load("digits", split="test")
    (logits,) = result.lowered.apply("clf", result.params, test.fields["image"])
    return float((np.argmax(logits, -1) == test.fields["label"]).mean())


def test_a_bfloat16_run_reaches_float32s_accuracy(runs: dict[str, RunResult]) -> None:
    full, mixed = _accuracy(runs["float32"]), _accuracy(runs["bfloat16"])
    assert full >= ACCURACY and mixed >= ACCURACY, (full, mixed)
    assert abs(mixed - full) <= TOLERANCE, (full, mixed)
    # Not the same run: bfloat16 changed the arithmetic, so the parameters differ.
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(runs["float32"].params), jax.tree.leaves(runs["bfloat16"].params),
        strict=True))


def test_a_bfloat16_run_keeps_float32_parameters(runs: dict[str, RunResult]) -> None:
    leaves = jax.tree.leaves(runs["bfloat16"].params)
    assert leaves and all(x.dtype == jnp.float32 for x in leaves)
    assert isinstance(runs["bfloat16"].loss, float) and np.isfinite(runs["bfloat16"].loss)


def test_the_run_folder_records_and_reopens_its_precision(runs: dict[str, RunResult]) -> None:
    out = runs["bfloat16"].out
    recorded = json.loads((out / CONFIG).read_text(encoding="utf-8"))["settings"]
    assert (recorded["precision"], recorded["matmul_precision"]) == ("bfloat16", "highest")
    reopened = load_run(Path(out))
    assert (reopened.settings.precision, reopened.settings.matmul_precision) == (
        "bfloat16", "highest")
    for a, b in zip(jax.tree.leaves(reopened.params), jax.tree.leaves(runs["bfloat16"].params),
                    strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_array_equal(a, b)
