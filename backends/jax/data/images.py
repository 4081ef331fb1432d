"""A folder of images, one sub-folder per class: ``datasets.images(path = "pics", size = [28, 28])``.

The sub-folders' names, sorted, are the classes (index 0 is the first name); they are
kept in the data set's ``extras["class_names"]`` so an evaluation can name them.  The
fields are ``image`` (float32 ``(H, W, C)`` in [0, 1]) and ``label`` (int32, as many
classes as sub-folders), so a ``Class[n]`` wire is checked against the folder count.

Images are read with Pillow, converted to ``channels`` (1 grey, 3 RGB, 4 RGBA) and, with
``size = [H, W]``, resized; without ``size`` every image must have the first one's size
(ragged sizes are an error naming two files).  Files Pillow does not know by their
suffix (a ``README``, ``.DS_Store``) are skipped.

A folder holding ``train/`` and ``test/`` sub-folders is already split: ``split`` picks
one (each holds one sub-folder per class); otherwise ``split`` takes a fixed random
``test_fraction`` (seed ``seed``), as ``datasets.npz`` does.  Without ``split`` every
image is used.  :func:`image_fields` answers what the fields are from the folder's
listing and one image's header, so ``taskdsl check`` reads no pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import messages
from .base import SPLITS, Choice, DataError, Dataset, Description, FieldSpec, Fraction, Text, Whole
from .base import checked as _checked
from .npz import _random_rows

if TYPE_CHECKING:
    from PIL import Image

MODES = {1: "L", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class Size:
    """An option that takes ``[H, W]``, two positive integers (or nothing)."""

    expected: str = "a list of two positive integers, [H, W]"

    def fits(self, value: object) -> bool:
        return value is None or (isinstance(value, list | tuple) and len(value) == 2 and all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value))


@dataclass(frozen=True)
class Channels:
    """An option that takes 1, 3 or 4 channels."""

    expected: str = "1 (grey), 3 (RGB) or 4 (RGBA)"

    def fits(self, value: object) -> bool:
        return not isinstance(value, bool) and value in MODES


OPTIONS = {
    "path": Text("the path of a folder of images, one sub-folder per class (a string)"),
    "size": Size(),
    "channels": Channels(),
    "split": Choice(SPLITS, optional=True),
    "test_fraction": Fraction(),
    "seed": Whole(0),
}


def _suffixes() -> frozenset[str]:
    from PIL import Image

    Image.init()
    return frozenset(Image.registered_extensions())


def image_folder(path: object = None, size: object = None, channels: object = 1,
                 split: object = None, test_fraction: object = 0.2, seed: object = 0) -> Path:
    """The folder ``path`` names; one that is not there is a located DataError."""
    _checked({"path": OPTIONS["path"]}, path=path)
    folder = Path(path).expanduser()  # type: ignore[arg-type]
    if not folder.is_dir():
        raise DataError(messages.missing_folder("images", folder))
    return folder


def _presplit(folder: Path) -> bool:
    return (folder / "train").is_dir() and (folder / "test").is_dir()


def _class_names(folder: Path) -> list[str]:
    return sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def listing(folder: Path, split: str | None) -> tuple[list[str], list[tuple[Path, int]]]:
    """The class names (sorted) and every image file with its class index, in a fixed
    order; the parts ``split`` names when the folder has ``train/`` and ``test/``."""
    presplit = _presplit(folder)
    if presplit:  # both parts must name the same classes, or their indices would differ
        names = _class_names(folder / "train")
        if _class_names(folder / "test") != names:
            raise DataError(messages.images_parts_differ(folder))
        parts = [folder / split] if split else [folder / "train", folder / "test"]
    else:
        names, parts = _class_names(folder), [folder]
    if not names:
        raise DataError(messages.images_no_classes(parts[0]))
    known = _suffixes()
    files: list[tuple[Path, int]] = []
    for part in parts:
        for index, name in enumerate(names):
            found = sorted(f for f in (part / name).iterdir()
                           if f.is_file() and f.suffix.lower() in known) \
                if (part / name).is_dir() else []
            if not found and part == parts[0]:
                raise DataError(messages.images_empty_class(part / name))
            files += [(f, index) for f in found]
    return names, files


def _open(file: Path) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(file)
        image.load()
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise DataError(messages.unreadable(file, error)) from error
    return image


def image_fields(path: object = None, size: object = None, channels: object = 1,
                 split: object = None, test_fraction: object = 0.2, seed: object = 0
                 ) -> dict[str, FieldSpec]:
    """The fields ``load_images`` gives, from the listing and (without ``size``) the
    first image's header: ``image`` (H, W, C) float32 and ``label`` with n classes."""
    folder = image_folder(path)
    names, files = listing(folder, split if _presplit(folder) else None)  # type: ignore[arg-type]
    if size is None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(files[0][0]) as first:
                width, height = first.size
        except (OSError, UnidentifiedImageError, ValueError) as error:
            raise DataError(messages.unreadable(files[0][0], error)) from error
    else:
        height, width = size  # type: ignore[misc]
    return {"image": FieldSpec((int(height), int(width), int(channels)), "float32"),  # type: ignore[call-overload]
            "label": FieldSpec((), "int32", len(names))}


def load_images(path: object = None, size: object = None, channels: object = 1,
                split: object = None, test_fraction: object = 0.2, seed: object = 0
                ) -> Dataset:
    """Every image under ``path`` (read from the current directory when relative) as
    ``image`` and its sub-folder's index as ``label``; ``split`` keeps a part."""
    _checked(OPTIONS, path=path, size=size, channels=channels, split=split,
             test_fraction=test_fraction, seed=seed)
    folder = image_folder(path)
    presplit = _presplit(folder)
    names, files = listing(folder, split if presplit else None)  # type: ignore[arg-type]
    from PIL import Image

    pictures, first = [], None
    for file, _ in files:
        image = _open(file).convert(MODES[channels])  # type: ignore[index]
        if size is not None:
            height, width = size  # type: ignore[misc]
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        elif first is None:
            first = (file, image.size)
        elif image.size != first[1]:
            raise DataError(messages.images_ragged(first[0], first[1], file, image.size))
        array = np.asarray(image, dtype=np.float32) / 255.0
        pictures.append(array.reshape(*array.shape[:2], -1))
    images = np.stack(pictures).astype(np.float32)
    labels = np.array([index for _, index in files], dtype=np.int32)
    if split is not None and not presplit:
        rows = _random_rows(len(labels), str(split), float(test_fraction), int(seed))  # type: ignore[arg-type]
        images, labels = images[rows], labels[rows]
    return Dataset("images", {"image": images, "label": labels}, {"label": len(names)},
                   {"class_names": names})


IMAGES = Description(OPTIONS, image_fields, image_folder)
