"""The training loop: one jitted step, a progress bar, metrics, checkpoints, and safe stops.

A run lives in a folder (``RUN_DIR``)::

    config.json      what was trained: the .task text (and every file it imports), settings,
                     seed, versions
    metrics.jsonl    one line per logging step: step, loss, each equation, grad norms,
                     wall time, examples/s, and at evaluation steps ``eval/...``
    checkpoints/     Orbax checkpoints, the ``keep`` latest, each with its files' SHA-256
    tb/              TensorBoard event files (``tensorboard = false`` turns them off)
    best/            the best checkpoint by ``keep_best`` (only with that setting)

A run holds the folder's lock (``lock.py``) from before it looks at the folder to its
end, so a second ``train`` into it is refused.  ``--resume`` goes on from the newest
checkpoint that verifies (``checkpoint.py``), removing damaged newer ones, and drops
a torn last line of ``metrics.jsonl``, which is appended one whole line at a time.

Reproducibility is by construction: step ``i`` trains on the rows
``feed.Feed.batch(i)`` and the PRNG key ``fold_in(train_key, i)``, both pure
functions of (seed, i), so a run resumed from a checkpoint takes exactly the
steps an uninterrupted one would have and ends with the same parameters, bit
for bit on CPU.

The loop never waits on the accelerator for a step it has just dispatched, and
dispatches one jitted call for one or several steps (``steps_per_call``,
``scan.py``; the key is folded in inside it, so the grouping changes nothing):
the metrics stay on the device and are read back together (and checked for
NaN/Inf, every step's) after the call that follows a logging step's has been dispatched,
and before every checkpoint, so no checkpoint is written after a non-finite
loss, and the last good one is kept.  The progress bar redraws at most four times a
second.  Checkpoints follow ``checkpoint_every`` (``checkpoint.due``: by default at
multiples of 200 steps at most once every 30 s, and the last step).  Evaluations
on held-out data (``eval_every``) wait for their result, since ``keep_best`` and
``patience`` act on it; see ``watch.py``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from taskdsl.ir import Program
from taskdsl.loader import import_texts
from taskdsl.queries import user_function_paths

from .. import trust
from ..evaluation import pictures
from ..lowering.lower import Lowered, LowerError, make_train_step
from ..messages import note, phrase
from ..nets import NETS, NetError
from . import checkpoint, errors, lock, memory, scan, sharding, stopping, watch
from . import feed as feeding
from .checkpoint import Checkpoints
from .files import append_text, write_text
from .runs import CLASS_NAMES, CONFIG, lower_loading, run_optimizer
from .settings import AUTO, Settings, objective_name, resolve, reweighted

__all__ = ["CONFIG", "METRICS", "RunResult", "run_optimizer", "train"]
METRICS = "metrics.jsonl"
VERSIONED = ("taskdsl", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


@dataclass
class RunResult:
    """How a run ended; ``params`` are the final (or, if interrupted, latest) parameters."""

    out: Path
    objective: str
    status: str  # "finished", "interrupted", or "stopped" (early, by `patience`)
    step: int  # updates done in total, across resumes
    loss: float | None  # the last step's loss, None if no step ran in this call
    metrics: dict[str, float]
    params: Any
    lowered: Lowered
    settings: Settings
    seconds: float
    steps_per_call: int = 1  # what the run's last calls took (`steps_per_call`)


def train(program: Program, objective: str | None = None, settings_overrides: Sequence[str] = (),
          out: str | Path | None = None, resume: bool = False, progress: bool = True
          ) -> RunResult:
    """Train ``objective`` (default: the file's last) of ``program`` into the folder ``out``.

    ``settings_overrides`` are ``--set`` strings (``"steps=500"``).  ``resume``
    continues the run in ``out`` from its latest checkpoint; otherwise ``out``
    must be new or empty.  Raises ``TrainError`` for anything the user can fix
    (its ``exit_code`` says which kind), including a loss that stops being finite.
    SIGINT/SIGTERM stop the run after the current step with a checkpoint saved,
    and the result's ``status`` is ``"interrupted"``; a run that ``patience`` stops
    early saves one too, and its ``status`` is ``"stopped"``.
    """
    started = time.perf_counter()
    name = objective_name(program, objective)
    settings = resolve(program, name, settings_overrides)
    out = Path(out) if out is not None else Path("runs") / name
    # One run at a time in a folder (lock.py): a folder in use is refused first.
    lock.refuse_if_busy(out)
    previous = _check_run_dir(out, resume, name, settings.seed)
    sharding.initialize_distributed()
    primary = jax.process_index() == 0
    with lock.holding(out) if primary else contextlib.nullcontext():
        if primary:  # again, now that no other run can change it
            previous = _check_run_dir(out, resume, name, settings.seed)
        return _train(program, name, settings, settings_overrides, out, resume, progress,
                      primary, started, previous)


def _train(program: Program, name: str, settings: Settings, settings_overrides: Sequence[str],
           out: Path, resume: bool, progress: bool, primary: bool, started: float,
           previous: dict | None) -> RunResult:
    """``train``, once the folder is locked; ``previous`` is the config of the run resumed."""
    history = _read_metrics(out / METRICS) if resume and primary else []
    try:
        lowered = lower_loading(reweighted(program, name, settings.weights), name,
                                impls=settings.impls)  # weights: `--set weight.TASK=W`
        optimizer = run_optimizer(settings)
    except (LowerError, NetError) as error:
        raise errors.TrainError.carrying(error) from None
    sources = feeding.bind(lowered.data_requests(), settings.data, name)
    # Before the folder is written to, like the training data: a missing test split stops here.
    held_out = watch.held_out_feed(lowered, settings, name) if settings.eval_every else None
    layout = sharding.data_parallel(settings.batch)
    init_opt_state, step_fn = make_train_step(lowered, optimizer, batch_size=settings.batch,
                                              precision=settings.precision,
                                              matmul_precision=settings.matmul_precision)
    # Before anything is allocated or compiled: a run that would not fit is refused.
    memory.check_run(program, name, settings_overrides, lowered, init_opt_state, step_fn,
                     sources, settings, RESIDENT_BYTES if layout is None
                     and jax.process_count() == 1 else -1)
    init_key, train_key = jax.random.split(jax.random.key(settings.seed))
    # Jitted inside; not jitted again here, which would bake loaded models in as constants.
    params = lowered.init(init_key)
    opt_state = init_opt_state(params)
    if layout is not None:
        params, opt_state, train_key = layout.replicate((params, opt_state, train_key))
    feed = feeding.Feed(lowered.data_requests(), sources, settings.batch, settings.seed,
                        process=jax.process_index(), processes=jax.process_count())
    if primary:  # first, so that a folder holding anything holds a run that --resume knows
        _write_config(out, program, name, settings, settings_overrides, lowered, sources,
                      previous)
    with Checkpoints(out, settings.keep) as checkpoints:
        restored = checkpoints.restore_latest(params, opt_state, _say) if resume else None
        start = None if restored is None else restored.step
        if restored is not None:
            params, opt_state = restored.params, restored.opt_state
            for step in restored.corrupt if primary else ():  # newer than `start`: redone
                checkpoints.delete(step)
                _say(note("checkpoint-removed", step=step, used=start))
        if primary:
            history = _trim_metrics(out / METRICS, history, start or 0)
        loop = _Loop(lowered, settings, checkpoints, out, primary, start)
        with _Watchers.open(lowered, settings, name, feed, held_out, layout, out, primary,
                            start or 0, history) as watchers, \
                stopping.stop_requests() as stop, \
                _progress_bar(name, settings.steps, progress and primary) as bar:
            loop.watch(watchers, started, history)
            params, opt_state = loop.run(params, opt_state, feed, step_fn, train_key, layout,
                                         stop, bar)
    status = "interrupted" if loop.interrupted else "stopped" if loop.stopped else "finished"
    return RunResult(
        out=out, objective=name, status=status,
        step=loop.step, loss=loop.last.get("loss"), metrics=loop.last, params=params,
        lowered=lowered, settings=settings, seconds=time.perf_counter() - started,
        steps_per_call=loop.steps_per_call,
    )


def _check_run_dir(out: Path, resume: bool, objective: str, seed: int) -> dict | None:
    """Refuse to overwrite another run; on resume, the previous config (None if none)."""
    if out.exists() and not out.is_dir():
        raise errors.run_dir_is_file(out)
    if not resume:
        if out.exists() and not lock.only_lock(out.iterdir()):
            raise errors.run_dir_not_empty(out)
        return None
    path = out / CONFIG
    if not path.is_file():
        raise errors.nothing_to_resume(out)
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise errors.resume_config_corrupt(path, str(error)) from None
    if not isinstance(previous, dict):
        raise errors.resume_config_corrupt(path, phrase("config-not-object"))
    if previous.get("objective") != objective:
        raise errors.resume_other_objective(out, previous.get("objective"), objective)
    if previous.get("seed") != seed:
        raise errors.resume_other_seed(out, previous.get("seed"), seed)
    return previous


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _write_config(out: Path, program: Program, objective: str, settings: Settings,
                  overrides: Sequence[str], lowered: Lowered,
                  sources: Mapping[str, feeding.BoundSource], previous: dict | None) -> None:
    """Record what this run trains; a resume keeps the history of earlier starts.

    The file is named by its absolute path, and the text of every file it imports is
    recorded by theirs, so that the run reloads as trained from any working directory,
    however those files change later (``load_run``)."""
    try:
        text = Path(program.path).read_text(encoding="utf-8")
        file = str(Path(program.path).resolve())
    except (OSError, ValueError):  # not a file (`<input>`), or a path no system call takes
        text, file = None, program.path
    history = [*previous.get("history", []), _without_history(previous)] if previous else []
    config = {
        "objective": objective,
        "file": file,
        "source": text,
        "imported": import_texts(text, file) if text is not None else {},
        "settings": settings.to_json(),
        "overrides": list(overrides),
        "seed": settings.seed,
        "learners": list(lowered.learner_names),
        # What resolving its nets imports: `eval` and `load(...)` refuse a run whose
        # imports the trust policy does not allow (docs/security.md).
        "imports": trust.imports({**program.impls, **settings.impls}, NETS,
                                 user_function_paths(program, settings.impls)),
        "data": {r.key: {"source": r.source, "binding": sources[r.source].binding}
                 for r in lowered.data_requests()},
        # So `eval`, `predict` and reports name the classes without the data at hand.
        CLASS_NAMES: {name: [list(n) if n is not None else None for n in source.class_names]
                      for name, source in sources.items() if any(source.class_names)},
        "resumed": previous is not None,
        "platform": jax.default_backend(),
        "devices": jax.device_count(),
        "processes": jax.process_count(),
        "versions": _versions(),
        "history": history,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / CONFIG, json.dumps(config, indent=2) + "\n")


def _without_history(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "history"}


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a run's metrics file, to resume it.  A killed run can have torn only
    the last line (each record is one append of a whole line): that one, if it is not a
    record, is dropped, saying so; any earlier line that is not is ``metrics-corrupt``."""
    if not path.exists():
        return []
    numbered = [(n, line) for n, line in enumerate(path.read_bytes().split(b"\n"), 1)
                if line.strip()]
    records = []
    for n, line in numbered:
        try:
            record = json.loads(line)  # bytes: UTF-8 (a cut character is a ValueError too)
            reason = (None if isinstance(record, dict) and type(record.get("step")) is int
                      else phrase("metrics-no-step"))
        except ValueError as error:
            reason = phrase("metrics-not-json", reason=error)
        if reason is None:
            records.append(record)
        elif n == numbered[-1][0]:
            _say(note("metrics-torn-line", path=path))
        else:
            raise errors.metrics_corrupt(path, n, reason)
    return records


def _trim_metrics(path: Path, records: Sequence[dict[str, Any]], step: int
                  ) -> list[dict[str, Any]]:
    """Keep the records up to the checkpoint a run resumes from (a killed run logged the
    rest, and will again), rewriting the file whole (``files.write_text``); those kept."""
    if not path.exists():
        return []
    kept = [r for r in records if r["step"] <= step]
    write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


@dataclass
class _Watchers:
    """What watches this call's steps besides metrics.jsonl (``watch.py``), each ``None``
    when off: TensorBoard (primary process only), held-out evaluation, pictures, the
    ``keep_best``/``patience`` tracker."""

    board: watch.Board | None = None
    evaluation: watch.Evaluation | None = None
    pictures: watch.Pictures | None = None
    best: watch.Best | None = None

    @classmethod
    @contextmanager
    def open(cls, lowered: Lowered, settings: Settings, objective: str, feed: feeding.Feed,
             held_out: feeding.Feed | None, layout: sharding.DataParallel | None, out: Path,
             primary: bool, start: int, history: Sequence[Mapping[str, Any]]
             ) -> Iterator[_Watchers]:
        """The watchers ``settings`` ask for; ``held_out`` is the evaluation's data (needed
        with ``eval_every``), ``history`` the metrics lines a resumed run kept."""
        found = cls()
        try:
            if held_out is not None:
                found.evaluation = watch.Evaluation(lowered, held_out, settings, layout)
            if settings.tensorboard and primary:
                found.board = watch.Board(out, lowered.task_names, start,
                                          watch.learning_rate(settings.optimizer))
                if jax.process_count() == 1:
                    found.pictures = _pictures(lowered, settings, objective, feed, held_out)
            if settings.eval_every and (settings.keep_best or settings.patience):
                found.best = watch.Best(out, settings.keep_best or "eval/total",
                                        settings.keep_best_mode if settings.keep_best else "min",
                                        settings.patience, keep=settings.keep_best is not None)
                found.best.replay(history, start)
            yield found
        finally:
            if found.board is not None:
                found.board.close()
            if found.best is not None:
                found.best.close()


def _pictures(lowered: Lowered, settings: Settings, objective: str, feed: feeding.Feed,
              held_out: feeding.Feed | None) -> watch.Pictures | None:
    """The pictures of image-valued learner outputs, on the first held-out batch (the first
    training batch when the data have no test part); ``None`` if nothing is an image."""
    if not any(pictures.is_drawable(w) for n in lowered.learner_names
               for w in lowered.learners[n].signature.outputs):
        return None
    if held_out is None:
        try:
            held_out = watch.held_out_feed(lowered, settings, objective)
        except errors.TrainError:
            held_out = feed
    return watch.Pictures(lowered, held_out.batch(0), settings)


GRAD_NORM = scan.GRAD_NORM

# Metrics of at most this many steps wait on the device to be read back.
READ_BACK_EVERY = 1000

# Data sets up to this size live on the device for the whole run (single-device runs).
RESIDENT_BYTES = 1 << 30


def _resident(feed: feeding.Feed, layout: sharding.DataParallel | None
              ) -> dict[str, tuple[jax.Array, ...]] | None:
    """The drawn data sets put on the device once, per source, when a single process on a
    single device draws them and they fit (``RESIDENT_BYTES``); else ``None``: each step's
    batch is gathered on the host (and sharded)."""
    if layout is not None or jax.process_count() > 1 or not feed.requests:
        return None
    if feed.nbytes > RESIDENT_BYTES:
        return None
    return {name: tuple(jax.device_put(a) for a in feed.sources[name].arrays)
            for name in set(feed.source_of.values())}


@jax.jit
def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.isfinite(x).all() for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.stack(leaves).all() if leaves else jnp.array(True)


class _Calls:
    """The jitted calls that take a run's steps: one step a call, or up to ``length``
    (``scan.py``), each call taking ``count <= length`` of them: a loop on the device
    (``scan.many_steps``), or with several devices one step a call (``scan.one_step``).

    ``steps_per_call = auto`` compiles calls of up to ``bound`` steps (the logging,
    checkpoint and evaluation cadence) and, once the first call (which compiles) is
    done, times calls of 1, 2, 4, ... steps (:func:`_probed`), then takes calls of
    about ``scan.TARGET_SECONDS`` (one step a call for a step slower than that).  A whole
    number is taken as it is (at most ``bound``).  Several steps a call need one
    device: a run sharded over several takes one a call; ``auto`` also needs the data
    on the device (a whole number stacks the host's batches)."""

    def __init__(self, step_fn: Any, names: Sequence[str], feed: feeding.Feed,
                 resident: dict[str, tuple[jax.Array, ...]] | None,
                 layout: sharding.DataParallel | None, setting: int | str, bound: int) -> None:
        self.step_fn, self.names, self.feed = step_fn, names, feed
        self.resident, self.layout = resident, layout
        self.source_of = None if resident is None else feed.source_of
        self.one: Any = None
        self.many: Any = None
        self.capacity = 1  # the most steps the compiled call takes
        self.length = 1  # the most steps a call takes now
        self.probing = (setting == AUTO and layout is None and resident is not None
                        and bound > 1)
        self._timed_from: float | None = None
        self._fastest = math.inf  # the least seconds a step took in a timed call
        self.host: Any = None  # the unjitted step, once a CPU convolution step needs it
        self._decided = False
        self._prefetch = feeding.Prefetch(self._made)  # data not on the device
        # On one device every call is the same loop (of one step or more): XLA compiles a
        # step alone and a step inside a loop differently (a convolution's rounding can
        # differ), and a run must not depend on how its steps were grouped.
        if self.probing:
            self._stack(min(bound, scan.MOST_STEPS_PER_CALL))
        elif layout is None:
            self._stack(min(setting, bound) if isinstance(setting, int) else 1)
            self.length = self.capacity

    def _stack(self, capacity: int) -> None:
        self.capacity = capacity
        self.many = scan.many_steps(self.step_fn, self.names, self.source_of, capacity)

    def __call__(self, params: Any, opt_state: Any, train_key: jax.Array, first: int,
                 count: int) -> tuple[Any, Any, jax.Array]:
        """Take steps ``first .. first + count - 1``: the parameters, optimizer state and
        metrics (one row a step, or one vector for a one-step call), all on the device."""
        if self.host is not None:
            return self.host(params, opt_state, self._batch(first), train_key, first)
        if self.many is None:
            if self.one is None:
                self.one = scan.one_step(self.step_fn, self.names, self.source_of)
            return self.one(params, opt_state, self._batch(first), train_key, first)
        if self.resident is not None:
            stacked = (self.resident, self.feed.stacked_rows(first, count, self.capacity))
        else:
            batches = [self._batch(first + n, stacked=True) for n in range(count)]
            stacked = jax.tree.map(lambda *xs: _padded(xs, self.capacity), *batches)
        return self.many(params, opt_state, stacked, train_key, first, count)

    def decide(self, params: Any, opt_state: Any, train_key: jax.Array, first: int) -> None:
        """Before the first call: whether this run takes its steps from the host
        (:meth:`_avoid_slow_loops`), which sets ``length`` to one."""
        if not self._decided:
            self._decided = True
            self._avoid_slow_loops(params, opt_state, train_key, first)

    def _avoid_slow_loops(self, params: Any, opt_state: Any, train_key: jax.Array,
                          first: int) -> None:
        """On the CPU, a step with a convolution runs one step a call, dispatched from the
        host: XLA's CPU backend runs a convolution inside a loop or a ``lax.switch`` far
        slower than at a jitted function's top level (a small conv net's step: 0.15 s
        alone, 5 s inside a one-turn ``fori_loop``), and an alternating schedule's step,
        called from the host, runs each phase's own top-level compiled step.  Decided from
        the step's jaxpr, the same way in every process, so a resumed run takes its steps
        as an uninterrupted one does."""
        if jax.default_backend() != "cpu" or self.layout is not None:
            return
        body = scan.keyed_body(self.step_fn, self.names, self.source_of)
        traced = jax.make_jaxpr(body)(params, opt_state, self._batch(first), train_key, first)
        if "conv_general_dilated" in str(traced):
            self.host, self.many, self.probing, self.length = body, None, False, 1

    def _batch(self, step: int, stacked: bool = False) -> Any:
        """Step ``step``'s batch: its rows of the data on the device, or its arrays."""
        if self.resident is not None:
            rows = self.feed.rows(step)
            return rows if stacked else (self.resident, rows)
        return self._prefetch(step)

    def _made(self, step: int) -> Any:
        """Step ``step``'s batch gathered on the host, sharded where there are devices."""
        batch = self.feed.batch(step)
        return self.layout.shard(batch) if self.layout is not None else batch

    def close(self) -> None:
        self._prefetch.close()

    def measure(self, count: int, metrics: jax.Array) -> None:
        """``auto``: wait for the call just dispatched (``count`` steps) and time it from
        the end of the one before (the first compiles, and is not timed)."""
        if not self.probing:
            return
        metrics.block_until_ready()
        now = time.perf_counter()
        if self._timed_from is not None:
            self.length, self.probing, self._fastest = _probed(
                self.length, self.capacity, (now - self._timed_from) / count, self._fastest)
        self._timed_from = time.perf_counter()


def _probed(length: int, capacity: int, seconds_per_step: float, best: float
            ) -> tuple[int, bool, float]:
    """``auto``'s next call length after a timed call of up to ``length`` steps took
    ``seconds_per_step`` each (its dispatch included), whether to time the next, and
    the least time a step has taken so far (``best``: ``inf`` before any).

    Twice as long each time, until a call takes half of ``scan.TARGET_SECONDS`` or is
    as long as compiled, then calls of about ``TARGET_SECONDS`` by the least time a
    step took: a one-step call costs its dispatch more than its step, so a small
    model's steps are timed in calls long enough to spread it over many, and a slow
    step is known after two calls.  A call waits for nothing else, but can be held
    up (a busy machine, the collector): never one timing alone decides."""
    fastest = min(best, seconds_per_step)
    if best < math.inf and (length >= capacity
                            or fastest * length >= scan.TARGET_SECONDS / 2):
        return scan.chosen(fastest, capacity), False, fastest
    return min(2 * length, capacity), True, fastest


def _padded(arrays: Sequence[np.ndarray], length: int) -> np.ndarray:
    """``arrays`` stacked, then zeros up to ``length`` (rows a call does not read)."""
    stacked = np.zeros((length, *arrays[0].shape), arrays[0].dtype)
    stacked[:len(arrays)] = arrays
    return stacked


class _Loop:
    """The steps of one call to ``train``, with what it has seen so far."""

    def __init__(self, lowered: Lowered, settings: Settings, checkpoints: Checkpoints,
                 out: Path, primary: bool, start: int | None) -> None:
        self.settings = settings
        self.checkpoints = checkpoints
        self.metrics_path = out / METRICS
        self.primary = primary
        self.tasks = set(lowered.task_names)
        self.start = start or 0
        self.step = self.start  # updates done
        self.saved = start  # step of the latest checkpoint
        self._saved_at = time.monotonic()  # when it was saved (or this call started)
        self.last: dict[str, float] = {}
        # The step's metrics, in the order the loop reads them back (see `step.train_step`).
        self.names = (*lowered.task_names, "loss", GRAD_NORM,
                      *(f"{GRAD_NORM}/{n}" for n in lowered.learner_names))
        self.interrupted = False
        self.stopped = False  # early, by `patience`
        self._rate_from: tuple[int, float] | None = None
        self.watchers = _Watchers()
        self._started = time.perf_counter()
        self._wall_offset = 0.0  # a resumed run's wall time before this call
        self._logged: tuple[int, float] = (self.start, self._started)  # step, time
        self._evals: dict[int, jax.Array] = {}  # evaluations not read back, by step
        self._improved = False  # the last evaluation is the best so far
        self.steps_per_call = 1  # what the last call took, once `run` has chosen
        self._metrics_fd: int | None = None  # metrics.jsonl, open while `run` logs

    def watch(self, watchers: _Watchers, started: float,
              history: Sequence[Mapping[str, Any]]) -> None:
        """Watch the steps with ``watchers``; wall times count from ``started`` (a resumed
        run's go on from the last line ``history`` kept)."""
        self.watchers = watchers
        self._started = started
        self._logged = (self.start, started)
        times = [r["wall_time"] for r in history if isinstance(r.get("wall_time"), int | float)]
        self._wall_offset = float(times[-1]) if times else 0.0

    def run(self, params: Any, opt_state: Any, feed: feeding.Feed, step_fn: Any,
            train_key: jax.Array, layout: sharding.DataParallel | None,
            stop: stopping.StopFlag, bar: _Bar) -> tuple[Any, Any]:
        """Take the steps from ``self.step`` to ``settings.steps`` (or a stop); the final
        parameters and optimizer state."""
        self._saved_at = time.monotonic()  # `checkpoint_every = auto` counts from here
        bar.advance_to(self.step, None, None)
        calls = _Calls(step_fn, self.names, feed, _resident(feed, layout), layout,
                       self.settings.steps_per_call, self._cadence())
        try:
            return self._run(params, opt_state, calls, train_key, stop, bar)
        finally:
            calls.close()  # the batch made ahead, if any, is dropped
            if self._metrics_fd is not None:
                os.close(self._metrics_fd)
                self._metrics_fd = None

    def _run(self, params: Any, opt_state: Any, calls: _Calls, train_key: jax.Array,
             stop: stopping.StopFlag, bar: _Bar) -> tuple[Any, Any]:
        settings = self.settings
        # Dispatched calls whose metrics are not read: (first step, steps taken, metrics).
        pending: list[tuple[int, int, jax.Array]] = []
        i = self.start
        while i < settings.steps:
            if stop.requested:
                self.interrupted = True
                break
            calls.decide(params, opt_state, train_key, i)
            count = min(calls.length, self._boundary(i) - i)
            params, opt_state, metrics = calls(params, opt_state, train_key, i, count)
            if pending and (self._logs_in(*pending[-1][:2])
                            or sum(n for _, n, _ in pending) >= READ_BACK_EVERY):
                self._finish(pending, bar)  # after the next call is dispatched
            pending.append((i, count, metrics))
            i += count
            self.step = i
            calls.measure(count, metrics)
            evaluates = self._evaluates(self.step)
            if evaluates:  # dispatched now, read back with this step's metrics
                assert self.watchers.evaluation is not None
                self._evals[self.step] = self.watchers.evaluation(params)
            if (self.step == settings.steps or checkpoint.due(
                    self.step, settings.checkpoint_every, self._saved_at, time.monotonic())):
                self._finish(pending, bar)
                self._keep_best(params, opt_state)
                self._save(params, opt_state)
            elif evaluates:
                self._finish(pending, bar)
                self._keep_best(params, opt_state)
            else:
                bar.tick(self.step)
            if self.stopped:
                break
        self._finish(pending, bar)
        self.steps_per_call = calls.length
        if (self.interrupted or self.stopped) and self.saved != self.step:
            self._save(params, opt_state)
        return params, opt_state

    def _cadence(self) -> int:
        """The most steps a call may take: the logging, checkpoint and evaluation cadence."""
        settings = self.settings
        every = [settings.log_every, checkpoint.period(settings.checkpoint_every),
                 settings.steps]
        if self._evaluating:
            every.append(settings.eval_every)
        return min(every)

    def _boundary(self, i: int) -> int:
        """The first step after ``i`` that a call must end at: the host needs its
        parameters (a checkpoint, an evaluation, the end)."""
        settings = self.settings
        every = checkpoint.period(settings.checkpoint_every)
        ends = [settings.steps, (i // every + 1) * every]
        if self._evaluating:
            ends.append((i // settings.eval_every + 1) * settings.eval_every)
        return min(ends)

    def _logs_in(self, first: int, count: int) -> bool:
        """Whether the call that took steps ``first + 1 .. first + count`` logs one
        (:meth:`_logs` of any of them, counted rather than tried a step at a time)."""
        last = first + count
        every = [self.settings.log_every]
        if self._evaluating:
            every.append(self.settings.eval_every)
        return (count > 0 and (first < 1 <= last or first < self.settings.steps <= last
                               or any(last // k > first // k for k in every)))

    @property
    def _evaluating(self) -> bool:
        return bool(self.settings.eval_every) and self.watchers.evaluation is not None

    def _evaluates(self, step: int) -> bool:
        every = self.settings.eval_every
        return bool(every) and self.watchers.evaluation is not None and step % every == 0

    def _keep_best(self, params: Any, opt_state: Any) -> None:
        """After an evaluation that is the best so far, save it into ``best/``."""
        best = self.watchers.best
        if self._improved and best is not None and best.step == self.step:
            best.save(self.step, params, opt_state, self.settings.seed)
        self._improved = False

    def _save(self, params: Any, opt_state: Any) -> None:
        if not bool(_all_finite(params)):
            raise errors.diverged(self.step, (), (), self.saved)
        self.checkpoints.save(self.step, params, opt_state, self.settings.seed)
        self.saved = self.step
        self._saved_at = time.monotonic()
        board, drawn = self.watchers.board, self.watchers.pictures
        if board is not None and drawn:
            board.images(self.step, drawn(params))

    def _finish(self, pending: list[tuple[int, int, jax.Array]], bar: _Bar) -> None:
        """Read the dispatched calls' metrics back, in one transfer: stop at the first
        NaN/Inf (naming its step, whichever call took it), log, move the bar.  Empties
        ``pending``."""
        if not pending:
            return
        self.checkpoints.poll()  # a save finished since gets its checksums now
        fetched, evals = jax.device_get(([metrics for _, _, metrics in pending], self._evals))
        self._evals = {}
        values = np.concatenate([np.reshape(v, (-1, len(self.names)))[:count]
                                 for (_, count, _), v in zip(pending, fetched, strict=True)])
        steps = np.concatenate([np.arange(first + 1, first + count + 1)
                                for first, count, _ in pending])
        pending.clear()
        finite = np.isfinite(values).all(axis=1)
        # Only the rows a line is written for, and the first non-finite one, are looked at.
        for n in np.flatnonzero(~finite | self._logs_each(steps)):
            step, row = int(steps[n]), values[n]
            shown = {k: v if math.isfinite(v) else None
                     for k, v in zip(self.names, row.tolist(), strict=True)}
            record = {"step": step, "loss": shown.pop("loss"), **shown, **self._timing(step)}
            if step in evals and finite[n]:
                record.update(self._evaluated(step, evals[step]))
            self._log(record)
            if not finite[n]:
                self.last = self._values(values[n - 1]) if n else self.last
                bad = [k for k, v in zip(self.names, row, strict=True) if not np.isfinite(v)]
                equations = [k for k in bad if k in self.tasks]
                learners = [k.removeprefix("grad_norm/") for k in bad
                            if k.startswith("grad_norm/")]
                raise errors.diverged(step, equations, learners, self.saved)
        self.last = self._values(values[-1])
        bar.advance_to(int(steps[-1]), self.last["loss"], self._rate(int(steps[-1])))

    def _values(self, row: np.ndarray) -> dict[str, float]:
        return dict(zip(self.names, row.tolist(), strict=True))  # Python floats

    def _logs_each(self, steps: np.ndarray) -> np.ndarray:
        """:meth:`_logs` of each of ``steps``."""
        settings = self.settings
        logs = (steps == 1) | (steps % settings.log_every == 0) | (steps == settings.steps)
        if self._evaluating:
            logs |= steps % settings.eval_every == 0
        return logs

    def _logs(self, step: int) -> bool:
        return (step == 1 or step % self.settings.log_every == 0 or step == self.settings.steps
                or self._evaluates(step))

    def _log(self, record: dict) -> None:
        if self.primary:  # one append of a whole line: a kill tears at most this one
            if self._metrics_fd is None:
                # Made as files.py makes it (never through a link), then held open for
                # the loop: opening it again for each line costs a small model's loop
                # more than writing the line.
                append_text(self.metrics_path, "")
                self._metrics_fd = os.open(self.metrics_path, os.O_WRONLY | os.O_APPEND
                                           | getattr(os, "O_NOFOLLOW", 0))
            line = (json.dumps(record) + "\n").encode()
            while line:  # one write (a regular file takes it whole)
                line = line[os.write(self._metrics_fd, line):]
            if self.watchers.board is not None:
                self.watchers.board.scalars(record)

    def _timing(self, step: int) -> dict[str, float | None]:
        """A logged line's ``wall_time`` (seconds since the run started, across resumes)
        and ``examples_per_second`` since the previous logged line (the first pays for
        compiling)."""
        now = time.perf_counter()
        first, since = self._logged
        self._logged = (step, now)
        rate = (step - first) * self.settings.batch / (now - since) if now > since else None
        return {"wall_time": round(self._wall_offset + now - self._started, 4),
                "examples_per_second": rate}

    def _evaluated(self, step: int, values: Any) -> dict[str, Any]:
        """An evaluation's keys for its step's line (``eval/...``; with ``keep_best`` or
        ``patience``, ``best_step``; ``early_stop`` on the line that stops the run)."""
        evaluation = self.watchers.evaluation
        assert evaluation is not None
        found: dict[str, Any] = {k: float(v) if math.isfinite(float(v)) else None
                                 for k, v in zip(evaluation.names, values, strict=True)}
        best = self.watchers.best
        if best is None:
            return found
        value = found.get(best.metric)
        self._improved = best.update(step, float("nan") if value is None else value)
        found["best_step"] = best.step
        if best.exhausted and step < self.settings.steps:
            self.stopped = True
            found["early_stop"] = True
            if self.primary:
                _say(self._stop_note(step, best))
        return found

    def _stop_note(self, step: int, best: watch.Best) -> str:
        details = {"step": step, "metric": best.metric, "patience": best.patience,
                   "best": best.value if best.value is not None else float("nan"),
                   "best_step": best.step}
        if best.folder is not None:
            return note("train-stopped-early", folder=best.folder, **details)
        return note("train-stopped-early-unkept", **details)

    def _rate(self, step: int) -> float | None:
        """Steps per second since the first finished step (which pays for compilation)."""
        now = time.perf_counter()
        if self._rate_from is None:
            self._rate_from = (step, now)
            return None
        first, since = self._rate_from
        return (step - first) / (now - since) if now > since else None


def _say(text: str) -> None:
    """A note on stderr (between the progress bar's redraws)."""
    print(text, file=sys.stderr, flush=True)


# -- the progress bar -----------------------------------------------------------


class _Bar:
    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress = progress
        self.task = task
        self._drawn = 0.0

    # Redrawing a terminal line costs more than a small step (some 1.5 ms, rich's own
    # refreshes included): at most this often.
    interval = 0.25

    def tick(self, step: int) -> None:
        """Move the bar to ``step`` (the loss shown stays the last read), if it is time."""
        now = time.perf_counter()
        if now - self._drawn >= self.interval:
            self._drawn = now
            self.progress.update(self.task, completed=step)

    def advance_to(self, step: int, loss: float | None, rate: float | None) -> None:
        self._drawn = time.perf_counter()
        self.progress.update(
            self.task, completed=step,
            loss="…" if loss is None else f"{loss:.4g}",
            rate="…" if rate is None else f"{rate:.1f}",
        )


@contextmanager
def _progress_bar(objective: str, steps: int, enabled: bool) -> Iterator[_Bar]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]} steps/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        refresh_per_second=1 / _Bar.interval,
    )
    with progress:
        yield _Bar(progress, progress.add_task(objective, total=steps, loss="…", rate="…"))
