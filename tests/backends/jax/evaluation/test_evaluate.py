"""Judging manipulators: the metric definitions, pinned with hand-made editors and judges,
then ``evaluate`` and ``taskdsl eval`` on a tiny trained run.

An *identity* editor (returns its input) must score no attribute success; an
*oracle* editor (returns the true counterfactual: the lit pixels re-coloured)
must score full success and zero counterfactual error.  The judge here reads
colour and position exactly from the pixels, so these figures are exact.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from taskdsl import load
from taskdsl.backends.jax.commands import evaluate as eval_cli
from taskdsl.backends.jax.data import load as load_data
from taskdsl.backends.jax.data.sprites import BIN_WIDTH, COLOURS, MARGIN, RGB
from taskdsl.backends.jax.evaluation.evaluate import (
    EVAL_FILE,
    GRID_FILE,
    evaluate,
    figures,
    targets_for,
    warnings_for,
)
from taskdsl.backends.jax.training.train import train

CLASSES = len(COLOURS)


def lit(images: np.ndarray) -> np.ndarray:
    return images.max(axis=-1) > 0.5


def read_colour(images: np.ndarray) -> np.ndarray:
    """The colour whose RGB is nearest the mean of the lit pixels."""
    mask = lit(images)[..., None]
    mean = (images * mask).sum((1, 2)) / np.maximum(mask.sum((1, 2)), 1)
    return np.square(mean[:, None, :] - RGB[None]).sum(-1).argmin(-1)


def read_bin(images: np.ndarray, axis: int) -> np.ndarray:
    """The position bin of the lit pixels' bounding-box centre along ``axis`` (1: y, 2: x)."""
    size = images.shape[axis]
    covered = lit(images).any(axis=3 - axis)
    first = covered.argmax(-1)
    last = size - 1 - covered[:, ::-1].argmax(-1)
    centre = (first + last + 1) / 2 / size
    return np.clip(((centre - MARGIN) // BIN_WIDTH).astype(int), 0, 2)


def pixel_judge(images: np.ndarray) -> dict[str, np.ndarray]:
    return {"colour": read_colour(images), "xpos": read_bin(images, 2),
            "ypos": read_bin(images, 1)}


class Identity:
    """Changes nothing; reads the colour exactly."""

    classes = CLASSES

    def read(self, states: np.ndarray) -> np.ndarray:
        return np.eye(CLASSES)[read_colour(states)]

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        return states


class Oracle(Identity):
    """Re-colours the lit pixels: for a colour edit, exactly the re-drawn sprite."""

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        return lit(states)[..., None] * RGB[asked.argmax(-1)][:, None, None, :]


@pytest.fixture(scope="module")
def sprites():
    return load_data("sprites", split="test", n=300)


def test_pixel_judge_reads_the_true_attributes(sprites):
    judged = pixel_judge(sprites.fields["image"])
    for field, labels in judged.items():
        assert (labels == sprites.fields[field]).all(), field


def test_targets_are_uniform_among_the_other_classes():
    labels = np.arange(6000) % CLASSES
    targets = targets_for(labels, CLASSES, seed=3)
    assert (targets != labels).all()
    counts = np.bincount((targets - labels) % CLASSES, minlength=CLASSES)
    assert counts[0] == 0 and counts[1:].min() > 0.9 * counts[1:].max()


def test_identity_editor_has_no_attribute_success(sprites):
    report = figures(Identity(), pixel_judge, sprites, "image", "colour")
    found = report["figures"]
    assert found["attribute_success"] == 0.0
    assert found["training_classifier_success"] == 0.0
    assert found["getput_mse"] == 0.0 and found["undo_mse"] == 0.0
    assert found["kept_attributes"] == 1.0
    assert found["counterfactual_mse"] == pytest.approx(
        report["reference"]["identity_counterfactual_mse"])
    assert found["counterfactual_mse"] > 0.005


def test_oracle_editor_succeeds_with_zero_counterfactual_error(sprites):
    report = figures(Oracle(), pixel_judge, sprites, "image", "colour")
    found = report["figures"]
    assert found["attribute_success"] == 1.0
    assert found["training_classifier_success"] == 1.0
    assert found["counterfactual_mse"] == 0.0
    assert found["getput_mse"] == 0.0 and found["undo_mse"] == 0.0
    assert report["kept_by_attribute"] == {"xpos": 1.0, "ypos": 1.0}
    assert report["judge_accuracy"] == {"colour": 1.0, "xpos": 1.0, "ypos": 1.0}


def test_adversarial_edits_are_called_out():
    report = {"figures": {"training_classifier_success": 0.97, "attribute_success": 0.2},
              "judge_accuracy": {"colour": 0.99}}
    (warning,) = warnings_for(report)
    assert "adversarial" in warning and "97%" in warning and "20%" in warning
    report["figures"]["attribute_success"] = 0.9
    assert warnings_for(report) == []


def test_a_weak_judge_is_called_out():
    report = {"figures": {"training_classifier_success": 0.5, "attribute_success": 0.5},
              "judge_accuracy": {"shape": 0.5}}
    (warning,) = warnings_for(report)
    assert "`shape`" in warning


# -- a tiny trained run --------------------------------------------------------------

TINY = """
type Img = Real[8, 8, 3]
type Colour = Class[6]
data sprites : -> Img, Colour
random colour : -> Colour ~ uniform
learner get : Img -> Colour
learner put : Img, Colour -> Img

task classify:
    x, y <- sprites
    get(x) = y                      trains get

task put_get:
    x, _ <- sprites
    a <- colour
    get(put(x, a)) = a              trains put

task get_put:
    x, _ <- sprites
    put(x, get(x)) = x              trains put

objective manipulate = classify + put_get + 10 * get_put

impl get = nets.mlp(width = 16, depth = 1)
impl put = nets.unet(width = 4, depth = 1)

train manipulate:
    data sprites = datasets.sprites(n = 256, size = 8, fields = ["image", "colour"])
    batch 8
    steps 4
    seed 3
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "tiny.task").write_text(TINY)
    train(load(folder / "tiny.task"), None, (), folder / "run", progress=False)
    return folder / "run"


def test_evaluate_writes_every_figure_in_range(tiny_run):
    result = evaluate(tiny_run, n=40, judge_steps=3, progress=False, realism_steps=20)
    written = json.loads((tiny_run / EVAL_FILE).read_text())
    assert written == json.loads(json.dumps(result))
    assert (tiny_run / GRID_FILE).is_file() and (tiny_run / "judge" / "config.json").is_file()
    found = written["figures"]
    for key in ("attribute_success", "training_classifier_success", "kept_attributes"):
        assert 0.0 <= found[key] <= 1.0, key
    for key in ("getput_mse", "undo_mse", "counterfactual_mse"):
        assert found[key] >= 0.0, key
    assert set(written["kept_by_attribute"]) == {"shape", "scale", "xpos", "ypos"}
    assert set(written["judge_accuracy"]) == {"colour", "shape", "scale", "xpos", "ypos"}
    assert written["judge_net"].startswith("nets.conv_encoder")  # get is an mlp
    assert (written["get"], written["put"], written["n"]) == ("get", "put", 40)
    realism = written["realism"]
    assert 0.0 <= realism["two_sample_accuracy"] <= 1.0 and realism["frechet_distance"] >= 0.0
    assert realism["feature_size"] == 64  # conv_encoder(width = 16): 4 * width features
    assert set(realism["by_class"]) == {"red", "green", "blue", "yellow", "magenta", "cyan"}
    assert set(realism["other_attributes_tv"]) == {"shape", "scale", "xpos", "ypos"}
    assert all(0.0 <= v <= 1.0 for v in realism["other_attributes_tv"].values())


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    eval_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


def test_eval_command_reuses_the_cached_judge(tiny_run, capsys):
    assert run_cli("eval", str(tiny_run), "-n", "20", "--quiet", "--no-realism") == 0
    out = capsys.readouterr().out
    assert "attribute_success" in out and "counterfactual_mse" in out
    assert "two_sample_accuracy" not in out
    assert "realism" not in json.loads((tiny_run / EVAL_FILE).read_text())


def test_eval_out_keeps_a_judgement_apart_from_the_run(tiny_run, tmp_path, capsys):
    before = (tiny_run / EVAL_FILE).read_bytes() if (tiny_run / EVAL_FILE).exists() else None
    out = tmp_path / "another" / "judgement"
    assert run_cli("eval", str(tiny_run), "-n", "20", "--quiet", "--no-realism",
                   "-o", str(out)) == 0
    written = json.loads((out / EVAL_FILE).read_text())
    assert written["n"] == 20 and written["pictures"]
    assert all((out / name).is_file() for name in written["pictures"])
    after = (tiny_run / EVAL_FILE).read_bytes() if (tiny_run / EVAL_FILE).exists() else None
    assert after == before  # the run's own eval.json is not touched
    capsys.readouterr()
    (tmp_path / "a_file").write_text("mine")
    assert run_cli("eval", str(tiny_run), "-n", "20", "--quiet", "-o",
                   str(tmp_path / "a_file")) == 1
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert (tmp_path / "a_file").read_text() == "mine"


def test_eval_of_a_missing_run_is_one_message(tmp_path, capsys):
    assert run_cli("eval", str(tmp_path / "nowhere")) == 1
    err = capsys.readouterr().err
    assert "no run folder" in err and "Traceback" not in err


def test_eval_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert run_cli("eval", str(tmp_path)) == 1
    assert "is not a run folder" in capsys.readouterr().err


def test_a_run_cannot_judge_itself(tiny_run, capsys):
    assert run_cli("eval", str(tiny_run), "--judge", str(tiny_run)) == 1
    assert "trained independently" in capsys.readouterr().err


def test_registering_the_commands_does_not_import_jax():
    code = ("import sys, argparse; from taskdsl.backends.jax.commands import evaluate as eval_cli; "
            "eval_cli.register(argparse.ArgumentParser().add_subparsers()); "
            "assert 'jax' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
