"""``taskdsl predict``: one learner (or refined learner) of a run, applied to arrays in a file.

The input is a ``.npz`` with one array per input wire of the box, named by the
wire's type alias (``type Image = Real[8, 8, 1]``: ``Image``, or ``image``), or
``x0``, ``x1``, ... by position; a box with one input also takes the file's only
array, or an ``images`` array (what ``taskdsl manipulate`` reads).  Each array
holds a batch: ``(N, *shape)`` numbers for the wire's shape (``uint8`` images are
read as ``/255``), or class indices ``(N, ...)`` for a ``Class``/``Tokens`` wire.

The output ``.npz`` holds each output wire's values (probabilities on ``Class``
wires, as :meth:`Run.call` gives them), named as the inputs are (``y0``, ``y1``,
... by position); a ``Class`` output also gets ``NAME_label`` (the most probable
class) and, where the run's data names its classes, ``NAME_name``.  Image-valued
outputs are drawn beside it, ``OUT.png``: a row per example, the image inputs then
the image outputs.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from taskdsl.types import WireType

from ..lowering.values import CATEGORICAL_KINDS
from ..training.files import write_bytes
from ..training.runs import Run, load_run
from . import errors, pictures

GRID_ROWS = 16
"""Examples drawn in a prediction's or a sample's picture."""
NPZ = (".npz",)


def wire_names(run: Run, wires: Sequence[WireType], prefix: str) -> list[tuple[str, ...]]:
    """The array names each wire is known by: its type aliases (as written, then in lower
    case) when no other wire of the box has that type, then ``PREFIX<i>``."""
    found = []
    for i, wire in enumerate(wires):
        unique = sum(w == wire for w in wires) == 1
        aliases = [a for a, t in run.program.aliases.items() if t == wire] if unique else []
        names = dict.fromkeys([*aliases, *(a.lower() for a in aliases), f"{prefix}{i}"])
        found.append(tuple(names))
    return found


def expected(wire: WireType) -> str:
    """What an input array for ``wire`` looks like, in a message."""
    shape = ", ".join(map(str, wire.value_shape))
    if wire.kind in CATEGORICAL_KINDS:
        indices = ", ".join(["N", *map(str, wire.value_shape[:-1])])
        return f"({indices}) class indices (integers) or (N, {shape}) probabilities"
    return f"(N, {shape}) numbers"


def fitted(path: Path, key: str, array: np.ndarray, wire: WireType, name: str,
           position: int) -> np.ndarray:
    """``array`` as a batch on ``wire``, or an error saying what shape it should have."""
    shape = wire.value_shape
    indices = wire.kind in CATEGORICAL_KINDS and np.issubdtype(array.dtype, np.integer)
    if indices and array.shape[1:] == shape[:-1]:
        if array.size and (array.min() < 0 or array.max() >= shape[-1]):
            raise errors.input_shape(path, key, array.shape, f"classes {array.min()}.."
                                     f"{array.max()}", name, position, str(wire),
                                     f"class indices 0..{shape[-1] - 1}")
        return array.astype(np.int32)
    numeric = np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    if not numeric or array.ndim == 0 or array.shape[1:] != shape:
        raise errors.input_shape(path, key, array.shape, str(array.dtype), name, position,
                                 str(wire), expected(wire))
    if array.dtype == np.uint8 and wire.kind == "Real":
        return array.astype(np.float32) / 255.0
    return array.astype(np.float32)


def read_inputs(run: Run, name: str, path: Path) -> tuple[np.ndarray, ...]:
    """The arrays of ``path`` for each input of ``name``, checked against its wires."""
    wires = run.signature(name).inputs
    names = wire_names(run, wires, "x")
    if not path.is_file():
        raise errors.no_input(path)
    if path.suffix.lower() not in NPZ:
        raise errors.not_npz(path, name, [n[0] for n in names])
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise errors.unreadable_input(path, str(error)) from None
    found = []
    for position, (wire, known) in enumerate(zip(wires, names, strict=True), start=1):
        key = next((k for k in known if k in arrays), None)
        if key is None and len(wires) == 1:
            key = next(iter(arrays)) if len(arrays) == 1 else (
                "images" if "images" in arrays else None)
        if key is None:
            raise errors.input_missing(path, name, position, str(wire), known, arrays)
        found.append(fitted(path, key, arrays[key], wire, name, position))
    counts = {len(a) for a in found}
    if len(counts) > 1:
        raise errors.input_count(path, name, [f"{n[0]}: {len(a)}"
                                              for n, a in zip(names, found, strict=True)])
    if not found or len(found[0]) == 0:
        raise errors.empty_input(path)
    return tuple(found)


def named_outputs(run: Run, name: str, outputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Each output under its name, a ``Class`` output with its labels and class names."""
    return named(run, run.signature(name).outputs, outputs, "y")


def named(run: Run, wires: Sequence[WireType], arrays: Sequence[np.ndarray], prefix: str
          ) -> dict[str, np.ndarray]:
    """Each array under its wire's name (:func:`wire_names`); on a categorical wire also
    ``NAME_label``, the most probable class, and ``NAME_name``, its name where the run's
    data names the classes."""
    found: dict[str, np.ndarray] = {}
    for known, wire, values in zip(wire_names(run, wires, prefix), wires, arrays, strict=True):
        key = known[0]
        found[key] = values
        if wire.kind in CATEGORICAL_KINDS:
            labels = values.argmax(-1).astype(np.int32)
            found[f"{key}_label"] = labels
            names = run.class_names_for(wire)
            if names is not None:
                found[f"{key}_name"] = np.asarray(names)[labels]
    return found


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """``arrays`` as a compressed ``.npz``, written atomically (``files.write_bytes``)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return write_bytes(path, buffer.getvalue())


def draw(path: Path, columns: Sequence[tuple[np.ndarray, WireType]]) -> Path | None:
    """The image-valued columns side by side, one row per example (at most
    :data:`GRID_ROWS`), to ``path``; ``None`` if none is an image."""
    drawn = [pictures.learner_picture(a[:GRID_ROWS], w) for a, w in columns
             if pictures.is_drawable(w)]
    return pictures.save_columns(path, drawn) if drawn else None


def predict(run_dir: str | Path, name: str, input: str | Path, out: str | Path | None = None,
            seed: int = 0) -> list[Path]:
    """``name`` of the run in ``run_dir`` applied to the arrays in ``input``; writes ``out``
    (default ``INPUT_NAME.npz`` beside the input) and, for image outputs, ``OUT.png``.
    ``seed`` seeds the box's random boxes (``sample``); returns the files written."""
    source = Path(input)
    run = load_run(run_dir, seed=seed)
    if name not in run.callable_boxes():
        raise errors.missing_learner(name, run.directory, run.callable_boxes())
    target = Path(out) if out is not None else source.with_name(f"{source.stem}_{name}.npz")
    if target.suffix.lower() not in NPZ:
        raise errors.unknown_output_kind(target, NPZ)
    inputs = read_inputs(run, name, source)
    outputs = run.call(name, *inputs)
    written = [write_npz(target, named_outputs(run, name, outputs))]
    signature = run.signature(name)
    if not any(pictures.is_drawable(w) for w in signature.outputs):
        return written
    picture = draw(target.with_suffix(".png"),
                   [*zip(inputs, signature.inputs, strict=True),
                    *zip(outputs, signature.outputs, strict=True)])
    return written + ([picture] if picture is not None else [])
