"""Inference is reproducible from its seed: ``drop`` is off, ``sample`` draws fresh noise.

The tiny editor here is a sampling one with dropout inside (``recolour(x, a) =
dec(sample(enc(drop[0.5](x))), a)``): at inference ``drop`` is the identity and
``sample`` draws from the run's seed, one fresh key per call, so

* ``taskdsl manipulate`` with the same ``--seed`` writes the same edits, another seed
  other edits;
* ``taskdsl eval`` with the same ``--seed`` gives the same figures, and records the seed;
* two calls of the editor in one evaluation (the two ``put``s of the undo law) draw
  different noise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from taskdsl import load
from taskdsl.backends.jax.commands import evaluate as eval_cli
from taskdsl.backends.jax.evaluation.evaluate import EVAL_FILE, evaluate
from taskdsl.backends.jax.lowering.builtins import sample
from taskdsl.backends.jax.training.runs import load_run
from taskdsl.backends.jax.training.train import train

SAMPLING = """
type Img = Real[8, 8, 3]
type Colour = Class[6]
data sprites : -> Img, Colour
random colour : -> Colour ~ uniform
learner get : Img -> Colour
learner put : Img, Colour -> Img
learner enc : Img -> Gaussian[4]
learner dec : Real[4], Colour -> Img

refine put(x, a) = dec(sample(enc(drop[0.5](x))), a)

task classify:
    x, y <- sprites
    get(x) = y                      trains get

task get_put:
    x, _ <- sprites
    put(x, get(x)) = x              trains put

objective manipulate = classify + get_put

impl get = nets.mlp(width = 8, depth = 1)
impl enc = nets.mlp(width = 8, depth = 1)
impl dec = nets.mlp(width = 8, depth = 1)

train manipulate:
    data sprites = datasets.sprites(n = 64, size = 8, fields = ["image", "colour"])
    batch 4
    steps 2
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sampling")
    (folder / "sampling.task").write_text(SAMPLING)
    train(load(folder / "sampling.task"), None, (), folder / "run", progress=False)
    return folder / "run"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "in.npz"
    np.savez(path, images=np.random.default_rng(0).random((3, 8, 8, 3), dtype=np.float32))
    return path


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    eval_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def edits(run_dir: Path, images: Path, out: Path, seed: str) -> np.ndarray:
    assert run_cli("manipulate", str(run_dir), "--input", str(images), "--to", "1",
                   "-o", str(out), "--seed", seed) == 0
    return np.load(out)["images"]


def test_manipulate_is_reproducible_from_its_seed(run_dir: Path, images: Path,
                                                  tmp_path: Path) -> None:
    first = edits(run_dir, images, tmp_path / "a.npz", "3")
    np.testing.assert_array_equal(edits(run_dir, images, tmp_path / "b.npz", "3"), first)
    assert not np.allclose(edits(run_dir, images, tmp_path / "c.npz", "4"), first)


def test_the_editors_calls_draw_different_noise_and_drop_nothing(run_dir: Path) -> None:
    run = load_run(run_dir, seed=5)
    x = np.random.default_rng(1).random((4, 8, 8, 3), dtype=np.float32)
    a = np.eye(6, dtype=np.float32)[[0, 1, 2, 3]]
    first, second = run.call("put", x, a)[0], run.call("put", x, a)[0]
    assert not np.allclose(first, second)  # fresh noise per call
    again = load_run(run_dir, seed=5)
    np.testing.assert_array_equal(again.call("put", x, a)[0], first)
    # With the key given, the edit is dec(sample(enc(x)), a) on the whole x: no dropout.
    diagram = run.program.refinements["put"]
    box = next(b for b in diagram.boxes if b.name == "sample")
    chunk = jax.random.fold_in(jax.random.key(7), 0)  # the first chunk's key
    (code,) = run.lowered.apply("enc", run.params, x)
    (expected,) = run.lowered.apply("dec", run.params, sample(jax.random.fold_in(chunk, box.id),
                                                               code), a)
    np.testing.assert_allclose(run.call("put", x, a, key=jax.random.key(7))[0], expected,
                               rtol=1e-5, atol=1e-6)


def test_eval_is_reproducible_from_its_seed_and_records_it(run_dir: Path,
                                                           tmp_path: Path) -> None:
    results = [evaluate(run_dir, n=12, out=tmp_path / name, judge_steps=2, progress=False,
                        seed=seed, realism_steps=10) for name, seed in (("a", 2), ("b", 2))]
    assert results[0]["seed"] == 2
    assert json.loads((tmp_path / "a" / EVAL_FILE).read_text())["seed"] == 2
    assert results[0]["figures"] == results[1]["figures"]
    assert results[0]["realism"] == results[1]["realism"]  # the split and tests are seeded
