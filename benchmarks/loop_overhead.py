"""What the ``taskdsl train`` loop costs per step, against a hand-written JAX loop.

Two objectives: (a) ``small``, an MLP classifier on ``digits`` (8x8 images, 10
classes) at batch 32 with Adam, and (b) ``manipulator``, the objective of
``examples/mnist_manipulator.task`` (a CNN and a U-Net on MNIST, batch 64; it
needs MNIST: ``taskdsl data fetch mnist`` once, or ``$TASKDSL_DATA``).

``taskdsl`` runs as a user runs it: ``taskdsl.cli.main(["train", FILE, ...])``,
the command line's own path (the file checked, the backend's checks, the
compilation cache setting, ``train``), with the progress bar on (drawn into a
null terminal, so that drawing it costs what a terminal would), metrics every
``log_every`` steps, TensorBoard event files and Orbax checkpoints every
``checkpoint_every`` steps (the defaults), once with ``steps_per_call = auto``
(the default), once with ``steps_per_call = 1`` (the loop before several
steps a call), and once with ``auto`` and only the final checkpoint.  The
hand-written loop is what a careful user would write: the same jitted step
(same nets, same optimizer, so only the loop differs), the data sets on the
device, each epoch's order drawn on the device, ``lax.scan`` over the
``log_every`` steps between two logging steps (each step's rows gathered in
the scan, its key folded in), and the metrics read back at each logging step;
it writes no files.

Each variant runs alternately in one process, ``--rounds`` times.  A run's
ms/step is timed from the first step the loop reports (so compilation and
setup are left out) to its end (``main`` returning, the last checkpoint saved,
for ``taskdsl``; the last parameters ready for the hand-written loop); the
median over rounds is reported.  The last line is machine-readable::

    loop_overhead: small_ratio=<r> manipulator_ratio=<r>

(``taskdsl`` ms/step with ``steps_per_call = auto`` / hand-written ms/step.)
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
from rich.console import Console

import taskdsl
from taskdsl.backends.jax.lowering.lower import lower, make_train_step
from taskdsl.backends.jax.training import feed as feeding
from taskdsl.backends.jax.training import train as training
from taskdsl.backends.jax.training.runs import run_optimizer
from taskdsl.backends.jax.training.settings import Settings, resolve
from taskdsl.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]

SMALL = """
data digits : -> Real[8, 8, 1], Class[10]
learner clf : Real[8, 8, 1] -> Class[10]

task classify:
    x, y <- digits
    clf(x) = y                  trains clf

impl clf = nets.mlp(width = 64, depth = 2)

train classify:
    data digits = datasets.digits()
    optimizer adam(lr = 1e-3)
    batch 32
"""


def null_console(*args: object, **kwargs: object) -> Console:
    """A terminal that draws nowhere: the progress bar costs what it would on a tty."""
    return Console(file=io.StringIO(), force_terminal=True, width=120)


class _First:
    """When the loop first reports a finished step (its compilation behind it), and which."""

    at: float | None = None
    step = 0


def taskdsl_run(path: Path, objective: str, steps: int, folder: Path, *overrides: str
                ) -> float:
    """ms a step from the first step the bar shows to ``taskdsl train`` returning."""
    first = _First()
    advance = training._Bar.advance_to

    def timed(bar: training._Bar, step: int, *args: object) -> None:
        if step >= 1 and first.at is None:
            first.at, first.step = time.perf_counter(), step
        advance(bar, step, *args)

    training._Bar.advance_to = timed  # type: ignore[method-assign]
    sets = [a for s in (f"steps={steps}", *overrides) for a in ("--set", s)]
    try:
        code = cli(["train", str(path), "--objective", objective, "--out", str(folder), *sets])
    finally:
        training._Bar.advance_to = advance  # type: ignore[method-assign]
    end = time.perf_counter()
    if code != 0 or first.at is None:
        raise SystemExit(f"taskdsl train exited with {code}")
    return (end - first.at) / (steps - first.step) * 1e3


def handwritten_run(path: Path, objective: str, steps: int) -> float:
    """ms a step from the end of the first scanned call to the last step done."""
    program = taskdsl.load(path)
    settings = resolve(program, objective, (f"steps={steps}",))
    lowered = lower(program, objective)
    init_opt_state, step = make_train_step(lowered, run_optimizer(settings),
                                           batch_size=settings.batch)
    requests = lowered.data_requests()
    sources = feeding.bind(requests, settings.data, objective)
    arrays = {name: tuple(jax.device_put(a) for a in source.arrays)
              for name, source in sources.items()}
    size = {name: len(source) for name, source in sources.items()}
    batch, every = settings.batch, settings.log_every
    init_key, train_key = jax.random.split(jax.random.key(settings.seed))
    params = lowered.init(init_key)
    opt_state = init_opt_state(params)

    @jax.jit
    def shuffled(epoch: jax.Array) -> dict[str, jax.Array]:
        return {r.key: jax.random.permutation(jax.random.fold_in(train_key, epoch * 97 + n),
                                              size[r.source])
                for n, r in enumerate(requests)}

    def chunk(params, opt_state, orders, first):
        def body(carry, i):
            params, opt_state = carry
            drawn = {}
            for r in requests:
                n = size[r.source]
                rows = orders[r.key][(i * batch + jnp.arange(batch)) % n]
                drawn[r.key] = tuple(a[rows] for a in arrays[r.source])
            params, opt_state, metrics = step(params, opt_state, drawn,
                                              jax.random.fold_in(train_key, i))
            return (params, opt_state), metrics["loss"]

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state),
                                                   first + jnp.arange(every))
        return params, opt_state, losses

    chunk = jax.jit(chunk, donate_argnums=(0, 1))
    smallest = min(size.values())
    started, done = None, 0
    for first in range(0, steps - steps % every, every):
        orders = shuffled(first * batch // smallest)  # an epoch's order, on the device
        params, opt_state, losses = chunk(params, opt_state, orders, first)
        float(losses[-1])  # the logging step's line
        done = first + every
        started = time.perf_counter() if started is None else started
    jax.block_until_ready(params)
    if started is None or done <= every:
        raise SystemExit(f"--steps must be at least twice log_every ({every})")
    return (time.perf_counter() - started) / (done - every) * 1e3


def measure(name: str, path: Path, objective: str, steps: int, rounds: int, tmp: Path
            ) -> tuple[float, float]:
    """Median ms/step of each loop; returns (auto ratio, one-a-call ratio).  Also timed:
    ``auto`` saving only the final checkpoint (what the loop costs without the
    periodic Orbax saves)."""
    loops: dict[str, Callable[[int], float]] = {
        "auto": lambda r: taskdsl_run(path, objective, steps, tmp / f"{name}_auto{r}"),
        "one_a_call": lambda r: taskdsl_run(path, objective, steps, tmp / f"{name}_one{r}",
                                            "steps_per_call=1"),
        "final_checkpoint_only": lambda r: taskdsl_run(
            path, objective, steps, tmp / f"{name}_once{r}", f"checkpoint_every={steps}"),
        "handwritten": lambda r: handwritten_run(path, objective, steps),
    }
    if steps <= Settings.checkpoint_every:  # the default cadence saves only the last one
        del loops["final_checkpoint_only"]
    runs: dict[str, list[float]] = {loop: [] for loop in loops}
    for r in range(rounds):
        for loop, timed in loops.items():
            runs[loop].append(timed(r))
        print(f"{name} round {r}: " + " ".join(f"{k}_ms={v[-1]:.3f}" for k, v in runs.items()),
              flush=True)
    ms = {loop: statistics.median(values) for loop, values in runs.items()}
    hand = ms["handwritten"]
    print(f"{name}: steps={steps} " + " ".join(f"{k}_ms={v:.3f}" for k, v in ms.items())
          + " " + " ".join(f"{k}_ratio={v / hand:.2f}" for k, v in ms.items()
                           if k != "handwritten"), flush=True)
    return ms["auto"] / hand, ms["one_a_call"] / hand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps of the small run")
    parser.add_argument("--manipulator-steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("small", "manipulator"))
    args = parser.parse_args()
    training.Console = null_console  # the bar draws into a null terminal
    # Compilation is not timed; a cache would only hide it from later rounds.
    os.environ.setdefault("TASKDSL_COMPILATION_CACHE", "off")
    ratios: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        small = tmp / "digits.task"
        small.write_text(SMALL, encoding="utf-8")
        if args.only != "manipulator":
            ratios["small"] = measure("small", small, "classify", args.steps, args.rounds, tmp)
        if args.only != "small":
            ratios["manipulator"] = measure(
                "manipulator", ROOT / "examples" / "mnist_manipulator.task", "manipulator",
                args.manipulator_steps, args.rounds, tmp)
    print(f"device={jax.devices()[0].platform} ({jax.devices()[0].device_kind})")
    print("before several steps a call (steps_per_call=1): "
          + " ".join(f"{k}_ratio={v[1]:.2f}" for k, v in ratios.items()))
    print("loop_overhead: " + " ".join(f"{k}_ratio={v[0]:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
