"""Sprites: determinism, attribute ranges, speed, and exact counterfactuals."""

from __future__ import annotations

import time

import numpy as np
import pytest

from taskdsl.backends.jax.data import (
    ATTRIBUTES,
    DataError,
    counterfactual,
    edit_attributes,
    load,
    load_sprites,
    render,
)
from taskdsl.backends.jax.data.sprites import BIN_WIDTH, MARGIN, RGB, SCALE_HALF_EXTENT

FIELDS = ["image", "shape", "colour", "scale", "xpos", "ypos", "position", "area"]


@pytest.fixture(scope="module")
def sprites():
    return load_sprites(n=600, seed=3)


def lit(images: np.ndarray) -> np.ndarray:
    return images.max(axis=-1) > 0


def centre_x(images: np.ndarray) -> np.ndarray:
    """The x of each image's lit pixels' centroid, as a fraction of the width."""
    mask = lit(images)
    cols = np.indices(mask.shape[1:])[1] + 0.5
    return (mask * cols).sum(axis=(1, 2)) / mask.sum(axis=(1, 2)) / mask.shape[2]


def test_fields_types_and_ranges(sprites) -> None:
    assert list(sprites.fields) == FIELDS
    assert len(sprites) == 600
    image = sprites.fields["image"]
    assert image.shape == (600, 32, 32, 3)
    assert image.dtype == np.float32
    assert image.min() == 0.0
    assert image.max() == 1.0
    assert sprites.classes == {key: len(names) for key, names in ATTRIBUTES.items()}
    for key, names in ATTRIBUTES.items():
        values = sprites.fields[key]
        assert values.dtype == np.int32
        assert set(values.tolist()) == set(range(len(names)))
    position, area = sprites.fields["position"], sprites.fields["area"]
    assert position.shape == (600, 2)
    assert area.shape == (600, 1)
    assert position.dtype == area.dtype == np.float32
    assert ((position > MARGIN) & (position < 1 - MARGIN)).all()
    assert ((area > 0) & (area < 0.15)).all()
    # Each centre lies in the middle half of its bin.
    bins = np.stack([sprites.fields["xpos"], sprites.fields["ypos"]], axis=1)
    offset = (position - MARGIN) / BIN_WIDTH - bins - 0.5
    assert np.abs(offset).max() <= 0.25 + 1e-5
    assert np.abs(offset).max() > 0.2  # the jitter is real


def test_images_match_their_attributes(sprites) -> None:
    image, f = sprites.fields["image"], sprites.fields
    mask = lit(image)
    # Every sprite is drawn entirely in its colour, on black.
    colours = image[mask]
    expected = RGB[np.repeat(f["colour"], mask.sum(axis=(1, 2)))]
    np.testing.assert_array_equal(colours, expected)
    # The drawn area is close to the recorded one, and larger scales draw more pixels.
    drawn = mask.mean(axis=(1, 2))
    assert np.abs(drawn - f["area"][:, 0]).max() < 0.03
    assert np.corrcoef(drawn, f["area"][:, 0])[0, 1] > 0.98
    means = [drawn[f["scale"] == s].mean() for s in range(3)]
    assert means[0] < means[1] < means[2]
    # The lit pixels' centroid is near the recorded position (x is the column).
    assert np.abs(centre_x(image) - f["position"][:, 0]).max() < 0.06


def test_deterministic_by_seed_and_split() -> None:
    a, b = load_sprites(n=50, seed=7), load("sprites", n=50, seed=7)
    for key in FIELDS:
        np.testing.assert_array_equal(a.fields[key], b.fields[key])
    other = load_sprites(n=50, seed=8)
    assert not np.array_equal(a.fields["position"], other.fields["position"])
    test = load_sprites("test", n=50, seed=7)
    assert not np.array_equal(a.fields["position"], test.fields["position"])
    bigger = load_sprites(n=80, seed=7)
    np.testing.assert_array_equal(bigger.fields["image"][:50], a.fields["image"])


def test_default_sizes_and_speed() -> None:
    start = time.perf_counter()
    train = load_sprites()
    elapsed = time.perf_counter() - start
    assert len(train) == 10_000
    assert elapsed < 5.0
    assert len(load_sprites("test")) == 2_000
    assert load_sprites(n=4, size=64).fields["image"].shape == (4, 64, 64, 3)


def test_render_of_the_fields_is_the_image(sprites) -> None:
    np.testing.assert_array_equal(render(sprites.fields), sprites.fields["image"])


@pytest.mark.parametrize("field", list(ATTRIBUTES))
def test_counterfactual_with_same_values_is_exact(sprites, field: str) -> None:
    again = counterfactual(sprites, field, sprites.fields[field])
    np.testing.assert_array_equal(again, sprites.fields["image"])


def test_counterfactual_colour_changes_only_colour(sprites) -> None:
    new = (sprites.fields["colour"] + 1) % len(ATTRIBUTES["colour"])
    edited = counterfactual(sprites, "colour", new)
    mask = lit(sprites.fields["image"])
    np.testing.assert_array_equal(lit(edited), mask)
    np.testing.assert_array_equal(edited[mask], RGB[np.repeat(new, mask.sum(axis=(1, 2)))])


def test_one_colour_is_the_same_draw_recoloured(sprites) -> None:
    blue = load_sprites(n=600, seed=3, colour="blue")
    assert (blue.fields["colour"] == ATTRIBUTES["colour"].index("blue")).all()
    for field in ("shape", "scale", "position", "area"):
        np.testing.assert_array_equal(blue.fields[field], sprites.fields[field])
    np.testing.assert_array_equal(blue.fields["image"],
                                  counterfactual(sprites, "colour", blue.fields["colour"]))


def test_counterfactual_moves_and_resizes(sprites) -> None:
    f = sprites.fields
    new = (f["xpos"] + 1) % 3
    moved = edit_attributes(f, "xpos", new)
    step = (new - f["xpos"]) * BIN_WIDTH
    np.testing.assert_allclose(moved["position"][:, 0], f["position"][:, 0] + step, atol=1e-6)
    np.testing.assert_array_equal(moved["position"][:, 1], f["position"][:, 1])
    images = counterfactual(sprites, "xpos", new)
    assert np.abs(centre_x(images) - moved["position"][:, 0]).max() < 0.06
    np.testing.assert_array_equal(images, render(moved))

    bigger = np.full(len(sprites), 2, dtype=np.int32)
    resized = edit_attributes(f, "scale", bigger)
    h_gain = SCALE_HALF_EXTENT[2] - SCALE_HALF_EXTENT[f["scale"]]
    grew = resized["area"][:, 0] > f["area"][:, 0]
    np.testing.assert_array_equal(grew, h_gain > 0)
    unchanged = f["scale"] == 2
    np.testing.assert_array_equal(resized["area"][unchanged], f["area"][unchanged])


def test_counterfactual_shape_keeps_extent(sprites) -> None:
    f = sprites.fields
    squares = np.zeros(len(sprites), dtype=np.int32)
    images = counterfactual(sprites, "shape", squares)
    # A square covers its shape's bounding box, so it covers every pixel the old shape lit.
    old, new = lit(f["image"]), lit(images)
    assert not (old & ~new).any()
    assert new.sum() > old.sum()


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda ds: counterfactual(ds, "size", ds.fields["scale"]), "option `field` must be one of"),
        (lambda ds: counterfactual(ds, "colour", ds.fields["colour"] + 6), "0..5"),
        (lambda ds: counterfactual(ds, "colour", ds.fields["colour"][:3]), "600 integers"),
        (lambda ds: counterfactual(ds, "colour", ds.fields["position"][:, 0]), "integers"),
        (lambda ds: render({"shape": ds.fields["shape"]}), "missing: 'colour'"),
        (lambda ds: render(ds.fields | {"area": ds.fields["area"][:, 0]}), "'area' must be"),
        (lambda ds: render(ds.fields | {"position": -ds.fields["position"]}), "non-negative"),
        (lambda ds: load_sprites(n=-1), "option `n` must be an integer >= 1"),
        (lambda ds: load_sprites(seed="a"), "option `seed` must be an integer"),
        (lambda ds: load_sprites(size=4), "option `size` must be an integer >= 8"),
        (lambda ds: load_sprites(colour="teal"), "option `colour` must be one of"),
    ],
)
def test_misuse_is_a_data_error(sprites, call, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        call(sprites)
