"""Objectives trained on a researcher's own data (issue 12): a user's ``.npz`` file and a
folder of images, each checked (against the wires, at the ``data`` line), formatted,
explained as the textbook writes it, and trained through the command line in a project
folder holding the data, its loss falling below a stated share of its start."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import taskdsl
from taskdsl import cli
from taskdsl.backends.jax.check import check_program
from taskdsl.explain import explain
from taskdsl.fmt import format_text

HERE = Path(__file__).parent
EXPLAINED = {
    "own_npz": "fit: E[(x, y)~points] CE(classify(x), y)   trains: classify",
    "own_images": "fit: E[(x, y)~shapes] CE(recognise(x), y)   trains: recognise",
}
SHARE = 0.6
"""Each run's last logged loss must be below this share of its first."""


def write_points(folder: Path, classes: int = 3, n: int = 300) -> None:
    """Three Gaussian blobs in the plane, a fifth of the rows marked ``test``."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, classes, n)
    centres = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0], [0.0, 0.0]])[:classes]
    point = centres[label] + 0.5 * rng.standard_normal((n, 2))
    part = np.where(np.arange(n) % 5 == 0, "test", "train")
    np.savez(folder / "points.npz", point=point, label=label, part=part)


def write_shapes(folder: Path, per_class: int = 12) -> None:
    """Pictures of circles, squares and triangles at random places and sizes."""
    rng = np.random.default_rng(1)
    for name in ("circle", "square", "triangle"):
        (folder / "shapes" / name).mkdir(parents=True)
        for k in range(per_class):
            picture = Image.new("L", (24, 24))
            draw = ImageDraw.Draw(picture)
            r, (cx, cy) = rng.integers(5, 8), rng.integers(9, 15, 2)
            box = (cx - r, cy - r, cx + r, cy + r)
            if name == "circle":
                draw.ellipse(box, fill=255)
            elif name == "square":
                draw.rectangle(box, fill=255)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=255)
            picture.save(folder / "shapes" / name / f"{k}.png")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A researcher's working folder: the data the task files name, by relative path."""
    write_points(tmp_path)
    write_shapes(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(EXPLAINED))
def test_each_file_checks_formats_and_explains(project: Path, name: str) -> None:
    path = HERE / f"{name}.task"
    result = taskdsl.check_file(path)
    assert result.ok, result.render()
    assert check_program(result.program, training=True) == []
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text
    assert EXPLAINED[name] in explain(result.program)


@pytest.mark.parametrize(("name", "damage"), [
    ("own_npz", lambda folder: write_points(folder, classes=4)),
    ("own_images", lambda folder: (folder / "shapes" / "star").mkdir() or
     (folder / "shapes" / "circle" / "0.png").rename(folder / "shapes" / "star" / "0.png")),
])
def test_data_of_another_class_count_is_an_error_at_the_data_line(
        project: Path, name: str, damage) -> None:
    damage(project)
    result = taskdsl.check_file(HERE / f"{name}.task")
    found = check_program(result.program, training=True)
    assert [p.code for p in found] == ["data-field-classes"]
    line = next(i for i, text in enumerate(
        (HERE / f"{name}.task").read_text(encoding="utf-8").splitlines(), 1) if " data " in text)
    assert found[0].span is not None and found[0].span.line == line
    assert "4 classes, but the wire has 3" in found[0].message


@pytest.mark.parametrize("name", sorted(EXPLAINED))
def test_training_on_own_data_lowers_the_loss(project: Path, name: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "run"
    code = cli.main(["train", str(HERE / f"{name}.task"), "--quiet", "--set", "log_every=5",
                     "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    losses = [json.loads(line)["loss"] for line in lines]
    assert losses[-1] < SHARE * losses[0], losses
