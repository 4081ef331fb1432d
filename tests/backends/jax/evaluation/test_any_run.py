"""Any trained run is usable: ``eval`` measures every objective, ``predict`` applies a learner
to a file, ``sample`` draws from a decoder, and an image folder's class names show.

One tiny run (a classifier and a VAE on three digit classes written as an image folder,
one sub-folder per class) is trained once for the module: a few steps, whose figures are
pinned against direct computations, not against fixed numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taskdsl import load
from taskdsl.backends.jax.commands import evaluate as eval_cli
from taskdsl.backends.jax.commands import predict as predict_cli
from taskdsl.backends.jax.data import load as load_data
from taskdsl.backends.jax.evaluation.evaluate import EVAL_FILE, evaluate
from taskdsl.backends.jax.evaluation.sample import generators
from taskdsl.backends.jax.training.runs import CLASS_NAMES, CONFIG, load_run
from taskdsl.backends.jax.training.train import train

pytestmark = pytest.mark.slow  # one training (~20 s on two busy cores); test_run_parts.py is fast

NAMES = ("one", "two", "zero")  # sorted, as the folder's classes are
PER_CLASS = 60

TASK = """
import vae from stdlib

type Image = Real[8, 8, 1]
type Digit = Class[3]

data pics : -> Image, Digit
const prior : -> Gaussian[4] = 0
learner classify : Image -> Digit
learner enc : Image -> Gaussian[4]
learner dec : Real[4] -> Image

task label:
    x, y <- pics
    classify(x) = y

use vae(encoder = enc, decoder = dec, data = pics, prior = prior)

objective all = label + reconstruct + 0.01 * regularise

impl classify = nets.mlp(width = 16, depth = 1)
impl enc = nets.mlp(width = 8, depth = 1)
impl dec = nets.mlp(width = 8, depth = 1)

train all:
    data pics = datasets.images(path = "{folder}", split = "train")
    batch 12
    steps 6
    optimizer adam(lr = 1e-2)
    seed 0
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Digits 0, 1 and 2 as 8x8 grey PNGs, in sub-folders named by word."""
    root = tmp_path_factory.mktemp("pics")
    digits = load_data("digits", split="train")
    for digit, name in ((0, "zero"), (1, "one"), (2, "two")):
        (root / name).mkdir()
        images = digits.fields["image"][digits.fields["label"] == digit][:PER_CLASS]
        for i, image in enumerate(images):
            Image.fromarray((image[..., 0] * 255).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def run_dir(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("any_run")
    (where / "all.task").write_text(TASK.format(folder=folder), encoding="utf-8")
    train(load(where / "all.task"), None, (), where / "run", progress=False)
    return where / "run"


@pytest.fixture(scope="module")
def held_out(folder: Path):
    return load_data("images", path=str(folder), split="test")


@pytest.fixture(scope="module")
def report(run_dir: Path) -> dict:
    return evaluate(run_dir, n=1000)


def cli(module, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


# -- eval ------------------------------------------------------------------------------


def test_eval_accuracy_matches_a_direct_computation(run_dir, report, held_out):
    images, labels = held_out.fields["image"], held_out.fields["label"]
    assert report["examples"] == len(labels)  # whole batches: every held-out example once
    predicted = load_run(run_dir).call("classify", images)[0].argmax(-1)
    assert report["metrics"]["accuracy/label"] == pytest.approx(np.mean(predicted == labels),
                                                                abs=1e-6)
    by_class = report["by_class"]["accuracy/label"]
    assert set(by_class) == set(NAMES)
    for index, name in enumerate(NAMES):
        assert by_class[name] == pytest.approx(np.mean(predicted[labels == index] == index),
                                               abs=1e-6)


def test_eval_of_a_vae_reports_neg_elbo_as_the_sum_of_its_tasks(report):
    tasks = report["tasks"]
    assert set(report["elbo_tasks"]) == {"reconstruct", "regularise"}
    assert report["neg_elbo"] == pytest.approx(tasks["reconstruct"] + tasks["regularise"])
    weighted = sum(report["weights"][t] * v for t, v in tasks.items())
    assert report["total"] == pytest.approx(weighted, rel=1e-5)
    assert report["metrics"]["mse/reconstruct"] == pytest.approx(tasks["reconstruct"], rel=1e-5)


def test_eval_json_records_the_class_names(run_dir, report):
    written = json.loads((run_dir / EVAL_FILE).read_text())
    assert written == json.loads(json.dumps(report))
    assert written["class_names"] == {"pics/1": list(NAMES)}


def test_eval_command_prints_the_table_with_class_names(run_dir, capsys):
    assert cli(eval_cli, "eval", str(run_dir), "-n", "24") == 0
    out = capsys.readouterr().out
    for word in ("accuracy/label", "-ELBO", "zero", "regularise"):
        assert word in out


# -- predict ---------------------------------------------------------------------------


def test_predict_equals_run_call_and_names_the_classes(run_dir, held_out, tmp_path):
    images = held_out.fields["image"][:7]
    np.savez(tmp_path / "in.npz", Image=images)
    out = tmp_path / "out.npz"
    assert cli(predict_cli, "predict", str(run_dir), "classify", "--input",
               str(tmp_path / "in.npz"), "-o", str(out)) == 0
    with np.load(out) as found:
        expected = load_run(run_dir).call("classify", images)[0]
        np.testing.assert_allclose(found["Digit"], expected, rtol=1e-5, atol=1e-6)
        assert list(found["Digit_name"]) == [NAMES[i] for i in expected.argmax(-1)]


def test_predict_draws_image_outputs(run_dir, tmp_path):
    np.savez(tmp_path / "z.npz", x0=np.zeros((3, 4), np.float32))
    assert cli(predict_cli, "predict", str(run_dir), "dec", "--input",
               str(tmp_path / "z.npz")) == 0
    with np.load(tmp_path / "z_dec.npz") as found:
        assert found["Image"].shape == (3, 8, 8, 1)
    assert (tmp_path / "z_dec.png").is_file()


@pytest.mark.parametrize(("arrays", "words"), [
    ({"Image": np.zeros((2, 4, 8, 1))}, ["predict-input-shape", "(N, 8, 8, 1)"]),
    ({"a": np.zeros((2, 8, 8, 1)), "b": np.zeros(2)}, ["predict-input-missing", "`Image`"]),
    ({"Image": np.array(["a", "b"])}, ["predict-input-shape", "<U1"]),
])
def test_predict_refuses_inputs_that_do_not_fit(run_dir, tmp_path, capsys, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    assert cli(predict_cli, "predict", str(run_dir), "classify", "--input",
               str(tmp_path / "bad.npz")) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(w in err for w in words), err


def test_predict_never_overwrites_its_input(run_dir, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", Image=np.zeros((1, 8, 8, 1)))
    before = (tmp_path / "in.npz").read_bytes()
    assert cli(predict_cli, "predict", str(run_dir), "classify", "--input",
               str(tmp_path / "in.npz"), "-o", str(tmp_path / "in.npz"), "--force") == 2
    assert (tmp_path / "in.npz").read_bytes() == before
    assert "overwrite" in capsys.readouterr().err


def test_predict_of_an_unknown_learner_lists_them(run_dir, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", Image=np.zeros((1, 8, 8, 1)))
    assert cli(predict_cli, "predict", str(run_dir), "nope", "--input",
               str(tmp_path / "in.npz")) == 1
    assert "`classify`" in capsys.readouterr().err


# -- sample ----------------------------------------------------------------------------


def test_the_decoder_is_the_only_generator(run_dir):
    assert generators(load_run(run_dir)) == ("dec",)


def test_sample_gives_n_outputs_that_differ_across_seeds(run_dir, tmp_path):
    def drawn(seed: int, name: str) -> np.ndarray:
        out = tmp_path / f"{name}.npz"
        assert cli(predict_cli, "sample", str(run_dir), "-n", "5", "--seed", str(seed),
                   "-o", str(out)) == 0
        with np.load(out) as found:
            assert found["z0"].shape == (5, 4)
            return found["Image"]

    first, again, other = drawn(0, "a"), drawn(0, "b"), drawn(1, "c")
    assert first.shape == (5, 8, 8, 1)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert (tmp_path / "a.png").is_file()


def test_sample_of_a_box_no_source_feeds_is_one_message(run_dir, capsys):
    assert cli(predict_cli, "sample", str(run_dir), "classify") == 1
    err = capsys.readouterr().err
    assert "cannot be sampled" in err and "`dec`" in err and "Traceback" not in err


def test_config_records_the_class_names_at_training(run_dir):
    """``train`` writes each source's class names into config.json, one entry per
    output (the image has none): the folder's sub-folders, sorted."""
    recorded = json.loads((run_dir / CONFIG).read_text())[CLASS_NAMES]
    assert recorded == {"pics": [None, list(NAMES)]}


def test_a_reopened_run_names_its_classes_as_config_recorded(run_dir, tmp_path):
    """The names come from config.json, not from the data set read again: recorded
    names that differ from the folder's are the ones a reopened run gives."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = json.loads((copy / CONFIG).read_text())
    config[CLASS_NAMES] = {"pics": [None, ["a", "b", "c"]]}  # not the folder's: read back
    (copy / CONFIG).write_text(json.dumps(config))
    assert load_run(copy).class_names("pics", 1) == ("a", "b", "c")
