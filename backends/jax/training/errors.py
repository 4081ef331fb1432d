"""Every message training (checkpoints, sharding, the loop, the CLI) shows.

Kept in one module so the wording stays consistent.  What ``taskdsl check`` can
find too (a setting, a schedule, a data binding, a ``--set``) is a
:class:`~taskdsl.backends.jax.messages.Problem`, worded in
``backends/jax/messages.py``; a run raises it as a :class:`TrainError`.  A
:class:`TrainError` is a problem the user can fix (a setting, a data binding, a
run folder); it carries the exit code the command line returns, so no caller
has to map exception types to codes: 1 for a program, data or implementation
that cannot be trained as written, 2 for a command line that asks for something
impossible, 3 for a run whose loss stopped being finite.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..messages import Problem

PROGRAM = 1
USAGE = 2
DIVERGED = 3
INTERRUPTED = 130  # the shell's convention for a process ended by SIGINT


class TrainError(Exception):
    """A run cannot start or continue; the message says why and what to do instead.

    Built from a :class:`Problem`, it keeps it (``problem``) and exits with 2 for a
    malformed ``--set``, 1 otherwise.
    """

    def __init__(self, message: str | Problem, exit_code: int | None = None) -> None:
        super().__init__(str(message))
        self.problem = message if isinstance(message, Problem) else None
        if exit_code is None:
            exit_code = USAGE if self.problem is not None and self.problem.usage else PROGRAM
        self.exit_code = exit_code


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


# -- objectives and data -----------------------------------------------------


def unknown_objective(name: str, known: Iterable[str]) -> TrainError:
    return TrainError(
        f"no objective or task called `{name}`{_did_you_mean(name, list(known))}; "
        f"the file has {_listed(known)}",
        USAGE,
    )


def nothing_to_train(path: str) -> TrainError:
    return TrainError(f"{path} defines no task or objective, so there is nothing to train")


def empty_dataset(source: str, dataset: str) -> TrainError:
    return TrainError(f"data source `{source}`: data set `{dataset}` has no examples")


# -- run folder and checkpoints ----------------------------------------------


def run_dir_not_empty(out: Path) -> TrainError:
    return TrainError(
        f"{out} already holds files; nothing there was changed. Continue that run with "
        "`--resume`, or choose a new folder with `--out`",
        USAGE,
    )


def run_dir_is_file(out: Path) -> TrainError:
    return TrainError(f"{out} is a file, not a run folder; choose a folder with `--out`", USAGE)


def nothing_to_resume(out: Path) -> TrainError:
    return TrainError(
        f"--resume: {out} holds no run (no config.json); start it without `--resume`", USAGE
    )


def resume_other_objective(out: Path, was: str, now: str) -> TrainError:
    return TrainError(
        f"--resume: {out} trains `{was}`, not `{now}`; pass `--objective {was}`", USAGE
    )


def resume_other_seed(out: Path, was: int, now: int) -> TrainError:
    return TrainError(
        f"--resume: {out} was started with seed {was}; resuming it with seed {now} would not "
        f"continue the same run (drop `--set seed=...` or pass `--set seed={was}`)",
        USAGE,
    )


def checkpoint_mismatch(directory: Path, step: int, reason: str) -> TrainError:
    return TrainError(
        f"the checkpoint at step {step} in {directory} does not fit this program's learners "
        f"(was the .task file or an `impl` changed since?): {reason}"
    )


# -- sharding ------------------------------------------------------------------


def batch_not_divisible(batch: int, devices: int, processes: int) -> TrainError:
    over = f"{devices} devices" + (f" on {processes} processes" if processes > 1 else "")
    smaller = batch - batch % devices
    suggestion = f"{smaller} or {smaller + devices}" if smaller else f"{devices}"
    return TrainError(
        f"batch {batch} cannot be split evenly over {over}; "
        f"use a multiple of {devices}, e.g. `--set batch={suggestion}`",
        USAGE,
    )


def distributed_env(variable: str, value: str) -> TrainError:
    return TrainError(
        f"${variable} must be a whole number for multi-host training, not {value!r}", USAGE
    )


def coordinator_address(address: str) -> TrainError:
    return TrainError(
        f"$JAX_COORDINATOR_ADDRESS must be HOST:PORT (e.g. 10.0.0.1:1234), not {address!r}", USAGE
    )


def coordinator_unusable(address: str, reason: str) -> TrainError:
    return TrainError(
        f"process 0 coordinates the multi-host run but cannot listen on {address} ({reason}); "
        "pick a free port on this host in $JAX_COORDINATOR_ADDRESS",
        USAGE,
    )


def coordinator_silent(address: str, wait_s: float, reason: str) -> TrainError:
    return TrainError(
        f"no coordinator answered at {address} within {wait_s:g} s ({reason}); start process 0 "
        "(JAX_PROCESS_ID=0) on that host, or unset $JAX_COORDINATOR_ADDRESS for a "
        "single-process run",
        USAGE,
    )


# -- the loop ----------------------------------------------------------------


def diverged(step: int, equations: Sequence[str], learners: Sequence[str],
             last_checkpoint: int | None) -> TrainError:
    if equations:
        what = f"the value of {_listed(equations)} is not finite"
    elif learners:
        what = f"the gradient reaching {_listed(learners)} is not finite"
    else:
        what = "the parameters are not finite after the update"
    kept = (
        f"The last good checkpoint (step {last_checkpoint}) is kept"
        if last_checkpoint is not None
        else "No checkpoint had been saved yet"
    )
    return TrainError(
        f"training stopped at step {step}: {what}. {kept}. A lower learning rate "
        "(`--set optimizer=adam(lr = 1e-4)`) or a smaller weight on that equation usually helps",
        DIVERGED,
    )


def interrupted(step: int, command: str) -> str:
    return f"interrupted at step {step}; a checkpoint was saved. Resume with:\n  {command}"


def aborted() -> str:
    return "interrupted; only the checkpoints saved before now (if any) are kept"


def finished(steps: int, loss: float | None, out: Path, seconds: float) -> str:
    shown = "n/a" if loss is None else f"{loss:.4g}"
    return f"trained {steps} steps in {seconds:.1f}s, final loss {shown}; run saved in {out}"
