"""The parts of ``eval``/``predict``/``sample`` that need no trained run (fast): which figure
fits which equation, the VAE pattern's tasks, class names of each data set, the checks of
predict's input arrays, and which sources feed a generator.  ``test_any_run.py`` (slow)
trains a run and pins the figures against direct computations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from taskdsl import load
from taskdsl.backends.jax.data import Dataset, load_csv, load_images
from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.evaluation.evaluate import ACCURACY, MSE, measured, vae_tasks
from taskdsl.backends.jax.evaluation.predict import fitted
from taskdsl.backends.jax.evaluation.sample import feeder
from taskdsl.backends.jax.lowering.lower import lower
from taskdsl.backends.jax.training.feed import class_names_of
from taskdsl.types import WireType

TASK = """
import vae from stdlib

type Image = Real[8, 8, 1]
data digits : -> Image, Class[10]
const prior : -> Gaussian[4] = 0
random pick : -> Class[10] ~ uniform
learner classify : Image -> Class[10]
learner enc : Image -> Gaussian[4]
learner dec : Real[4] -> Image
learner paint : Class[10] -> Image

task label:
    x, y <- digits
    classify(x) = y

task draw:
    x, y <- digits
    paint(y) = x

use vae(encoder = enc, decoder = dec, data = digits, prior = prior)

objective all = label + draw + reconstruct + 0.01 * regularise

impl classify = nets.mlp(width = 4, depth = 1)
impl enc = nets.mlp(width = 4, depth = 1)
impl dec = nets.mlp(width = 4, depth = 1)
impl paint = nets.mlp(width = 4, depth = 1)
"""


@pytest.fixture(scope="module")
def lowered(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("parts") / "all.task"
    path.write_text(TASK, encoding="utf-8")
    program = load(path)
    return program, lower(program, "all")


def test_each_equation_gets_the_figure_its_wires_fit(lowered):
    _, low = lowered
    found = {(m.figure, m.task): m for m in measured(low._eval_plans())}
    assert set(found) == {(ACCURACY, "label"), (MSE, "draw"), (MSE, "reconstruct")}
    accuracy = found[(ACCURACY, "label")]
    assert accuracy.truth == ("digits", 1) and not accuracy.truth_is_lhs
    assert accuracy.classes == 10


def test_the_vae_pattern_is_found_by_its_kl_and_its_sample(lowered):
    _, low = lowered
    assert set(vae_tasks(low._eval_plans())) == {"reconstruct", "regularise"}
    without = tuple(p for p in low._eval_plans() if p.name != "regularise")
    assert vae_tasks(without) == ()


def test_sources_feed_generators_by_type_and_a_prior_through_sample(lowered):
    program, _ = lowered
    run = SimpleNamespace(program=program)
    real4, image = WireType("Real", (4,)), WireType("Real", (8, 8, 1))
    assert feeder(run, real4).source.name == "prior" and feeder(run, real4).sampled
    assert feeder(run, WireType("Class", (10,))).source.name == "pick"
    assert feeder(run, image) is None


# -- class names -------------------------------------------------------------------------


def test_an_image_folder_names_its_classes_by_sub_folder(tmp_path: Path):
    for name in ("dog", "cat"):
        (tmp_path / name).mkdir()
        Image.new("L", (4, 4)).save(tmp_path / name / "a.png")
    dataset = load_images(path=str(tmp_path))
    assert class_names_of(dataset, "label") == ("cat", "dog")
    assert class_names_of(dataset, "image") is None


def test_a_csv_names_each_label_column(tmp_path: Path):
    (tmp_path / "t.csv").write_text("x,kind\n1.0,b\n2.0,a\n3.0,b\n", encoding="utf-8")
    dataset = load_csv(path=str(tmp_path / "t.csv"), labels=["kind"])
    assert class_names_of(dataset, "kind") == ("a", "b")


def test_numbers_name_classes_when_nothing_else_does():
    dataset = Dataset("digits", {"label": np.arange(3)}, {"label": 3})
    assert class_names_of(dataset, "label") is None
    wrong = Dataset("images", {"label": np.arange(3)}, {"label": 3}, {"class_names": ["a"]})
    assert class_names_of(wrong, "label") is None  # names that do not fit are not used


# -- predict's inputs --------------------------------------------------------------------

IMAGE = WireType("Real", (8, 8, 1))
DIGIT = WireType("Class", (10,))


@given(st.integers(min_value=1, max_value=5))
def test_fitting_arrays_pass_and_uint8_images_are_scaled(n: int):
    images = np.full((n, 8, 8, 1), 255, np.uint8)
    assert fitted(Path("f.npz"), "x", images, IMAGE, "f", 1).max() == pytest.approx(1.0)
    labels = np.arange(n, dtype=np.int64) % 10
    np.testing.assert_array_equal(fitted(Path("f.npz"), "y", labels, DIGIT, "f", 1), labels)


@pytest.mark.parametrize(("array", "wire", "words"), [
    (np.zeros((2, 8, 8)), IMAGE, "(N, 8, 8, 1) numbers"),
    (np.zeros((2, 8, 8, 3)), IMAGE, "(N, 8, 8, 1) numbers"),
    (np.array([0, 10]), DIGIT, "class indices 0..9"),
    (np.zeros((2, 9)), DIGIT, "(N) class indices"),
    (np.array(["a", "b"]), IMAGE, "<U1"),
])
def test_arrays_that_do_not_fit_are_refused_with_the_expected_shape(array, wire, words):
    with pytest.raises(EvalError) as caught:
        fitted(Path("in.npz"), "x", array, wire, "f", 2)
    assert caught.value.code == "predict-input-shape"
    assert "in.npz" in str(caught.value) and "input 2 of `f`" in str(caught.value)
    assert words in str(caught.value)


def test_registering_predict_and_sample_does_not_import_jax():
    code = ("import sys, argparse; from taskdsl.backends.jax.commands import predict; "
            "predict.register(argparse.ArgumentParser().add_subparsers()); "
            "assert 'jax' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
