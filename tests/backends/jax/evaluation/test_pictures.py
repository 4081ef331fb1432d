"""Pictures go into run folders as every run file does: whole or not at all, never through
a symbolic link someone planted there, in the format their suffix names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taskdsl.backends.jax.evaluation import pictures
from taskdsl.backends.jax.training.errors import RunFileError

IMAGES = np.linspace(0, 1, 2 * 8 * 8 * 1, dtype=np.float32).reshape(2, 8, 8, 1)


def test_a_row_is_written_whole_as_a_png(tmp_path: Path) -> None:
    path = pictures.save_row(tmp_path / "row.png", IMAGES)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 16
    assert [p.name for p in tmp_path.iterdir()] == ["row.png"]  # no temporary left


def test_one_image_keeps_its_size_and_its_pixels(tmp_path: Path) -> None:
    path = pictures.save_row(tmp_path / "one.png", IMAGES[:1])
    with Image.open(path) as image:
        assert image.size == (8, 8)
        assert np.array_equal(np.asarray(image), pictures.to_uint8(IMAGES[0]))


def test_a_planted_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("mine", encoding="utf-8")
    (tmp_path / "grid.png").symlink_to(target)
    with pytest.raises(RunFileError):
        pictures.save_columns(tmp_path / "grid.png", [IMAGES, IMAGES])
    assert target.read_text(encoding="utf-8") == "mine"
