"""A trained run, loaded back: its program, lowering and parameters, ready to apply.

``taskdsl train`` leaves a folder with ``config.json`` (the .task source, the
``--set`` overrides, the seed) and Orbax checkpoints.  :func:`load_run` re-checks
the recorded source (not the file on disk, which may have changed since), with the
recorded texts of the files it imports (config.json's ``imported``, by absolute
path; a run recorded before them reads its imports from disk), re-resolves the
settings with the same overrides, re-lowers the objective and restores the latest
checkpoint's parameters into the structure ``Lowered.init`` builds.  The optimizer
state is restored only as a shape (Orbax needs the whole saved tree as a target)
and dropped.

:meth:`Run.call` applies any learner, or a refined learner (``refine put(x, a)
= dec(enc(x) + shift(a))``, fixed boxes and nested refinements included) by
running its diagram through the one interpreter (``lowering/interpret.py``) in
inference mode, on plain arrays, and returns wire values: probabilities, not
logits, on ``Class`` wires, exactly as the next box of a diagram would see them.
In inference mode ``drop`` is the identity, so a call is deterministic, while
``sample`` and random sources still draw: each call draws fresh keys, from the
run's ``seed`` folded with a per-run call counter, so two calls get different
noise and a whole evaluation is reproducible from its seed (or pass ``key=``).

What ``config.json`` names is read only from inside the run folder
(``files.inside``): a run that recorded no source but names a ``file`` that is
absolute, or leads out of the folder by ``..`` or a symbolic link, is refused
(``run-file-outside``); otherwise ``file`` only labels the recorded source and
places its imports (absolute since runs record ``imported``).
A run whose nets name modules the trust policy refuses (``trust``: the ``impl``
lines of its source and settings, and the ``imports`` its config.json records)
is refused before anything is imported (``net-import-not-allowed``).

Loaded models: :func:`lower_loading` lowers a program whose ``impl`` lines
``load(...)`` trained runs, by loading those runs here and handing their
learners to ``lower`` (the lowering itself reads no runs): :func:`load_learners`.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

from taskdsl.ir import BoxKind, Call, Program
from taskdsl.loader import check_text
from taskdsl.queries import user_function_paths
from taskdsl.types import Signature, WireType

from .. import data, trust
from ..evaluation import errors
from ..evaluation.errors import EvalError
from ..lowering import errors as lowering_errors
from ..lowering.errors import LowerError
from ..lowering.interpret import Context, Mode, diagram_outputs, plan_diagram
from ..lowering.lower import (
    LoadedLearner,
    Lowered,
    find_objective,
    load_calls,
    lower,
    make_train_step,
    optimizer_from_spec,
)
from ..lowering.step import scheduled
from ..lowering.values import SQUASH, Value
from ..nets import NETS, NetError
from .checkpoint import FOLDER, Checkpoints
from .errors import TrainError
from .feed import _field_names, class_names_of
from .files import imported_texts, inside
from .settings import Settings, from_json, resolve, reweighted

CONFIG = "config.json"
"""A run folder's record of what was trained: the .task text, settings, seed, versions."""

CLASS_NAMES = "class_names"
"""config.json's record of each data source's class names: ``{source: [names or null, one
entry per output]}`` (:func:`.feed.class_names_of`, recorded by ``train``)."""

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
    """A trained run: what was trained (program, settings, lowering) and the trained params.

    ``seed`` seeds the random boxes of inference calls; ``calls`` counts them.
    """

    directory: Path
    config: dict[str, Any]
    program: Program
    settings: Settings
    lowered: Lowered
    params: dict[str, Any]
    step: int
    seed: int = 0
    calls: Iterator[int] = field(default_factory=itertools.count, compare=False, repr=False)

    def signature(self, name: str) -> Signature:
        return self.program.declarations[name].signature

    def callable_boxes(self) -> tuple[str, ...]:
        """The learners this run trained, and the refined learners built only from boxes
        it has parameters for."""
        known = set(self.lowered.learner_names)
        refined = [n for n, d in self.program.refinements.items()
                   if {b.name for b in d.boxes if b.kind in (BoxKind.LEARNER, BoxKind.FIXED)}
                   <= known]
        return (*self.lowered.learner_names, *refined)

    def next_key(self) -> jax.Array:
        """A fresh key for one inference call: the run's seed folded with the call's number."""
        return jax.random.fold_in(jax.random.key(self.seed), next(self.calls))

    def call(self, name: str, *arrays: np.ndarray, key: jax.Array | None = None
             ) -> tuple[np.ndarray, ...]:
        """``name``'s output wire values on ``arrays`` (one batch per input wire), in chunks,
        in inference mode (``drop`` is the identity).

        Integer arrays on ``Class``/``Tokens`` inputs are class indices.  The random
        boxes of a refinement (``sample``) draw from ``key``, by default a fresh one per
        call (:meth:`next_key`).
        """
        if name not in self.callable_boxes():
            raise errors.missing_learner(name, self.directory, self.lowered.learner_names)
        key = self.next_key() if key is None else key
        signature = self.signature(name)
        count = len(arrays[0])
        outputs = []
        for start in range(0, count, CHUNK):
            inputs = tuple(Value.from_data(a[start:start + CHUNK], t).array
                           for a, t in zip(arrays, signature.inputs, strict=True))
            chunk_key = jax.random.fold_in(key, start)
            outputs.append([np.asarray(v) for v in self._values(name, inputs, chunk_key)])
        return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))

    def _values(self, name: str, inputs: tuple[jax.Array, ...], key: jax.Array
                ) -> tuple[jax.Array, ...]:
        """The wire values of ``name`` on a chunk: a refinement through the interpreter, a
        learner by its jitted apply."""
        apply = {n: (lambda state, *xs, n=n: self.lowered.apply(n, {n: state}, *xs))
                 for n in self.lowered.learner_names}
        if name in self.program.refinements:
            diagram = self.program.refinements[name]
            context = Context(apply, self.params, key, int(inputs[0].shape[0]))
            return tuple(v for v, _ in diagram_outputs(diagram, plan_diagram(diagram, Mode.EVAL),
                                                       context, inputs))
        outputs = apply[name](self.params[name], *inputs)
        return tuple(o if SQUASH.get(t.kind) is None else SQUASH[t.kind](o)
                     for o, t in zip(outputs, self.signature(name).outputs, strict=True))

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

    def class_names(self, source: str, output: int) -> tuple[str, ...] | None:
        """The class names of ``source``'s ``output``-th output: as config.json's
        ``class_names`` recorded them at training, else as its data set names them
        (:func:`class_names_of`); ``None`` where nothing names them."""
        recorded = self.config.get(CLASS_NAMES, {})
        names = recorded.get(source) if isinstance(recorded, dict) else None
        if isinstance(names, list) and output < len(names) and isinstance(names[output], list):
            return tuple(map(str, names[output]))
        try:
            labelled = self.labelled(source, "test", 1)
        except (data.DataError, TrainError):
            try:
                labelled = self.labelled(source, "train", 1)
            except (data.DataError, TrainError):
                return None
        return class_names_of(labelled.dataset, labelled.fields[output])

    def class_names_for(self, wire: WireType) -> tuple[str, ...] | None:
        """The class names of a ``Class`` wire: those of the first data source output of
        exactly that type that has names (a learner's output is named as the data it is
        trained against); ``None`` where none has."""
        if wire.kind != "Class":
            return None
        for source in self.data_sources():
            for output, found in enumerate(self.signature(source).outputs):
                if found == wire:
                    names = self.class_names(source, output)
                    if names is not None:
                        return names
        return None


def _options(dataset: str) -> tuple[str, ...]:
    """The options a data set's loader takes; an unknown data set is left to ``data.load``."""
    loader = data.LOADERS.get(dataset)
    return tuple(inspect.signature(loader).parameters) if loader else ()


def run_optimizer(settings: Settings) -> optax.GradientTransformation:
    """The optimizer the settings name, under their update schedule: what a run's
    checkpoints hold the state of."""
    return scheduled(optimizer_from_spec(settings.optimizer), settings.schedule.phases)


def load_learners(program: Program, objective: str | None = None,
                    impls: Mapping[str, object] | None = None) -> dict[str, LoadedLearner]:
    """Each box of ``objective`` that an ``impl`` implements by ``load(...)``, as the learner
    of the run it names (its net and latest parameters); ``LowerError`` if a run cannot be
    loaded or has no such learner."""
    loaded = {}
    for name, call in load_calls(program, find_objective(program, objective), impls).items():
        try:
            run = load_run(call.run)
        except (EvalError, TrainError, LowerError, NetError) as error:
            raise lowering_errors.load_failed(name, call.run, str(error)) from None
        found = run.lowered.learners.get(call.learner)
        if found is None:
            raise lowering_errors.load_no_learner(name, call.run, call.learner,
                                                  run.lowered.learner_names)
        loaded[name] = LoadedLearner(call.run, call.learner, found, run.params[call.learner])
    return loaded


def lower_loading(program: Program, objective: str | None = None,
                  impls: Mapping[str, object] | None = None) -> Lowered:
    """``lower``, with the runs that ``load(...)`` names loaded first; relative run paths
    are read from the current directory, like ``taskdsl train --out``."""
    return lower(program, objective, impls, loaded=load_learners(program, objective, impls))


def load_run(run_dir: str | Path, seed: int = 0) -> Run:
    """The run in ``run_dir`` with its latest checkpoint's parameters; ``EvalError`` if there
    is no such run, it has no checkpoint, or its recorded program no longer checks.
    ``seed`` seeds its inference calls' random boxes (see :meth:`Run.call`)."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise errors.no_run_dir(directory)
    try:
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
        source, path = config.get("source"), config["file"]
        if source is None:  # a run from before the source was recorded: read it, if inside
            source = inside(directory, path, EvalError).read_text(encoding="utf-8")
        objective, overrides = config["objective"], config.get("overrides", [])
        imported = imported_texts(config)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:  # not a dict
        raise errors.not_a_run(directory, f"{CONFIG}: {error}") from None
    checked = check_text(source, path, imported=imported)
    if not checked.ok:
        raise errors.program_broken(directory, checked.render())
    recorded = config.get("settings")
    # The settings as the run resolved them; only a run that predates that record is
    # resolved again from its `--set` texts.
    settings = (from_json(checked.program, objective, recorded) if isinstance(recorded, dict)
                else resolve(checked.program, objective, overrides))
    recorded_imports = config.get("imports")
    named = trust.imports({**checked.program.impls, **settings.impls}, NETS,
                          user_function_paths(checked.program, settings.impls))
    for refusal in trust.refusals([*named, *(recorded_imports
                                            if isinstance(recorded_imports, list) else [])]):
        raise EvalError(refusal)  # before anything is imported: as `taskdsl check` says it
    lowered = lower_loading(reweighted(checked.program, objective, settings.weights), objective,
                            impls=settings.impls)  # weighted as it was trained
    if not (directory / FOLDER).is_dir():
        raise errors.no_checkpoint(directory)
    params = jax.eval_shape(lowered.init, jax.random.key(0))
    init_opt_state, _ = make_train_step(lowered, run_optimizer(settings))
    opt_state = jax.eval_shape(init_opt_state, params)
    with Checkpoints(directory, settings.keep) as checkpoints:
        # The newest checkpoint that verifies: a corrupt newer one is skipped, with a note.
        restored = checkpoints.restore_latest(params, opt_state)
        if restored is None:
            raise errors.no_checkpoint(directory)
        params, step = restored.params, restored.step
    return Run(directory, config, checked.program, settings, lowered, params, step, seed)

