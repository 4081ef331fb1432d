"""A trained run, loaded back: its program, lowering and parameters, ready to apply.

``taskdsl train`` leaves a folder with ``config.json`` (the .task source, the
``--set`` overrides, the seed) and Orbax checkpoints.  :func:`load_run` re-checks
the recorded source (not the file on disk, which may have changed since),
re-resolves the settings with the same overrides, re-lowers the objective and
restores the latest checkpoint's parameters into the structure ``Lowered.init``
builds.  The optimizer state is restored only as a shape (Orbax needs the whole
saved tree as a target) and dropped.

:meth:`Run.call` applies any learner, or a refined learner (``refine put(x, a)
= dec(enc(x) + shift(a))``) by running its diagram, on plain arrays, and
returns wire values: probabilities, not logits, on ``Class`` wires, exactly as
the next box of a diagram would see them.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from taskdsl.ir import BoxKind, Call, Diagram, Program
from taskdsl.loader import check_text
from taskdsl.types import Signature

from .. import data
from ..evaluation import errors
from ..lowering.builtins import BUILTINS
from ..lowering.lower import Lowered, lower, make_train_step
from ..lowering.values import Value
from .checkpoint import FOLDER, Checkpoints
from .feed import _field_names
from .settings import Settings, resolve
from .train import CONFIG, run_optimizer

CHUNK = 250
"""Examples per call when applying a box to many inputs: bounded memory, one compiled shape."""


@dataclass(frozen=True)
class Labelled:
    """Examples of one data source: the data set (all its fields) and the field behind each
    of the source's outputs, in output order."""

    dataset: data.Dataset
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """A trained run: what was trained (program, settings, lowering) and the trained params."""

    directory: Path
    config: dict[str, Any]
    program: Program
    settings: Settings
    lowered: Lowered
    params: dict[str, Any]
    step: int

    def signature(self, name: str) -> Signature:
        return self.program.declarations[name].signature

    def callable_boxes(self) -> tuple[str, ...]:
        """The learners this run trained, and the refined learners built only from them."""
        trained = set(self.lowered.learner_names)
        refined = [n for n, d in self.program.refinements.items() if set(d.learners()) <= trained]
        return (*self.lowered.learner_names, *refined)

    def call(self, name: str, *arrays: np.ndarray, seed: int = 0) -> tuple[np.ndarray, ...]:
        """``name``'s output wire values on ``arrays`` (one batch per input wire), in chunks.

        Integer arrays on ``Class``/``Tokens`` inputs are class indices; ``seed`` feeds the
        random boxes (``sample``) of a refinement.
        """
        if name not in self.callable_boxes():
            raise errors.missing_learner(name, self.directory, self.lowered.learner_names)
        signature = self.signature(name)
        count = len(arrays[0])
        outputs = []
        for start in range(0, count, CHUNK):
            values = tuple(Value.from_data(a[start:start + CHUNK], t)
                           for a, t in zip(arrays, signature.inputs, strict=True))
            key = jax.random.fold_in(jax.random.key(seed), start)
            outputs.append([np.asarray(v.array) for v in self._values(name, values, key)])
        return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))

    def _values(self, name: str, inputs: tuple[Value, ...], key: jax.Array) -> tuple[Value, ...]:
        if name in self.program.refinements:
            return self._diagram(self.program.refinements[name], inputs, key)
        outputs = self.lowered.apply(name, self.params, *(v.array for v in inputs))
        return tuple(Value.from_learner(o, t)
                     for o, t in zip(outputs, self.signature(name).outputs, strict=True))

    def _diagram(self, diagram: Diagram, inputs: tuple[Value, ...], key: jax.Array
                 ) -> tuple[Value, ...]:
        """Run a refinement's diagram box by box, as the lowering runs an equation's side."""
        wires = dict(zip(diagram.inputs, inputs, strict=True))
        batch = int(inputs[0].array.shape[0])
        for box in diagram.boxes:
            args = tuple(wires[w] for w in box.inputs)
            types = tuple(diagram.wires[w].type for w in box.outputs)
            if box.kind is BoxKind.DISCARD:
                continue
            if box.kind is BoxKind.COPY:
                outputs = args * len(box.outputs)
            elif box.kind is BoxKind.LEARNER:
                outputs = self._values(box.name, args, key)
            else:  # builtins, and constants and random sources, which are builtins too
                name, params = {BoxKind.CONST: ("const", box.params),
                                BoxKind.RANDOM: (box.params[0] if box.params else "", ())
                                }.get(box.kind, (box.name, box.params))
                builtin = BUILTINS[name]
                outputs = builtin(args, params, jax.random.fold_in(key, box.id), types,
                                  batch=batch if builtin.is_source else None)
            wires.update(zip(box.outputs, outputs, strict=True))
        return tuple(wires[w] for w in diagram.outputs)

    def labelled(self, source: str, split: str, n: int | None = None) -> Labelled:
        """``source``'s data set as the run binds it, but the ``split`` part and at most ``n``
        examples: the held-out examples a run is judged on."""
        call = self.settings.data.get(source)
        if not isinstance(call, Call):
            call = Call(f"datasets.{source}")
        options = {k: v for k, v in call.kwargs.items() if k != "fields"}
        name = call.name.removeprefix("datasets.")
        accepted = _options(name)
        if "split" in accepted:
            options["split"] = split
        if n is not None and "n" in accepted:
            options["n"] = n
        dataset = data.load(name, **options)
        if n is not None:
            dataset = data.Dataset(dataset.name, {k: v[:n] for k, v in dataset.fields.items()},
                                   dataset.classes, dataset.extras)
        wires = self.signature(source).outputs
        fields = _field_names(source, dataset, wires, call.kwargs.get("fields"))
        return Labelled(dataset, tuple(fields))

    def data_sources(self) -> tuple[str, ...]:
        """The data sources the objective draws from, in order of first draw."""
        return tuple(dict.fromkeys(r.source for r in self.lowered.data_requests()))


def _options(dataset: str) -> tuple[str, ...]:
    """The options a data set's loader takes; an unknown data set is left to ``data.load``."""
    loader = data.LOADERS.get(dataset)
    return tuple(inspect.signature(loader).parameters) if loader else ()


def load_run(run_dir: str | Path) -> Run:
    """The run in ``run_dir`` with its latest checkpoint's parameters; ``EvalError`` if there
    is no such run, it has no checkpoint, or its recorded program no longer checks."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise errors.no_run_dir(directory)
    try:
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
        source, path = config.get("source"), config["file"]
        if source is None:
            source = Path(path).read_text(encoding="utf-8")
        objective, overrides = config["objective"], config.get("overrides", [])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise errors.not_a_run(directory, f"{CONFIG}: {error}") from None
    checked = check_text(source, path)
    if not checked.ok:
        raise errors.program_broken(directory, checked.render())
    settings = resolve(checked.program, objective, overrides)
    lowered = lower(checked.program, objective, impls=settings.impls)
    if not (directory / FOLDER).is_dir():
        raise errors.no_checkpoint(directory)
    params = jax.eval_shape(lowered.init, jax.random.key(0))
    init_opt_state, _ = make_train_step(lowered, run_optimizer(settings))
    opt_state = jax.eval_shape(init_opt_state, params)
    with Checkpoints(directory, settings.keep) as checkpoints:
        step = checkpoints.latest_step()
        if step is None:
            raise errors.no_checkpoint(directory)
        params, _, _ = checkpoints.restore(step, params, opt_state)
    return Run(directory, config, checked.program, settings, lowered, params, step)

