"""Applying a trained manipulator: finding get and put, editing .npz and PNG inputs, strength,
refined editors, and the errors of ``taskdsl manipulate``.

The tiny run here refines ``put`` into a latent shift, so applying it runs a
diagram of three learners rather than one net.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taskdsl import load
from taskdsl.backends.jax.commands import evaluate as eval_cli
from taskdsl.backends.jax.evaluation.errors import EvalError
from taskdsl.backends.jax.evaluation.evaluate import INTERPOLATION_FILE, draw
from taskdsl.backends.jax.evaluation.manipulate import find_manipulator, manipulate, read_images
from taskdsl.backends.jax.training.runs import load_run
from taskdsl.backends.jax.training.train import train

LATENT = """
type Img = Real[8, 8, 3]
type Colour = Class[6]
type Shape = Class[4]
data sprites : -> Img, Shape, Colour
random colour : -> Colour ~ uniform
learner colour_of : Img -> Colour
learner shape_of : Img -> Shape
learner recolour : Img, Colour -> Img
learner enc : Img -> Real[8]
learner dec : Real[8] -> Img
learner shift : Colour -> Real[8]

refine recolour(x, a) = dec(add(enc(x), shift(a)))

task classify:
    x, _, y <- sprites
    colour_of(x) = y

task shapes:
    x, s, _ <- sprites
    shape_of(x) = s

task get_put:
    x, _, _ <- sprites
    recolour(x, colour_of(x)) = x   trains recolour

objective all = classify + shapes + get_put

impl colour_of = nets.mlp(width = 16, depth = 1)
impl shape_of = nets.mlp(width = 8, depth = 1)
impl enc = nets.mlp(width = 16, depth = 1)
impl dec = nets.mlp(width = 16, depth = 1)
impl shift = nets.mlp(width = 8, depth = 1)

train all:
    data sprites = datasets.sprites(n = 128, size = 8, fields = ["image", "shape", "colour"])
    batch 8
    steps 2
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("latent")
    (folder / "latent.task").write_text(LATENT)
    train(load(folder / "latent.task"), None, (), folder / "run", progress=False)
    return folder / "run"


@pytest.fixture(scope="module")
def manipulator(run_dir):
    return find_manipulator(load_run(run_dir))


def test_finds_the_pair_by_type_and_the_labelled_source(manipulator):
    assert (manipulator.get, manipulator.put) == ("colour_of", "recolour")
    assert manipulator.refined and manipulator.classes == 6
    assert manipulator.fields == ("image", "colour")
    assert manipulator.class_names[:2] == ("red", "green")
    assert manipulator.class_index("blue") == 2 == manipulator.class_index("2")


def test_strength_zero_asks_for_what_get_reads(manipulator):
    states = manipulator.labelled("test", 5).dataset.fields["image"]
    unchanged = manipulator.put_distribution(states, manipulator.read(states))
    np.testing.assert_allclose(manipulator.edit(states, np.zeros(5, int), 0.0), unchanged,
                               atol=1e-6)
    assert not np.allclose(manipulator.edit(states, np.zeros(5, int), 1.0), unchanged)


def test_refined_editors_get_an_interpolation_picture(manipulator, tmp_path):
    dataset = manipulator.labelled("test", 12).dataset
    written = draw(manipulator, dataset, tmp_path)
    assert [p.name for p in written] == ["grid.png", INTERPOLATION_FILE]
    assert Image.open(tmp_path / INTERPOLATION_FILE).size[0] > Image.open(
        tmp_path / "grid.png").size[0] / 2


def test_manipulate_npz(run_dir, manipulator, tmp_path):
    images = manipulator.labelled("test", 3).dataset.fields["image"]
    np.savez(tmp_path / "in.npz", images=images)
    out = manipulate(run_dir, tmp_path / "in.npz", "cyan")
    assert out == tmp_path / "in_to_cyan.npz"
    with np.load(out) as edits:
        assert edits["images"].shape == images.shape


def test_manipulate_png_with_uint8_and_strength(run_dir, manipulator, tmp_path):
    image = (manipulator.labelled("test", 1).dataset.fields["image"][0] * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "one.png")
    out = manipulate(run_dir, tmp_path / "one.png", "4", tmp_path / "edit.png", strength=0.5)
    assert Image.open(out).size == (8, 8)
    np.testing.assert_allclose(read_images(tmp_path / "one.png", manipulator.state)[0],
                               image / 255, atol=1e-6)


def test_transfer_is_put_of_what_get_reads_on_the_donor(manipulator):
    images = manipulator.labelled("test", 4).dataset.fields["image"]
    states, donors = images[:2], images[2:]
    np.testing.assert_allclose(manipulator.transfer(states, donors),
                               manipulator.put_distribution(states, manipulator.read(donors)),
                               rtol=1e-6)
    one_for_all = manipulator.transfer(states, donors[:1])
    np.testing.assert_allclose(one_for_all, manipulator.transfer(states, donors[[0, 0]]), rtol=1e-6)
    assert not np.allclose(one_for_all, manipulator.transfer(states, donors[1:]))


def test_manipulate_like_a_donor_file(run_dir, manipulator, tmp_path):
    images = manipulator.labelled("test", 3).dataset.fields["image"]
    np.savez(tmp_path / "in.npz", images=images)
    np.savez(tmp_path / "donor.npz", images=images[2:])
    out = manipulate(run_dir, tmp_path / "in.npz", like=tmp_path / "donor.npz")
    assert out == tmp_path / "in_like_donor.npz"
    with np.load(out) as edits:
        np.testing.assert_allclose(edits["images"], manipulator.transfer(images, images[2:]),
                                   rtol=1e-6)


def test_manipulate_needs_exactly_one_of_to_and_like(run_dir, png):
    with pytest.raises(EvalError, match="either --to CLASS or --like FILE"):
        manipulate(run_dir, png)
    with pytest.raises(EvalError, match="either --to CLASS or --like FILE"):
        manipulate(run_dir, png, "red", like=png)


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    eval_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def png(tmp_path) -> Path:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "black.png")
    return tmp_path / "black.png"


def test_cli_writes_the_edit(run_dir, png, capsys):
    assert run_cli("manipulate", str(run_dir), "--input", str(png), "--to", "red") == 0
    assert "black_to_red.png" in capsys.readouterr().out
    assert run_cli("manipulate", str(run_dir), "--input", str(png), "--like", str(png)) == 0
    assert "black_like_black.png" in capsys.readouterr().out


def test_cli_like_with_the_wrong_number_of_donors(run_dir, png, tmp_path, capsys):
    np.savez(tmp_path / "two.npz", images=np.zeros((2, 8, 8, 3), np.float32))
    np.savez(tmp_path / "three.npz", images=np.zeros((3, 8, 8, 3), np.float32))
    code = run_cli("manipulate", str(run_dir), "--input", str(tmp_path / "three.npz"),
                   "--like", str(tmp_path / "two.npz"))
    err = capsys.readouterr().err
    assert code == 1
    assert "holds 2 inputs to take the attribute from; give one" in err and "Traceback" not in err


@pytest.mark.parametrize(("case", "expected"), [
    ("unknown class", "unknown class `bleu` (did you mean `blue`?)"),
    ("missing run", "no run folder"),
    ("wrong size", "holds images of shape (16, 16, 3), but the manipulator edits (8, 8, 3)"),
    ("no images array", "has no `images` array; it holds `pixels`"),
    ("missing input", "no input file"),
    ("strength", "--strength must be between 0 and 1"),
    ("text for images", "give a .png image or a .npz file"),
])
def test_cli_errors_are_one_message(case, expected, run_dir, png, tmp_path, capsys):
    args = {"run": str(run_dir), "input": str(png), "to": "blue", "extra": []}
    if case == "unknown class":
        args["to"] = "bleu"
    elif case == "missing run":
        args["run"] = str(tmp_path / "nowhere")
    elif case == "wrong size":
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "big.png")
        args["input"] = str(tmp_path / "big.png")
    elif case == "no images array":
        np.savez(tmp_path / "bad.npz", pixels=np.zeros(3))
        args["input"] = str(tmp_path / "bad.npz")
    elif case == "missing input":
        args["input"] = str(tmp_path / "none.png")
    elif case == "strength":
        args["extra"] = ["--strength", "1.5"]
    elif case == "text for images":
        (tmp_path / "s.txt").write_text("a sentence\n")
        args["input"] = str(tmp_path / "s.txt")
    code = run_cli("manipulate", args["run"], "--input", args["input"], "--to", args["to"],
                   *args["extra"])
    err = capsys.readouterr().err
    assert code == 1
    assert expected in err and "Traceback" not in err
