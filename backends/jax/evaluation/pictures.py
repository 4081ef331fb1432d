"""Pictures of edits, drawn with Pillow: grids with column headers, and rows of images.

Images are float arrays (H, W, C) in [0, 1], C = 1 or 3.  Small images are
enlarged by a whole factor with nearest-neighbour sampling, so that a 32x32
sprite stays crisp and every pixel of an edit can be seen.  Cells sit on a grey
ground with a gap, so black backgrounds of neighbouring images stay apart.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from taskdsl.types import WireType

from ..training.files import write_bytes

CELL = 64
"""Images smaller than this many pixels a side are enlarged to about this size."""
GAP = 4
HEADER = 16
GROUND = (96, 96, 96)
INK = (255, 255, 255)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """One image (H, W, C) in [0, 1] as RGB bytes (H, W, 3)."""
    image = np.clip(np.nan_to_num(np.asarray(image, np.float32)), 0.0, 1.0)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.round(image * 255).astype(np.uint8)


def enlarged(image: np.ndarray) -> Image.Image:
    """One image as a Pillow picture, enlarged by a whole factor to about ``CELL`` pixels."""
    picture = Image.fromarray(to_uint8(image))
    factor = max(1, CELL // max(picture.size))
    return picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)


def grid(rows: Sequence[Sequence[np.ndarray]], headers: Sequence[str] = ()) -> Image.Image:
    """A table of images: ``rows[i][j]`` in row i, column j, under optional column headers."""
    cells = [[enlarged(image) for image in row] for row in rows]
    width = max(c.width for row in cells for c in row)
    height = max(c.height for row in cells for c in row)
    columns = max(len(row) for row in cells)
    top = HEADER if headers else 0
    size = (GAP + columns * (width + GAP), top + GAP + len(cells) * (height + GAP))
    picture = Image.new("RGB", size, GROUND)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default()
    for j, header in enumerate(headers):
        draw.text((GAP + j * (width + GAP), 2), header[: max(1, width // 6)], fill=INK, font=font)
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            picture.paste(cell, (GAP + j * (width + GAP), top + GAP + i * (height + GAP)))
    return picture


def save_columns(path: str | Path, columns: Sequence[np.ndarray],
                 headers: Sequence[str] = ()) -> Path:
    """A grid from its columns, each a batch of images (N, H, W, C) with the same N."""
    return _save(path, grid([list(row) for row in zip(*columns, strict=True)], headers))


def save_row(path: str | Path, images: np.ndarray) -> Path:
    """One image at its own size, or several side by side (enlarged, on the grid's ground)."""
    if len(images) == 1:
        return _save(path, Image.fromarray(to_uint8(images[0])))
    return _save(path, grid([list(images)]))


def _save(path: str | Path, picture: Image.Image) -> Path:
    """``picture`` written atomically, never through a symbolic link, in the format its
    suffix names (``files.write_bytes``)."""
    path = Path(path)
    buffer = io.BytesIO()
    picture.save(buffer, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return write_bytes(path, buffer.getvalue())


def is_drawable(wire: WireType) -> bool:
    """A wire whose values are pictures: ``Real`` or ``Binary`` ``[H, W, 1]`` or ``[H, W, 3]``."""
    return wire.kind in ("Real", "Binary") and len(wire.shape) == 3 and wire.shape[-1] in (1, 3)


def learner_picture(output: np.ndarray, wire: WireType) -> np.ndarray:
    """A learner's image output as the picture of what its wire carries, in [0, 1] for
    :func:`to_uint8`: a ``Binary`` image's logits as its pixels' probabilities (the
    sigmoid, a grey level per pixel rather than one coin flip), a ``Real`` image as is."""
    array = np.asarray(output, np.float32)
    if wire.kind == "Binary":
        return 0.5 * (1.0 + np.tanh(0.5 * array))  # the sigmoid, without overflow
    return array
