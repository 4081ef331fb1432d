"""A procedural sprite data set: one coloured shape on black, with its exact attributes.

Because the project draws the images itself, it knows the true value of every
attribute and can draw the *true counterfactual* of any edit: the same sprite, same
jitter, with one attribute changed. That is what a manipulator is judged against.

Geometry (all in fractions of the image side, x from the left, y from the top):

- ``position`` (N, 2) is the sprite's centre (x, y). The image's central band
  [MARGIN, 1 - MARGIN] is cut into three bins per axis (``xpos``, ``ypos``); the centre
  lies in the middle half of its bin, so the bins are never ambiguous.
- A sprite's half-extent ``h`` lies within ``SCALE_JITTER`` of ``SCALE_HALF_EXTENT`` for
  its ``scale``. ``area`` (N, 1) is the sprite's exact area as a fraction of the image,
  ``SHAPE_AREA[shape] * (2h)**2``, and :func:`render` reads ``h`` back from it, so the
  stored fields alone determine the image.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import messages
from .base import (
    SPLITS,
    Choice,
    DataError,
    Dataset,
    Description,
    FieldSpec,
    Whole,
    check_choice,
    check_int,
    checked,
)

SHAPES = ("square", "circle", "triangle", "cross")
COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan")
SCALES = ("small", "medium", "large")
XPOS = ("left", "centre", "right")
YPOS = ("top", "middle", "bottom")

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "colour": COLOURS,
    "scale": SCALES,
    "xpos": XPOS,
    "ypos": YPOS,
}
"""The categorical fields and the names of their classes, in field order."""

RGB = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32)
"""The colour of each entry of COLOURS: pure, so any lit pixel is far from black."""

CROSS_ARM = 1 / 3
"""A cross's arm thickness as a share of its width."""

SHAPE_AREA = np.array([1.0, np.pi / 4, 0.5, 2 * CROSS_ARM - CROSS_ARM**2], dtype=np.float32)
"""Each shape's area as a share of its bounding square."""

SCALE_HALF_EXTENT = np.array([0.09, 0.13, 0.17], dtype=np.float32)
SCALE_JITTER = 0.01
MARGIN = 0.19
"""No centre is nearer an edge than this, so even the largest sprite stays inside."""
POSITION_JITTER = 0.25
"""How far a centre may stray from its bin's middle, as a share of the bin's width."""
BIN_WIDTH = (1 - 2 * MARGIN) / 3

DEFAULT_N = {"train": 10_000, "test": 2_000}
GEOMETRY_WIDTH = {"position": 2, "area": 1}
"""The continuous fields and their number of columns."""
RENDER_FIELDS = ("shape", "colour", "position", "area")
"""What :func:`render` needs; the bins are labels of ``position`` and ``area``."""
EDIT_FIELDS = (*ATTRIBUTES, *GEOMETRY_WIDTH)
"""What :func:`edit_attributes` needs: every attribute, categorical or continuous."""
OPTIONS = {
    "split": Choice(SPLITS),
    "n": Whole(1, optional=True),
    "seed": Whole(0),
    "size": Whole(8),
    "colour": Choice(COLOURS, optional=True),
}


def _require(fields: Mapping[str, np.ndarray], keys: tuple[str, ...]) -> None:
    missing = [key for key in keys if key not in fields]
    if missing:
        raise DataError(messages.missing_attributes(missing, keys))


def _labels(field: str, values: object, n: int) -> np.ndarray:
    """``values`` as int32 labels of categorical ``field`` for ``n`` sprites, checked."""
    array = np.asarray(values)
    classes = len(ATTRIBUTES[field])
    if (
        array.shape != (n,)
        or not np.issubdtype(array.dtype, np.integer)
        or (n > 0 and not 0 <= array.min() <= array.max() < classes)
    ):
        raise DataError(messages.bad_values(field, array.shape, n, classes))
    return array.astype(np.int32)


def _geometry(field: str, values: object, n: int) -> np.ndarray:
    """``values`` as the float32 (``n``, width) continuous ``field``, finite and >= 0."""
    array = np.asarray(values)
    width = GEOMETRY_WIDTH[field]
    if (
        array.shape != (n, width)
        or not np.issubdtype(array.dtype, np.number)
        or not (np.isfinite(array) & (array >= 0)).all()
    ):
        raise DataError(messages.bad_geometry(field, array.shape, n, width))
    return array.astype(np.float32)


def _checked(fields: Mapping[str, object], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The attributes ``keys`` of ``fields``, checked so that drawing cannot fail midway."""
    _require(fields, keys)
    n = len(np.asarray(fields[keys[0]]))
    return {
        key: _labels(key, fields[key], n) if key in ATTRIBUTES else _geometry(key, fields[key], n)
        for key in keys
    }


def _half_extent(shape: np.ndarray, area: np.ndarray) -> np.ndarray:
    return np.sqrt(area[:, 0] / SHAPE_AREA[shape]) / 2


def _area(shape: np.ndarray, half_extent: np.ndarray) -> np.ndarray:
    return (SHAPE_AREA[shape] * (2 * half_extent) ** 2).astype(np.float32)[:, None]


def _bin_centre(bins: np.ndarray) -> np.ndarray:
    return MARGIN + BIN_WIDTH * (bins + 0.5)


def _masks(shape: np.ndarray, dx: np.ndarray, dy: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Which pixels each sprite covers, given pixel offsets from its centre (N, S, S)."""
    ax, ay = np.abs(dx), np.abs(dy)
    arm = h * CROSS_ARM
    covered = {
        0: np.maximum(ax, ay) <= h,
        1: dx * dx + dy * dy <= h * h,
        # Apex up (y grows downwards): the half-width grows from 0 at the top to h.
        2: (ay <= h) & (ax <= (dy + h) / 2),
        3: ((ax <= h) & (ay <= arm)) | ((ay <= h) & (ax <= arm)),
    }
    return np.select([shape[:, None, None] == k for k in covered], list(covered.values()), False)


def render(attrs: Mapping[str, np.ndarray], size: int = 32) -> np.ndarray:
    """Draw sprites (N, size, size, 3) float32 from their ``shape``, ``colour``, ``position``
    and ``area``; other keys (the bins, images) are ignored.

    A pixel is lit when its centre lies inside the shape (no anti-aliasing), so the
    same attributes always give bit-identical images.
    """
    size = check_int("size", size, 8)
    checked = _checked(attrs, RENDER_FIELDS)
    shape, colour, position = checked["shape"], checked["colour"], checked["position"]
    h = _half_extent(shape, checked["area"])[:, None, None]
    pixels = (np.arange(size, dtype=np.float32) + 0.5) / size
    dx = pixels[None, None, :] - position[:, 0, None, None]
    dy = pixels[None, :, None] - position[:, 1, None, None]
    lit = _masks(shape, dx, dy, h)
    return lit[..., None] * RGB[colour][:, None, None, :]


def load_sprites(
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    size: int = 32,
    colour: str | None = None,
) -> Dataset:
    """``n`` random sprites, the same for the same ``seed``, ``split`` and ``size``.

    Fields, in order: ``image`` (N, size, size, 3), the categorical ``shape``, ``colour``,
    ``scale``, ``xpos``, ``ypos`` (int32, names in ATTRIBUTES), then ``position`` (N, 2)
    and ``area`` (N, 1) (float32, see the module's docstring). ``n`` defaults to 10,000
    for train and 2,000 for test; train and test draw from independent streams of
    ``seed``. Each sprite uses one row of random numbers, so a smaller ``n`` gives a
    prefix of a larger one.

    ``colour`` (a name in COLOURS) draws every sprite in that colour and keeps the rest
    of each sprite's draw: the same ``seed`` in two colours gives the same sprites
    recoloured, the true translation between two one-colour domains (a CycleGAN's).
    """
    checked(OPTIONS, split=split, n=n, seed=seed, size=size, colour=colour)
    stream = SPLITS.index(split)
    count = DEFAULT_N[split] if n is None else int(n)
    size, entropy = int(size), int(seed)
    rng = np.random.default_rng(np.random.SeedSequence(entropy).spawn(len(SPLITS))[stream])
    u = rng.random((count, len(ATTRIBUTES) + 3))
    labels = {
        key: (u[:, i] * len(names)).astype(np.int32)
        for i, (key, names) in enumerate(ATTRIBUTES.items())
    }
    if colour is not None:
        labels["colour"][:] = COLOURS.index(colour)
    jitter = 2 * u[:, len(ATTRIBUTES) :] - 1
    half_extent = SCALE_HALF_EXTENT[labels["scale"]] + SCALE_JITTER * jitter[:, 0]
    centre = np.stack([labels["xpos"], labels["ypos"]], axis=1)
    position = _bin_centre(centre) + POSITION_JITTER * BIN_WIDTH * jitter[:, 1:]
    geometry = {
        "position": position.astype(np.float32),
        "area": _area(labels["shape"], half_extent),
    }
    image = render(labels | geometry, size)
    return Dataset(
        name="sprites",
        fields={"image": image, **labels, **geometry},
        classes={key: len(names) for key, names in ATTRIBUTES.items()},
    )


def edit_attributes(
    fields: Mapping[str, np.ndarray], field: str, values: np.ndarray
) -> dict[str, np.ndarray]:
    """The sprites' attributes with categorical ``field`` set to ``values``, jitter kept.

    A new ``scale`` keeps the sprite's offset from its scale's typical size; a new
    ``xpos``/``ypos`` keeps its offset from its bin's middle; a new ``shape`` keeps its
    half-extent (so ``area`` changes). Sprites whose value does not change keep every
    attribute bit for bit.
    """
    check_choice("field", field, tuple(ATTRIBUTES))
    edited = _checked(fields, EDIT_FIELDS)
    old = edited[field]
    new = _labels(field, values, len(old))
    changed = new != old
    edited[field] = new
    shape, area = edited["shape"], edited["area"]
    if field in ("shape", "scale"):
        h = _half_extent(old if field == "shape" else shape, area)
        if field == "scale":
            h = h + SCALE_HALF_EXTENT[new] - SCALE_HALF_EXTENT[old]
        edited["area"] = np.where(changed[:, None], _area(shape, h), area)
    elif field in ("xpos", "ypos"):
        axis = 0 if field == "xpos" else 1
        moved = edited["position"].copy()
        moved[:, axis] += np.float32(BIN_WIDTH) * (new - old)
        edited["position"] = np.where(changed[:, None], moved, edited["position"])
    return edited


def counterfactual(ds: Dataset, field: str, values: np.ndarray) -> np.ndarray:
    """The true counterfactual images: ``ds``'s sprites re-drawn with ``field`` = ``values``.

    Everything else, jitter included, stays as it was, so ``values`` equal to the current
    labels give back exactly ``ds``'s images.
    """
    _require(ds.fields, ("image",))
    return render(edit_attributes(ds.fields, field, values), ds.fields["image"].shape[1])


def sprites_fields(split: str = "train", n: int | None = None, seed: int = 0, size: int = 32,
                   colour: str | None = None) -> dict[str, FieldSpec]:
    """The fields ``load_sprites`` gives, without drawing a sprite."""
    side = int(size)
    return {
        "image": FieldSpec((side, side, 3), "float32"),
        **{key: FieldSpec((), "int32", len(names)) for key, names in ATTRIBUTES.items()},
        **{key: FieldSpec((width,), "float32") for key, width in GEOMETRY_WIDTH.items()},
    }


SPRITES = Description(OPTIONS, sprites_fields)
