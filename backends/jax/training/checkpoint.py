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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from . import errors

FOLDER = "checkpoints"


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

    def save(self, step: int, params: Any, opt_state: Any, seed: int,
             metrics: dict[str, float] | None = None) -> None:
        """Start saving the state after ``step`` updates; returns once the arrays are copied.
        ``metrics`` rank it among the others when the folder keeps the best."""
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave({"params": params, "opt_state": opt_state}),
            meta=ocp.args.JsonSave({"step": step, "seed": seed}),
        ), metrics=metrics)

    def restore(self, step: int, params: Any, opt_state: Any) -> tuple[Any, Any, dict]:
        """The params, optimizer state and meta saved at ``step``, shaped and placed like the
        given ``params`` and ``opt_state`` (whose values are not used)."""
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct,
                              {"params": params, "opt_state": opt_state})
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore(),
            ))
        except (ValueError, KeyError, TypeError) as error:
            raise errors.checkpoint_mismatch(self.directory, step, str(error)) from None
        return restored.state["params"], restored.state["opt_state"], dict(restored.meta)

    def read(self, step: int | None = None) -> dict[str, Any]:
        """The raw saved state at ``step`` (default: the latest) as nested dicts of numpy
        arrays, without needing the program: for inspection, tests and tools."""
        step = self.latest_step() if step is None else step
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(),
        ))
        return jax.device_get(restored.state)

    def close(self) -> None:
        """Wait for any save in flight, then release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()
