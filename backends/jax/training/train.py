"""The training loop: one jitted step, a progress bar, metrics, checkpoints, and safe stops.

A run lives in a folder (``RUN_DIR``)::

    config.json      what was trained: the .task text, settings, seed, versions
    metrics.jsonl    one line per logging step: step, loss, each equation, grad norms
    checkpoints/     Orbax checkpoints, the ``keep`` latest

Reproducibility is by construction: step ``i`` trains on the rows
``feed.Feed.batch(i)`` and the PRNG key ``fold_in(train_key, i)``, both pure
functions of (seed, i), so a run resumed from a checkpoint takes exactly the
steps an uninterrupted one would have and ends with the same parameters, bit
for bit on CPU.

The loop never waits on the accelerator for a step it has just dispatched, and
dispatches one jitted call a step (the key is folded in inside it): the
metrics stay on the device and are read back together (and checked for
NaN/Inf, every step's) after a logging step's successor has been dispatched,
and before every checkpoint, so no checkpoint is written after a non-finite
loss, and the last good one is kept.  The progress bar redraws at most ten
times a second.
"""

from __future__ import annotations

import json
import math
import platform
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from taskdsl.ir import Program

from ..lowering.lower import Lowered, LowerError, make_train_step
from ..nets import NetError
from . import errors, sharding
from . import feed as feeding
from .checkpoint import Checkpoints
from .runs import CONFIG, lower_loading, run_optimizer
from .settings import Settings, objective_name, resolve

__all__ = ["CONFIG", "METRICS", "RunResult", "run_optimizer", "train"]
METRICS = "metrics.jsonl"
VERSIONED = ("taskdsl", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


@dataclass
class RunResult:
    """How a run ended; ``params`` are the final (or, if interrupted, latest) parameters."""

    out: Path
    objective: str
    status: str  # "finished" or "interrupted"
    step: int  # updates done in total, across resumes
    loss: float | None  # the last step's loss, None if no step ran in this call
    metrics: dict[str, float]
    params: Any
    lowered: Lowered
    settings: Settings
    seconds: float


def train(program: Program, objective: str | None = None, settings_overrides: Sequence[str] = (),
          out: str | Path | None = None, resume: bool = False, progress: bool = True
          ) -> RunResult:
    """Train ``objective`` (default: the file's last) of ``program`` into the folder ``out``.

    ``settings_overrides`` are ``--set`` strings (``"steps=500"``).  ``resume``
    continues the run in ``out`` from its latest checkpoint; otherwise ``out``
    must be new or empty.  Raises ``TrainError`` for anything the user can fix
    (its ``exit_code`` says which kind), including a loss that stops being finite.
    SIGINT/SIGTERM stop the run after the current step with a checkpoint saved,
    and the result's ``status`` is ``"interrupted"``.
    """
    started = time.perf_counter()
    name = objective_name(program, objective)
    settings = resolve(program, name, settings_overrides)
    out = Path(out) if out is not None else Path("runs") / name
    previous = _check_run_dir(out, resume, name, settings.seed)
    sharding.initialize_distributed()
    try:
        lowered = lower_loading(program, name, impls=settings.impls)
        optimizer = run_optimizer(settings)
    except (LowerError, NetError) as error:
        raise errors.TrainError.carrying(error) from None
    sources = feeding.bind(lowered.data_requests(), settings.data, name)
    layout = sharding.data_parallel(settings.batch)
    init_opt_state, step_fn = make_train_step(lowered, optimizer, batch_size=settings.batch)
    init_key, train_key = jax.random.split(jax.random.key(settings.seed))
    # Jitted inside; not jitted again here, which would bake loaded models in as constants.
    params = lowered.init(init_key)
    opt_state = init_opt_state(params)
    if layout is not None:
        params, opt_state, train_key = layout.replicate((params, opt_state, train_key))
    feed = feeding.Feed(lowered.data_requests(), sources, settings.batch, settings.seed,
                        process=jax.process_index(), processes=jax.process_count())
    primary = jax.process_index() == 0
    if primary:  # first, so that a folder holding anything holds a run that --resume knows
        _write_config(out, program, name, settings, settings_overrides, lowered, sources,
                      previous)
    with Checkpoints(out, settings.keep) as checkpoints:
        start = checkpoints.latest_step() if resume else None
        if start is not None:
            params, opt_state, _ = checkpoints.restore(start, params, opt_state)
        if primary:
            _trim_metrics(out / METRICS, start or 0)
        loop = _Loop(lowered, settings, checkpoints, out, primary, start)
        with _stop_requests() as stop, _progress_bar(name, settings.steps, progress and primary
                                                      ) as bar:
            params, opt_state = loop.run(params, opt_state, feed, step_fn, train_key, layout,
                                         stop, bar)
    return RunResult(
        out=out, objective=name, status="interrupted" if loop.interrupted else "finished",
        step=loop.step, loss=loop.last.get("loss"), metrics=loop.last, params=params,
        lowered=lowered, settings=settings, seconds=time.perf_counter() - started,
    )


def _check_run_dir(out: Path, resume: bool, objective: str, seed: int) -> dict | None:
    """Refuse to overwrite another run; on resume, the previous config (None if none)."""
    if out.exists() and not out.is_dir():
        raise errors.run_dir_is_file(out)
    if not resume:
        if out.exists() and any(out.iterdir()):
            raise errors.run_dir_not_empty(out)
        return None
    try:
        previous = json.loads((out / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise errors.nothing_to_resume(out) from None
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
    """Record what this run trains; a resume keeps the history of earlier starts."""
    try:
        text = Path(program.path).read_text(encoding="utf-8")
    except OSError:
        text = None
    history = [*previous.get("history", []), _without_history(previous)] if previous else []
    config = {
        "objective": objective,
        "file": program.path,
        "source": text,
        "settings": settings.to_json(),
        "overrides": list(overrides),
        "seed": settings.seed,
        "learners": list(lowered.learner_names),
        "data": {r.key: {"source": r.source, "binding": sources[r.source].binding}
                 for r in lowered.data_requests()},
        "resumed": previous is not None,
        "platform": jax.default_backend(),
        "devices": jax.device_count(),
        "processes": jax.process_count(),
        "versions": _versions(),
        "history": history,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _without_history(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "history"}


def _trim_metrics(path: Path, step: int) -> None:
    """Drop the lines a killed run logged after the checkpoint it is resumed from."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


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


def _keyed(step_fn: Any, names: Sequence[str], source_of: Mapping[str, str] | None) -> Any:
    """``step_fn`` with step ``i``'s key ``fold_in(train_key, i)`` derived inside the same
    jit: one dispatch a step (calling the jitted step inside inlines it).  With
    ``source_of`` (draw key -> source), the batch it takes is ``(data sets on the device,
    rows per draw key)`` and the rows are gathered there: the arrays ``Feed.batch`` would
    have gathered on the host, bit for bit."""

    def keyed(params: Any, opt_state: Any, batch: Any, train_key: jax.Array, i: Any
              ) -> Any:
        if source_of is not None:
            arrays, rows = batch
            batch = {key: tuple(a[r] for a in arrays[source_of[key]])
                     for key, r in rows.items()}
        params, opt_state, metrics = step_fn(params, opt_state, batch,
                                             jax.random.fold_in(train_key, i))
        # One float32 vector in the order of ``names``, one read-back a step (float32
        # holds any narrower float exactly).
        values = jnp.stack([jnp.asarray(metrics[n], jnp.float32) for n in names])
        return params, opt_state, values

    return jax.jit(keyed, donate_argnums=(0, 1))


@jax.jit
def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.isfinite(x).all() for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.stack(leaves).all() if leaves else jnp.array(True)


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
        self.last: dict[str, float] = {}
        # The step's metrics, in the order the loop reads them back (see `step.train_step`).
        self.names = (*lowered.task_names, "loss",
                      *(f"grad_norm/{n}" for n in lowered.learner_names))
        self.interrupted = False
        self._rate_from: tuple[int, float] | None = None

    def run(self, params: Any, opt_state: Any, feed: feeding.Feed, step_fn: Any,
            train_key: jax.Array, layout: sharding.DataParallel | None,
            stop: _StopFlag, bar: _Bar) -> tuple[Any, Any]:
        settings = self.settings
        bar.advance_to(self.step, None, None)
        resident = _resident(feed, layout)
        keyed = _keyed(step_fn, self.names, None if resident is None else feed.source_of)
        pending: list[tuple[int, jax.Array]] = []  # dispatched steps whose metrics are not read
        for i in range(self.start, settings.steps):
            if stop.requested:
                self.interrupted = True
                break
            if resident is not None:
                batch = (resident, feed.rows(i))
            else:
                batch = feed.batch(i)
                if layout is not None:
                    batch = layout.shard(batch)
            params, opt_state, metrics = keyed(params, opt_state, batch, train_key, i)
            if pending and (self._logs(pending[-1][0]) or len(pending) >= READ_BACK_EVERY):
                self._finish(pending, bar)  # after the next step is dispatched
            pending.append((i + 1, metrics))
            self.step = i + 1
            if self.step % settings.checkpoint_every == 0 or self.step == settings.steps:
                self._finish(pending, bar)
                self._save(params, opt_state)
            else:
                bar.tick(self.step)
        self._finish(pending, bar)
        if self.interrupted and self.saved != self.step:
            self._save(params, opt_state)
        return params, opt_state

    def _save(self, params: Any, opt_state: Any) -> None:
        if not bool(_all_finite(params)):
            raise errors.diverged(self.step, (), (), self.saved)
        self.checkpoints.save(self.step, params, opt_state, self.settings.seed)
        self.saved = self.step

    def _finish(self, pending: list[tuple[int, jax.Array]], bar: _Bar) -> None:
        """Read the dispatched steps' metrics back, in one transfer: stop at the first
        NaN/Inf, log, move the bar.  Empties ``pending``."""
        if not pending:
            return
        fetched = jax.device_get([metrics for _, metrics in pending])
        steps = [step for step, _ in pending]
        pending.clear()
        for step, metrics in zip(steps, fetched, strict=True):
            values = {k: float(v) for k, v in zip(self.names, metrics, strict=True)}
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad or self._logs(step):
                shown = {k: v if math.isfinite(v) else None for k, v in values.items()}
                self._log({"step": step, "loss": shown.pop("loss"), **shown})
            if bad:
                equations = [k for k in bad if k in self.tasks]
                learners = [k.removeprefix("grad_norm/") for k in bad
                            if k.startswith("grad_norm/")]
                raise errors.diverged(step, equations, learners, self.saved)
            self.last = values
        bar.advance_to(steps[-1], self.last["loss"], self._rate(steps[-1]))

    def _logs(self, step: int) -> bool:
        return step == 1 or step % self.settings.log_every == 0 or step == self.settings.steps

    def _log(self, record: dict) -> None:
        if self.primary:
            with self.metrics_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _rate(self, step: int) -> float | None:
        """Steps per second since the first finished step (which pays for compilation)."""
        now = time.perf_counter()
        if self._rate_from is None:
            self._rate_from = (step, now)
            return None
        first, since = self._rate_from
        return (step - first) / (now - since) if now > since else None


# -- stopping on a signal -----------------------------------------------------


class _StopFlag:
    requested: int | None = None


@contextmanager
def _stop_requests() -> Iterator[_StopFlag]:
    """SIGINT or SIGTERM asks the loop to stop after its current step; a second SIGINT
    interrupts at once.  Signals can only be caught in the main thread; elsewhere the
    defaults stay."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handle(signum: int, frame: object) -> None:
        if flag.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.requested = signum

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# -- the progress bar -----------------------------------------------------------


class _Bar:
    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress = progress
        self.task = task
        self._drawn = 0.0

    # Redrawing a terminal line costs more than a small step: at most this often.
    interval = 0.1

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
    )
    with progress:
        yield _Bar(progress, progress.add_task(objective, total=steps, loss="…", rate="…"))
