"""Checkpoints of a run (Orbax): parameters, optimizer state, and where the run stands.

A checkpoint is ``RUN_DIR/checkpoints/<step>/`` with two items: ``state``
(``{"params": ..., "opt_state": ...}``) and ``meta`` (JSON: ``step`` and
``seed``).  Nothing else is needed to continue a run exactly, because the loop
derives each step's data rows and PRNG key from (seed, step) alone; the numpy
and JAX random states are therefore fully described by those two numbers.

Orbax writes each step to a temporary folder and renames it when complete, so a
run killed while saving leaves the previous checkpoints intact and the partial
one is ignored.  Saving is asynchronous: the arrays are copied off the
accelerator before ``save`` returns (so the next step may donate them), and the
write to disk overlaps training.

Verified: once Orbax has finished a step (:meth:`Checkpoints.poll`, which the loop
calls at each logged step, or the next save), the SHA-256 of every file in its
folder (the arrays' stored bytes, their metadata and ``meta``) is written
beside them, atomically, as ``<step>/checksums.json``; every restore and
``read`` checks them first, so a truncated, bit-flipped or deleted file is
refused by name (``checkpoint-corrupt``) instead of restoring wrong weights.
:meth:`Checkpoints.restore_latest` falls back to the newest step that verifies,
saying so.  A step without ``checksums.json`` (written by an earlier taskdsl,
or a run killed in the moment between Orbax's rename and the checksums) is
restored as Orbax finds it: the checksums guard against damage, not against
someone who can rewrite the folder (docs/security.md).

When: :func:`due` decides, for the loop, which steps save.  ``checkpoint_every =
auto`` (the default) saves at multiples of :data:`AUTO_EVERY` steps, but not
within :data:`AUTO_SECONDS` of wall time of the previous save; a whole number
saves every that many steps, exactly.  The loop also saves the last step and a
stopped run's, never one after a non-finite loss.  Which steps save changes no
parameter (each step depends on (seed, step) alone), only how much a kill loses.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from ..messages import note, phrase
from . import errors
from .files import write_text

FOLDER = "checkpoints"
CHECKSUMS = "checksums.json"
"""Each step's record of its files' SHA-256, inside the step's folder."""

ALGORITHM = "sha256"

AUTO_EVERY = 200
"""``checkpoint_every = auto``: the steps that may save are this one's multiples (the
fixed cadence before ``auto``)."""

AUTO_SECONDS = 30.0
"""``checkpoint_every = auto``: the least wall time between two saves.  A save costs
milliseconds on the host and tens of milliseconds in Orbax's thread (the next waits
for it): a small model's 200 steps take milliseconds, so saving at each would
protect a few milliseconds of work at many times their cost, while a run whose 200
steps take longer than this saves at each, as before.  Half a minute is what a kill
can cost at most, next to a run's start-up (checks, compilation) of seconds."""


def due(step: int, every: int | str, last_saved: float, now: float) -> bool:
    """Whether the loop saves after ``step`` by the cadence ``every`` (``checkpoint_every``:
    a whole number, or ``"auto"``), the previous save (or the run's start) at the
    monotonic time ``last_saved`` and the clock at ``now`` (passed in, so it is a pure
    function).  The last step and a stopped run's step are the loop's to add."""
    if isinstance(every, int):
        return step % every == 0
    return step % AUTO_EVERY == 0 and now - last_saved >= AUTO_SECONDS


def period(every: int | str) -> int:
    """The steps between two steps that may save: where a call must end."""
    return every if isinstance(every, int) else AUTO_EVERY


@dataclass(frozen=True)
class Restored:
    """What :meth:`Checkpoints.restore_latest` restored, and the newer steps it refused."""

    step: int
    params: Any
    opt_state: Any
    meta: dict
    corrupt: tuple[int, ...]  # newer steps that did not verify, newest first


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, ALGORITHM).hexdigest()


def _files(folder: Path) -> dict[str, Path]:
    """The files of a step's folder by their path inside it (``/``-separated), less the
    checksums themselves."""
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).as_posix() != CHECKSUMS}


class Checkpoints:
    """The checkpoints of one run folder, keeping the ``keep`` latest.

    With ``metric`` (a name and ``"min"`` or ``"max"``), the ``keep`` best by that metric
    instead, each saved with its value (``save(..., metrics=...)``): the ``best/`` folder
    of ``keep_best`` (``watch.py``).
    """

    def __init__(self, run_dir: Path, keep: int, folder: str = FOLDER,
                 metric: tuple[str, str] | None = None) -> None:
        self.directory = (Path(run_dir) / folder).absolute()
        ranked = {} if metric is None else {
            "best_fn": lambda metrics, name=metric[0]: metrics[name], "best_mode": metric[1]}
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, **ranked)
        self.manager = ocp.CheckpointManager(self.directory, options=options)
        self._unsealed: list[int] = []  # saved steps whose checksums are not written yet

    def __enter__(self) -> Checkpoints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> tuple[int, ...]:
        return tuple(self.manager.all_steps())

    def delete(self, step: int) -> None:
        self.manager.delete(step)

    def step_folder(self, step: int) -> Path:
        return self.directory / str(step)

    def save(self, step: int, params: Any, opt_state: Any, seed: int,
             metrics: dict[str, float] | None = None) -> None:
        """Start saving the state after ``step`` updates; returns once the arrays are copied.
        ``metrics`` rank it among the others when the folder keeps the best.  The previous
        save, finished by now (Orbax waits for it), gets its checksums first."""
        self.seal()
        saved = self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave({"params": params, "opt_state": opt_state}),
            meta=ocp.args.JsonSave({"step": step, "seed": seed}),
        ), metrics=metrics)
        if saved:
            self._unsealed.append(step)

    def poll(self) -> None:
        """Write the checksums of a save that has finished since, without waiting for one
        in flight: the loop calls this often, so that a kill soon after a save finds it
        verified (Orbax renames the step into place after its own callbacks have run)."""
        if self._unsealed and not self.manager.is_saving_in_progress():
            self._write_checksums(finished=False)

    def seal(self) -> None:
        """Wait for the saves in flight, then write the ``checksums.json`` of each that does
        not have it yet."""
        if self._unsealed:
            self.manager.wait_until_finished()
            self._write_checksums(finished=True)

    def _write_checksums(self, finished: bool) -> None:
        """Each unsealed step in place gets its ``checksums.json`` (from the primary process,
        for all of them); ``finished`` says no save is in flight."""
        for step in list(self._unsealed):
            folder = self.step_folder(step)
            if not folder.is_dir() and not finished:
                continue  # not in place yet (with ``finished``: pruned by `keep`)
            if folder.is_dir() and jax.process_index() == 0:
                files = {name: _digest(path) for name, path in _files(folder).items()}
                write_text(folder / CHECKSUMS, json.dumps(
                    {"algorithm": ALGORITHM, "files": files}, indent=1) + "\n")
            self._unsealed.remove(step)

    def problem(self, step: int) -> str | None:
        """Why the checkpoint at ``step`` does not verify (a file missing, changed or
        unreadable), or ``None`` if it does, or carries no checksums to check."""
        folder = self.step_folder(step)
        record = folder / CHECKSUMS
        if not record.exists():
            return None
        try:
            expected = json.loads(record.read_text(encoding="utf-8"))["files"]
            if not isinstance(expected, dict):
                raise TypeError(CHECKSUMS)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return phrase("checksums-unreadable", file=CHECKSUMS)
        found = _files(folder)
        for name, digest in expected.items():
            if name not in found:
                return phrase("checkpoint-file-missing", file=name)
            try:
                if _digest(found[name]) != digest:
                    return phrase("checkpoint-file-changed", file=name)
            except OSError as error:
                return phrase("checkpoint-file-unreadable", file=name,
                                     reason=error.strerror or str(error))
        extra = sorted(set(found) - set(expected))
        if extra:
            return phrase("checkpoint-file-extra", file=extra[0])
        return None

    def verify(self, step: int) -> None:
        """Refuse the checkpoint at ``step`` (``checkpoint-corrupt``) if it does not verify."""
        why = self.problem(step)
        if why is not None:
            raise errors.checkpoint_corrupt(self.step_folder(step), step, why)

    def restore(self, step: int, params: Any, opt_state: Any) -> tuple[Any, Any, dict]:
        """The params, optimizer state and meta saved at ``step``, shaped and placed like the
        given ``params`` and ``opt_state`` (whose values are not used); verified first."""
        self.verify(step)
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct,
                              {"params": params, "opt_state": opt_state})
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore(),
            ))
        except (ValueError, KeyError, TypeError) as error:
            raise errors.checkpoint_mismatch(self.directory, step, str(error)) from None
        except Exception as error:  # Orbax's and TensorStore's own kinds: a damaged step
            raise errors.checkpoint_corrupt(self.step_folder(step), step,
                                            str(error).splitlines()[0]) from None
        return restored.state["params"], restored.state["opt_state"], dict(restored.meta)

    def restore_latest(self, params: Any, opt_state: Any,
                       say: Callable[[str], None] = _say) -> Restored | None:
        """The newest checkpoint that verifies, restored like :meth:`restore`; ``None`` if
        there is none at all.  Each newer one that does not verify is skipped, and ``say``
        (stderr) is told which and why; if none verifies, ``checkpoint-corrupt``."""
        steps = sorted(self.all_steps(), reverse=True)
        if not steps:
            return None
        corrupt: list[int] = []
        for step in steps:
            try:
                got_params, got_opt, meta = self.restore(step, params, opt_state)
            except errors.TrainError as error:
                if error.code != "checkpoint-corrupt":
                    raise
                corrupt.append(step)
                say(f"{error}")
                continue
            if corrupt:
                say(note("checkpoint-fallback", directory=self.directory, step=step,
                         skipped=", ".join(map(str, corrupt))))
            return Restored(step, got_params, got_opt, meta, tuple(corrupt))
        raise errors.no_checkpoint_verifies(self.directory, corrupt)

    def read(self, step: int | None = None) -> dict[str, Any]:
        """The raw saved state at ``step`` (default: the latest) as nested dicts of numpy
        arrays, without needing the program: for inspection, tests and tools.  Verified
        first, like :meth:`restore`."""
        step = self.latest_step() if step is None else step
        self.verify(step)
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(),
        ))
        return jax.device_get(restored.state)

    def close(self) -> None:
        """Wait for any save in flight, write its checksums, then release the manager."""
        self.manager.wait_until_finished()
        self.seal()
        self.manager.close()
