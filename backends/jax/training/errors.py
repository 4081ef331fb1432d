"""The errors and notes of training (checkpoints, sharding, the loop, the CLI), by code.

What ``taskdsl check`` can find too (a setting, a schedule, a data binding, a
``--set``) is a :class:`~taskdsl.backends.jax.messages.Problem`; a run raises it
as a :class:`TrainError`.  Everything else training says is a template of
``backends/jax/messages.py``, filled in here.  A :class:`TrainError` is a
problem the user can fix (a setting, a data binding, a run folder); it carries
the exit code the command line returns, so no caller has to map exception
types to codes: 1 for a program, data or implementation that cannot be trained
as written, 2 for a command line that asks for something impossible, 3 for a
run whose loss stopped being finite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

# The exit codes, re-exported: training's callers and tests name them from here.
from ..errors import DIVERGED as DIVERGED
from ..errors import INTERRUPTED as INTERRUPTED
from ..errors import PROGRAM as PROGRAM
from ..errors import USAGE as USAGE
from ..errors import BackendError
from ..messages import did_you_mean, listed, note, phrase


class TrainError(BackendError):
    """A run cannot start or continue; the message says why and what to do instead."""

    default_code = "train-failed"


# -- objectives and data -----------------------------------------------------


def unknown_objective(name: str, known: Iterable[str]) -> TrainError:
    known = list(known)
    return TrainError.of("objective-unknown", name=name, suggestion=did_you_mean(name, known),
                         known=listed(known))


def nothing_to_train(path: str) -> TrainError:
    return TrainError.of("nothing-to-train", path=path)


def empty_dataset(source: str, dataset: str) -> TrainError:
    return TrainError.of("dataset-empty", source=source, dataset=dataset)


# -- run folder and checkpoints ----------------------------------------------


def run_dir_not_empty(out: Path) -> TrainError:
    return TrainError.of("run-dir-not-empty", out=out)


def run_dir_is_file(out: Path) -> TrainError:
    return TrainError.of("run-dir-is-file", out=out)


def nothing_to_resume(out: Path) -> TrainError:
    return TrainError.of("resume-nothing", out=out)


def resume_other_objective(out: Path, was: str, now: str) -> TrainError:
    return TrainError.of("resume-other-objective", out=out, was=was, now=now)


def resume_other_seed(out: Path, was: int, now: int) -> TrainError:
    return TrainError.of("resume-other-seed", out=out, was=was, now=now)


def checkpoint_mismatch(directory: Path, step: int, reason: str) -> TrainError:
    return TrainError.of("checkpoint-mismatch", directory=directory, step=step, reason=reason)


def run_dir_busy(out: Path, pid: int | None) -> TrainError:
    holder = phrase("run-dir-holder", pid=pid) if pid is not None else ""
    return TrainError.of("run-dir-busy", out=out, holder=holder)


def checkpoint_corrupt(folder: Path, step: int, reason: str) -> TrainError:
    return TrainError.of("checkpoint-corrupt", folder=folder, step=step, reason=reason)


def no_checkpoint_verifies(directory: Path, steps: Sequence[int]) -> TrainError:
    return TrainError.of("checkpoint-none-verifies", directory=directory,
                         steps=", ".join(map(str, steps)))


def metrics_corrupt(path: Path, line: int, reason: str) -> TrainError:
    return TrainError.of("metrics-corrupt", path=path, line=line, reason=reason)


def resume_config_corrupt(path: Path, reason: str) -> TrainError:
    return TrainError.of("resume-config-corrupt", path=path, reason=reason)


# -- sharding ------------------------------------------------------------------


def batch_not_divisible(batch: int, devices: int, processes: int) -> TrainError:
    over = (phrase("devices-on-processes", devices=devices, processes=processes)
            if processes > 1 else phrase("devices", devices=devices))
    smaller = batch - batch % devices
    suggestion = (phrase("either", one=smaller, other=smaller + devices) if smaller
                  else f"{devices}")
    return TrainError.of("batch-not-divisible", batch=batch, over=over, devices=devices,
                         suggestion=suggestion)


def distributed_env(variable: str, value: str) -> TrainError:
    return TrainError.of("distributed-env", variable=variable, value=value)


def coordinator_address(address: str) -> TrainError:
    return TrainError.of("coordinator-address", address=address)


def coordinator_unusable(address: str, reason: str) -> TrainError:
    return TrainError.of("coordinator-unusable", address=address, reason=reason)


def coordinator_silent(address: str, wait_s: float, reason: str) -> TrainError:
    return TrainError.of("coordinator-silent", address=address, wait_s=wait_s, reason=reason)


# -- the loop ----------------------------------------------------------------


def diverged(step: int, equations: Sequence[str], learners: Sequence[str],
             last_checkpoint: int | None) -> TrainError:
    if equations:
        what = phrase("diverged-equations", equations=listed(equations))
    elif learners:
        what = phrase("diverged-learners", learners=listed(learners))
    else:
        what = phrase("diverged-parameters")
    kept = (phrase("diverged-kept", step=last_checkpoint) if last_checkpoint is not None
            else phrase("diverged-nothing-kept"))
    return TrainError.of("diverged", step=step, what=what, kept=kept)


def interrupted(step: int, command: str) -> str:
    return note("train-interrupted", step=step, command=command)


def aborted() -> str:
    return note("train-aborted")


def finished(steps: int, loss: float | None, out: Path, seconds: float) -> str:
    shown = phrase("no-loss") if loss is None else f"{loss:.4g}"
    return note("train-finished", steps=steps, loss=shown, out=out, seconds=seconds)


class RunFileError(BackendError):
    """A run folder's file that cannot be written or named safely (``training/files.py``)."""

    default_code = "run-file-symlink"


def run_file_symlink(path: Path) -> RunFileError:
    return RunFileError.of("run-file-symlink", path=path)


def run_file_outside(path: Path, file: str, why: str,
                     kind: type[BackendError] = RunFileError) -> BackendError:
    """``file``, named by the run's config.json, leads out of the run ``path``; ``why``
    says how, in words (``phrase("file-escapes")``...)."""
    return kind.of("run-file-outside", path=path, file=file, why=why)
