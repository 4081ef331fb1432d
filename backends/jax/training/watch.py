"""Watching a run: TensorBoard event files, held-out evaluation, the best checkpoint, early stops.

``metrics.jsonl`` stays the record of a run; this module adds what watching it
live needs (``docs/training.md``, "Watching a run"):

- :class:`Board` writes TensorBoard event files into ``RUN_DIR/tb/`` (with
  ``tensorboardX``; no TensorFlow): every logged scalar, and at every checkpoint
  a picture of each image-valued learner output on one fixed held-out batch.
- :class:`Evaluation` measures every task, and the weighted total, on a fixed
  set of held-out batches (the ``test`` split of each data source), every
  ``eval_every`` steps.
- :class:`Best` follows the ``keep_best`` metric: it keeps the best step's
  checkpoint in ``RUN_DIR/best/`` (Orbax, ranked by the metric) and says when
  ``patience`` evaluations went by without improvement.

Nothing here runs at a step that neither logs, evaluates nor checkpoints: the
gradient norms come out of the jitted step with the other metrics (``train.py``),
and the learning rate is the optimizer's constant.
"""

from __future__ import annotations

import inspect
import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from taskdsl.ir import Call, Name
from taskdsl.queries import DataRequest
from taskdsl.types import WireType

from .. import data
from ..evaluation import pictures
from ..lowering.interpret import Mode
from ..lowering.lower import Lowered, LowerError
from ..lowering.optimizers import learning_rate_of, plan_of
from ..lowering.precision import learners_in, with_precision
from ..messages import phrase, show
from . import errors, sharding
from . import feed as feeding
from .checkpoint import Checkpoints
from .settings import Settings

TB_FOLDER = "tb"
"""The run folder's TensorBoard event files (``tensorboard --logdir RUN_DIR/tb``)."""
BEST_FOLDER = "best"
"""The run folder's best checkpoint by ``keep_best`` (an Orbax folder like checkpoints/)."""
EVAL_EXAMPLES = 1024
"""At most this many held-out examples (whole batches, at least one) per evaluation."""
SHOWN = 8
"""Images in each learner's picture."""
EVAL_KEY, PICTURES_KEY = 1, 2
"""Folded into the seed: the fixed keys of evaluations' and pictures' random boxes, so that
two evaluations differ only by the parameters."""

TRAIN_TAGS = MappingProxyType({"loss": "train/total"})
"""metrics.jsonl keys that TensorBoard shows under another name; a task's value is
``train/TASK``, everything else keeps its key."""
NOT_PLOTTED = frozenset({"step", "wall_time", "best_step", "early_stop"})
FLUSH_SECONDS = 1.0
"""The event file is flushed (for a TensorBoard watching it live) at most this often."""


# -- held-out data ----------------------------------------------------------------------


def held_out_bindings(requests: Sequence[DataRequest], bindings: Mapping[str, Any]
                      ) -> dict[str, Call]:
    """Each drawn source's binding with ``split = "test"``: its data set's held-out part.

    Raises ``TrainError`` for a source whose data set has no ``split`` option."""
    found: dict[str, Call] = {}
    for request in requests:
        source = request.source
        call = feeding.binding_of(source, bindings)
        if source in found or not isinstance(call, Call):
            continue  # binding the training data reports a missing or malformed binding
        loader = data.LOADERS.get(call.name.removeprefix(data.PREFIX))
        if loader is None or "split" not in inspect.signature(loader).parameters:
            raise errors.TrainError(phrase("eval-no-split", source=source, binding=show(call)))
        found[source] = Call(call.name, call.args,
                             MappingProxyType({**call.kwargs, "split": "test"}), call.span)
    return found


def held_out_feed(lowered: Lowered, settings: Settings, objective: str) -> feeding.Feed:
    """The batches of held-out data, drawn as training draws its own (``Feed``)."""
    requests = lowered.data_requests()
    sources = feeding.bind(requests, held_out_bindings(requests, settings.data), objective)
    return feeding.Feed(requests, sources, settings.batch, settings.seed,
                        process=jax.process_index(), processes=jax.process_count())


def _placed(batch: Any, layout: sharding.DataParallel | None) -> Any:
    return layout.shard(batch) if layout is not None else jax.device_put(batch)


class Evaluation:
    """Every task's value and the weighted total on the same held-out batches each time.

    ``__call__`` dispatches without waiting and returns one float32 vector on the device,
    in the order of :attr:`names`: ``eval/total``, then ``eval/TASK``.
    """

    def __init__(self, lowered: Lowered, feed: feeding.Feed, settings: Settings,
                 layout: sharding.DataParallel | None) -> None:
        self.names = ("eval/total", *(f"eval/{n}" for n in lowered.task_names))
        smallest = min((len(s) for s in feed.sources.values()), default=settings.batch)
        count = max(1, min(EVAL_EXAMPLES, smallest) // settings.batch)
        self.batches = [_placed(feed.batch(i), layout) for i in range(count)]
        self.key = jax.random.fold_in(jax.random.key(settings.seed), EVAL_KEY)
        size = settings.batch
        apply_fns = learners_in(lowered.apply_fns, settings.precision)

        def loss(params: Any, batch: Any, key: jax.Array) -> Any:
            return lowered.loss(params, batch, key, size, Mode.EVAL, apply_fns)

        # In the run's arithmetic (`precision`, `matmul_precision`), as training computes.
        loss = with_precision(loss, settings.precision, settings.matmul_precision)

        def values(params: Any, batch: Any, key: jax.Array) -> jax.Array:
            total, tasks = loss(params, batch, key)
            return jnp.stack([jnp.asarray(v, jnp.float32)
                              for v in (total, *(tasks[n] for n in lowered.task_names))])

        self._values = jax.jit(values)

    def __call__(self, params: Any) -> jax.Array:
        parts = [self._values(params, batch, jax.random.fold_in(self.key, i))
                 for i, batch in enumerate(self.batches)]
        return sum(parts[1:], parts[0]) / len(parts)


# -- pictures ---------------------------------------------------------------------------


def recording(lowered: Lowered, seen: dict[str, tuple[jax.Array, ...]]) -> dict[str, Any]:
    """``lowered``'s learners, each recording its first application's outputs in ``seen``:
    the objective's own wiring says what each learner is applied to (a decoder to the
    encoder's code, a generator to its noise)."""

    def recorded(name: str, fn: Any) -> Any:
        def apply(state: Any, *arrays: jax.Array) -> tuple[jax.Array, ...]:
            outputs = fn(state, *arrays)
            seen.setdefault(name, outputs)
            return outputs
        return apply

    return {n: recorded(n, f) for n, f in lowered.apply_fns.items()}


class Pictures:
    """Each image-valued learner output, as the objective computes it on one fixed batch
    (its first :data:`SHOWN` examples), for TensorBoard: ``pictures/LEARNER`` (with
    ``/OUTPUT`` for a learner with several image outputs)."""

    def __init__(self, lowered: Lowered, batch: Any, settings: Settings) -> None:
        self.outputs: dict[str, tuple[str, int]] = {}
        self.wires: dict[str, WireType] = {}
        for name in lowered.learner_names:
            wires = lowered.learners[name].signature.outputs
            drawn = [i for i, w in enumerate(wires) if pictures.is_drawable(w)]
            for i in drawn:
                tag = f"pictures/{name}" if len(drawn) == 1 else f"pictures/{name}/{i}"
                self.outputs[tag] = (name, i)
                self.wires[tag] = wires[i]
        self.batch = jax.device_put(batch)
        self.key = jax.random.fold_in(jax.random.key(settings.seed), PICTURES_KEY)
        size = settings.batch

        def images(params: Any, batch: Any, key: jax.Array) -> dict[str, jax.Array]:
            seen: dict[str, tuple[jax.Array, ...]] = {}
            lowered.loss(params, batch, key, size, Mode.EVAL, recording(lowered, seen))
            return {tag: seen[name][i][:SHOWN] for tag, (name, i) in self.outputs.items()
                    if name in seen}

        self._images = jax.jit(images)

    def __bool__(self) -> bool:
        return bool(self.outputs)

    def __call__(self, params: Any) -> dict[str, np.ndarray]:
        """Each picture as RGB bytes (H, W, 3): the images side by side, enlarged."""
        found = jax.device_get(self._images(params, self.batch, self.key))
        return {tag: np.asarray(pictures.grid([list(pictures.learner_picture(images,
                                                                            self.wires[tag]))]))
                for tag, images in found.items()}


# -- TensorBoard ------------------------------------------------------------------------


def learning_rate(spec: Call | Name) -> float | Callable[[int], float] | None:
    """The learning rate an ``optimizer`` setting gives the learners it names no optimizer
    for (its ``lr``, else optax's default that the lowering uses); for a schedule, a
    function of the step that gives the rate the update to that step used; ``None`` for
    an optimizer the lowering does not know."""
    try:
        rate = learning_rate_of(plan_of(spec)[0][2])
    except LowerError:
        return None
    if callable(rate):
        # Step s is reached by update s - 1 (counted from 0), which used the rate at s - 1.
        return lambda step: float(rate(max(step - 1, 0)))
    return float(rate)


def tag(key: str, tasks: Iterable[str]) -> str:
    """The TensorBoard tag of a metrics.jsonl key: ``train/TASK``, ``train/total``, or the
    key itself (``grad_norm/LEARNER``, ``eval/TASK``, ``examples_per_second``)."""
    if key in TRAIN_TAGS:
        return TRAIN_TAGS[key]
    return f"train/{key}" if key in set(tasks) else key


def _refuse_links(folder: Path) -> None:
    """Refuse ``folder`` if it, or anything in it, is a symbolic link (``lstat``, never
    followed): nothing of a run's is written through a link planted there."""
    if folder.is_symlink():
        raise errors.run_file_symlink(folder)
    for entry in os.scandir(folder):
        if entry.is_symlink():
            raise errors.run_file_symlink(Path(entry.path))


def board_folder(run_dir: Path) -> Path:
    """``RUN_DIR/tb``, made a plain folder if it is not there, and checked to hold no
    symbolic link (the folder itself, or an event file's name planted as a link).

    Event files are streamed appends, not atomic writes (docs/security.md): so where they
    are opened is checked first.  Raises ``RunFileError`` (``run-file-symlink``)."""
    folder = Path(run_dir) / TB_FOLDER
    if folder.is_symlink():
        raise errors.run_file_symlink(folder)
    folder.mkdir(mode=0o755, exist_ok=True)
    _refuse_links(folder)
    return folder


class Board:
    """The run's TensorBoard event files (``RUN_DIR/tb/``), written as the loop logs.

    Each metrics line is one event (a ``Summary`` holding every value), appended to
    the file by the loop itself with tensorboardX's ``EventsWriter``, and the file
    flushed at most every :data:`FLUSH_SECONDS`: tensorboardX's ``SummaryWriter`` hands
    every value to a queue and two threads, which costs a small model's loop more than
    its steps (``benchmarks/loop_overhead.py``).  A resumed run starts a new event file
    that tells TensorBoard to drop what an earlier one logged after the checkpoint it
    resumes from (``purge_step``, as ``SummaryWriter`` writes it).
    """

    def __init__(self, run_dir: Path, tasks: Sequence[str], start: int,
                 lr: float | Callable[[int], float] | None) -> None:
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        self.tasks = tuple(tasks)
        self.lr = lr
        self._tags: dict[str, str] = {}  # metrics.jsonl key -> its tag (`tag`)
        folder = board_folder(run_dir)
        # A name no one can plant a link at beforehand (tensorboardX opens it with 'wb').
        suffix = f".{os.getpid()}.{secrets.token_hex(8)}"
        self.events = EventsWriter(str(folder / "events"), suffix)
        try:
            _refuse_links(folder)  # the event file just opened is a plain file
        except errors.RunFileError:
            self.events.close()
            raise
        self._flushed = time.monotonic()
        if start:  # what SummaryWriter(purge_step=start + 1) writes first
            self.events.write_event(Event(step=start + 1, file_version="brain.Event:2"))
            self.events.write_event(Event(step=start + 1,
                                          session_log=SessionLog(status=SessionLog.START)))
            self.events.flush()

    def scalars(self, record: Mapping[str, Any]) -> None:
        """One metrics.jsonl line's numbers, at its step (``None``, non-finite, left out),
        in one event."""
        from tensorboardX.proto.summary_pb2 import Summary

        step = int(record["step"])
        found = []
        for key, value in record.items():
            if key in NOT_PLOTTED or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                name = self._tags.get(key)
                if name is None:
                    name = self._tags[key] = _board_tag(tag(key, self.tasks))
                found.append(Summary.Value(tag=name, simple_value=float(value)))
        if self.lr is not None and "loss" in record:
            rate = self.lr(step) if callable(self.lr) else self.lr
            found.append(Summary.Value(tag="lr", simple_value=float(rate)))
        if found:
            self._write(Summary(value=found), step)

    def images(self, step: int, drawn: Mapping[str, np.ndarray]) -> None:
        from tensorboardX.summary import image

        for name, picture in drawn.items():
            self._write(image(name, picture, dataformats="HWC"), step)

    def _write(self, summary: Any, step: int) -> None:
        from tensorboardX.proto.event_pb2 import Event

        self.events.write_event(Event(summary=summary, step=step, wall_time=time.time()))
        now = time.monotonic()
        if now - self._flushed >= FLUSH_SECONDS:
            self._flushed = now
            self.events.flush()

    def close(self) -> None:
        self.events.close()


def _board_tag(name: str) -> str:
    """``name`` as ``add_scalar`` would write it (tensorboardX replaces characters a tag
    may not hold), worked out once per key rather than once per line."""
    from tensorboardX.summary import scalar

    return scalar(name, 0.0).value[0].tag


# -- the best checkpoint, early stops ---------------------------------------------------


class Best:
    """The ``keep_best`` metric's best value so far, and how many evaluations since it.

    With ``keep`` the best step's parameters and optimizer state are kept in
    ``RUN_DIR/best/`` (one Orbax checkpoint, ranked by the metric: ``best_fn``).
    """

    def __init__(self, run_dir: Path, metric: str, mode: str, patience: int,
                 keep: bool) -> None:
        self.metric = metric
        self.mode = mode
        self.patience = patience
        self.value: float | None = None
        self.step: int | None = None
        self.waited = 0  # evaluations since the best one
        self.checkpoints = (Checkpoints(run_dir, 1, folder=BEST_FOLDER, metric=(metric, mode))
                            if keep else None)

    @property
    def folder(self) -> Path | None:
        return self.checkpoints.directory if self.checkpoints is not None else None

    def better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.value is None:
            return True
        return value < self.value if self.mode == "min" else value > self.value

    def update(self, step: int, value: float) -> bool:
        """Record the evaluation at ``step``; whether it is the best so far."""
        if self.better(value):
            self.value, self.step, self.waited = value, step, 0
            return True
        self.waited += 1
        return False

    @property
    def exhausted(self) -> bool:
        """Whether ``patience`` evaluations went by without improving (never with 0)."""
        return self.patience > 0 and self.waited >= self.patience

    def replay(self, records: Iterable[Mapping[str, Any]], start: int) -> None:
        """Pick up a resumed run's history: the evaluations metrics.jsonl holds up to
        ``start``; a best checkpoint saved after ``start`` (by the killed run) goes."""
        for record in records:
            value = record.get(self.metric)
            if isinstance(value, int | float) and record["step"] <= start:
                self.update(int(record["step"]), float(value))
        if self.checkpoints is not None:
            for step in self.checkpoints.all_steps():
                if step > start:
                    self.checkpoints.delete(step)

    def save(self, step: int, params: Any, opt_state: Any, seed: int) -> None:
        if self.checkpoints is not None:
            self.checkpoints.save(step, params, opt_state, seed,
                                  metrics={self.metric: float(self.value or 0.0)})

    def close(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.close()
