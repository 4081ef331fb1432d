"""``taskdsl sample``: a generator or decoder of a run, fed from the file's random sources.

A *generator* is a learner (or refined learner) of the run whose every input has
the type of a ``random`` or ``const`` source the file declares (``random z : ->
Real[16] ~ normal`` feeds a GAN's ``gen : Real[16] -> Image``; ``random y : ->
Class[10] ~ uniform`` a conditional decoder's label), or is ``Real[..]`` where a
source gives a ``Gaussian`` of that shape: a VAE's prior ``const prior : ->
Gaussian[16] = 0`` feeds ``dec : Real[16] -> Image`` through ``sample``, as
drawing from the model means.  The sources are drawn by the one interpreter
(``lowering/interpret.py``), in inference mode, from ``--seed``; the generator is
applied by :meth:`Run.call`.

The ``.npz`` holds the drawn inputs (``z0``, ``z1``, ... or their type aliases; a ``Class``
input with its ``_label`` and ``_name``, as outputs get them) and
the outputs (as ``taskdsl predict`` names them); image outputs are drawn as a grid
(``OUT.png``, or ``OUT_NAME.png`` for each of several).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from taskdsl.ir import Box, BoxKind, Declaration, Wire
from taskdsl.types import WireType

from ..lowering.interpret import Context, Mode, execute, plan_boxes
from ..training.files import write_bytes
from ..training.runs import Run, load_run
from . import errors, pictures
from .predict import NPZ, named, named_outputs, wire_names, write_npz

SAMPLES_FILE = "samples_{name}.npz"
"""Where samples go by default, in the run folder."""
COLUMNS = 8
"""Images a row in a sample's picture."""


@dataclass(frozen=True)
class Feeder:
    """The source that feeds one input of a generator; ``sampled`` when it gives a
    ``Gaussian`` that ``sample`` turns into the input's ``Real`` values."""

    source: Declaration
    sampled: bool = False


def feeder(run: Run, wire: WireType) -> Feeder | None:
    """The first ``random``/``const`` source declared with output ``wire``, else one with a
    ``Gaussian`` of ``wire``'s shape for a ``Real`` wire; ``None`` if there is none."""
    sources = [d for d in run.program.declarations.values()
               if d.kind in (BoxKind.RANDOM, BoxKind.CONST) and len(d.signature.outputs) == 1]
    for declaration in sources:
        if declaration.signature.outputs[0] == wire:
            return Feeder(declaration)
    if wire.kind == "Real":
        for declaration in sources:
            out = declaration.signature.outputs[0]
            if out.kind == "Gaussian" and out.shape == wire.shape:
                return Feeder(declaration, sampled=True)
    return None


def feeders(run: Run, name: str) -> list[Feeder | None]:
    return [feeder(run, w) for w in run.signature(name).inputs]


def generators(run: Run) -> tuple[str, ...]:
    """The boxes of the run that can be sampled: every input fed by a source."""
    return tuple(n for n in run.callable_boxes()
                 if run.signature(n).inputs and all(f is not None for f in feeders(run, n)))


def choose(run: Run, name: str | None) -> str:
    """``name`` if it is a generator, else the run's only one; an error listing them."""
    found = generators(run)
    if name is None:
        if not found:
            raise errors.no_generator(run.directory, run.callable_boxes())
        if len(found) > 1:
            raise errors.many_generators(run.directory, found)
        return found[0]
    if name not in run.callable_boxes():
        raise errors.missing_learner(name, run.directory, run.callable_boxes())
    for position, (wire, fed) in enumerate(zip(run.signature(name).inputs, feeders(run, name),
                                                strict=True), start=1):
        if fed is None:
            raise errors.not_a_generator(name, run.directory, position, str(wire), found)
    return name


def draw_inputs(run: Run, name: str, n: int, key: jax.Array) -> tuple[np.ndarray, ...]:
    """``n`` draws of each input of ``name`` from its source (the interpreter's meaning of
    ``random``, ``const`` and ``sample`` boxes, in inference mode)."""
    boxes: list[Box] = []
    wires: dict[int, Wire] = {}
    outputs = []
    for wire, fed in zip(run.signature(name).inputs, feeders(run, name), strict=True):
        assert fed is not None  # `choose` made sure
        drawn = len(wires)
        wires[drawn] = Wire(drawn, fed.source.signature.outputs[0])
        boxes.append(Box(len(boxes), fed.source.kind, fed.source.name, (), (drawn,),
                         distribution=fed.source.distribution, value=fed.source.value))
        if fed.sampled:
            real = len(wires)
            wires[real] = Wire(real, wire)
            boxes.append(Box(len(boxes), BoxKind.BUILTIN, "sample", (drawn,), (real,)))
            drawn = real
        outputs.append(drawn)
    plan = plan_boxes(tuple(boxes), wires, outputs=tuple(outputs), mode=Mode.EVAL)
    env = execute(plan, Context({}, {}, key, n))
    return tuple(np.asarray(env[plan.value(w)]) for w in outputs)


def grid_rows(images: np.ndarray) -> list[list[np.ndarray]]:
    """Images in rows of :data:`COLUMNS` (fewer for few images)."""
    columns = min(COLUMNS, max(1, math.ceil(math.sqrt(len(images)))))
    return [list(images[i:i + columns]) for i in range(0, len(images), columns)]


def draw_outputs(out: Path, outputs: Mapping[str, tuple[np.ndarray, WireType]]) -> list[Path]:
    """Each image-valued output as a grid: ``OUT.png``, or ``OUT_NAME.png`` for several."""
    drawn = {k: (a, w) for k, (a, w) in outputs.items() if pictures.is_drawable(w)}
    written = []
    for key, (array, wire) in drawn.items():
        path = out.with_suffix(".png") if len(drawn) == 1 else out.with_name(
            f"{out.stem}_{key}.png")
        picture = pictures.grid(grid_rows(pictures.learner_picture(array, wire)))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        written.append(write_bytes(path, buffer.getvalue()))
    return written


def sample(run_dir: str | Path, name: str | None = None, n: int = 16,
           out: str | Path | None = None, seed: int = 0) -> list[Path]:
    """``n`` samples of the generator ``name`` (default: the run's only one) with inputs drawn
    from their sources by ``seed``; writes ``out`` (default ``RUN_DIR/samples_NAME.npz``)
    and the pictures of its image outputs; returns the files written."""
    if n < 1:
        raise errors.bad_count(n)
    run = load_run(run_dir, seed=seed)
    name = choose(run, name)
    target = Path(out) if out is not None else run.directory / SAMPLES_FILE.format(name=name)
    if target.suffix.lower() not in NPZ:
        raise errors.unknown_output_kind(target, NPZ)
    key = jax.random.key(seed)
    inputs = draw_inputs(run, name, n, jax.random.fold_in(key, 0))
    outputs = run.call(name, *inputs, key=jax.random.fold_in(key, 1))
    signature = run.signature(name)
    arrays = {**named(run, signature.inputs, inputs, "z"), **named_outputs(run, name, outputs)}
    written = [write_npz(target, arrays)]
    names = [k[0] for k in wire_names(run, signature.outputs, "y")]
    return written + draw_outputs(target, dict(zip(names, zip(outputs, signature.outputs,
                                                              strict=True), strict=True)))
