"""What the ``taskdsl train`` loop costs per step, against a hand-written JAX loop.

Two objectives: (a) ``small``, an MLP classifier on ``digits`` (8x8 images, 10
classes) at batch 32 with Adam (``_common.SMALL``), and (b) ``manipulator``, the
objective of ``examples/mnist_manipulator.task`` (a CNN and a U-Net on MNIST,
batch 64; it needs MNIST: ``taskdsl data fetch mnist`` once, or ``$TASKDSL_DATA``).

``taskdsl`` runs as a user runs it: ``taskdsl.cli.main(["train", FILE, ...])``,
the command line's own path (the file checked, the backend's checks, the
compilation cache setting, ``train``), with the progress bar on (drawn into a
null terminal, so that drawing it costs what a terminal would), metrics every
``log_every`` steps, TensorBoard event files and Orbax checkpoints at the
default cadence (``checkpoint_every = auto``: at multiples of 200 steps, at most
one every 30 s of wall time, and the last step), ``steps_per_call = auto``.
For comparison it is also timed with ``checkpoint_every = 200`` (the cadence
before ``auto``: a save every 200 steps) and, for the small objective, with
``steps_per_call = 1`` (the loop before several steps a call, over the first
``--short-steps`` steps only, since it is slow).

The hand-written loops are what a careful user would write, with the same jitted
step (same nets, same optimizer, so only the loop differs), the data sets on the
device, each epoch's order drawn on the device, each step's rows gathered on the
device and its key folded in, the loss read back at each logging step, no
files written:

- ``handwritten_scan``: a ``lax.scan`` over the ``log_every`` steps between two
  logging steps, one call each;
- ``handwritten_step``: a Python loop calling one jitted step a step.

The ratio's denominator is the faster of the two.  On an accelerator, and for a
small model on the CPU, that is the scan; but XLA's CPU backend runs a
convolution inside a loop (``lax.scan``, ``fori_loop``) some 35 times slower than
at a jitted function's top level, so on the CPU the manipulator's careful user
writes the per-step loop, and its scan loop is not run there at all (it would
take hours).

A run's ms/step is timed from the first step the loop reports (so compilation
and setup are left out) to its end (``main`` returning, the last checkpoint
saved and the files closed, for ``taskdsl``; the last parameters ready for a
hand-written loop).  Its fixed end costs (the final Orbax save, about 30 ms on
the CPU) are spread over its steps: at 2,000 steps of the small objective (a
hand-written loop takes about 90 ms for them) they are a third of the figure,
so the default ``--steps`` is 20,000 (about a second), long enough that what is
measured is the cost of each step; the figure at ``--short-steps`` (2,000) is
printed too, against the same hand-written ms/step.  Each variant runs
alternately in one process, ``--rounds`` times; the median is reported.  The
last line is machine-readable::

    loop_overhead: small_ratio=<r> manipulator_ratio=<r>

(``taskdsl`` ms/step at the defaults / the faster hand-written loop's.)
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
from typing import Any

import jax
import jax.numpy as jnp
from _common import MANIPULATOR, small_task
from rich.console import Console

import taskdsl
from taskdsl.backends.jax.lowering.lower import lower, make_train_step
from taskdsl.backends.jax.training import feed as feeding
from taskdsl.backends.jax.training import train as training
from taskdsl.backends.jax.training.checkpoint import AUTO_EVERY
from taskdsl.backends.jax.training.runs import run_optimizer
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.cli import main as cli


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


class _Handwritten:
    """The objective's step as a careful user would drive it: the data on the device,
    each epoch's order drawn there, rows gathered and keys folded in inside the jit."""

    def __init__(self, path: Path, objective: str, steps: int) -> None:
        program = taskdsl.load(path)
        settings = resolve(program, objective, (f"steps={steps}",))
        lowered = lower(program, objective)
        init_opt_state, self.step = make_train_step(lowered, run_optimizer(settings),
                                                    batch_size=settings.batch)
        self.requests = lowered.data_requests()
        sources = feeding.bind(self.requests, settings.data, objective)
        self.arrays = {name: tuple(jax.device_put(a) for a in source.arrays)
                       for name, source in sources.items()}
        self.size = {name: len(source) for name, source in sources.items()}
        self.batch, self.every, self.steps = settings.batch, settings.log_every, steps
        init_key, self.train_key = jax.random.split(jax.random.key(settings.seed))
        self.params = lowered.init(init_key)
        self.opt_state = init_opt_state(self.params)
        self.smallest = min(self.size.values())
        size, train_key, requests = self.size, self.train_key, self.requests

        @jax.jit
        def shuffled(epoch: jax.Array) -> dict[str, jax.Array]:
            return {r.key: jax.random.permutation(
                jax.random.fold_in(train_key, epoch * 97 + n), size[r.source])
                for n, r in enumerate(requests)}

        self.shuffled = shuffled

    def keyed(self, params: Any, opt_state: Any, orders: dict[str, jax.Array],
              i: jax.Array) -> tuple[Any, Any, jax.Array]:
        """Step ``i``: its rows of this epoch's order gathered, its key folded in."""
        drawn = {}
        for r in self.requests:
            rows = orders[r.key][(i * self.batch + jnp.arange(self.batch)) % self.size[r.source]]
            drawn[r.key] = tuple(a[rows] for a in self.arrays[r.source])
        params, opt_state, metrics = self.step(params, opt_state, drawn,
                                               jax.random.fold_in(self.train_key, i))
        return params, opt_state, metrics["loss"]

    def scanned(self) -> float:
        """ms a step of ``lax.scan`` calls of ``log_every`` steps, from the end of the
        first call to the last step done."""
        every = self.every

        def chunk(params: Any, opt_state: Any, orders: dict[str, jax.Array],
                  first: jax.Array) -> tuple[Any, Any, jax.Array]:
            def body(carry: tuple[Any, Any], i: jax.Array) -> tuple[tuple[Any, Any], Any]:
                params, opt_state, loss = self.keyed(*carry, orders, i)
                return (params, opt_state), loss

            (params, opt_state), losses = jax.lax.scan(body, (params, opt_state),
                                                       first + jnp.arange(every))
            return params, opt_state, losses

        call = jax.jit(chunk, donate_argnums=(0, 1))
        params, opt_state = self._fresh()
        started, done = None, 0
        for first in range(0, self.steps - self.steps % every, every):
            orders = self.shuffled(first * self.batch // self.smallest)
            params, opt_state, losses = call(params, opt_state, orders, first)
            float(losses[-1])  # the logging step's line
            done = first + every
            started = time.perf_counter() if started is None else started
        jax.block_until_ready(params)
        if started is None or done <= every:
            raise SystemExit(f"--steps must be at least twice log_every ({every})")
        return (time.perf_counter() - started) / (done - every) * 1e3

    def stepped(self) -> float:
        """ms a step of one jitted call a step, from the first logging step's read-back
        to the last step done."""
        call = jax.jit(self.keyed, donate_argnums=(0, 1))
        params, opt_state = self._fresh()
        started, epoch, orders = None, -1, None
        for i in range(self.steps):
            if (i * self.batch) // self.smallest != epoch:
                epoch = (i * self.batch) // self.smallest
                orders = self.shuffled(epoch)
            params, opt_state, loss = call(params, opt_state, orders, i)
            if (i + 1) % self.every == 0:
                float(loss)  # the logging step's line
                started = time.perf_counter() if started is None else started
        jax.block_until_ready(params)
        if started is None or self.steps <= self.every:
            raise SystemExit(f"--steps must be more than log_every ({self.every})")
        return (time.perf_counter() - started) / (self.steps - self.every) * 1e3

    def _fresh(self) -> tuple[Any, Any]:
        """Copies of the initial state (the calls donate theirs)."""
        return jax.tree.map(jnp.copy, (self.params, self.opt_state))


def measure(name: str, path: Path, objective: str, steps: int, short: int, rounds: int,
            tmp: Path, scan_baseline: bool = True, one_a_call: bool = True) -> float:
    """Median ms/step of each loop over ``rounds``, printed; returns the ratio of
    ``taskdsl`` at the defaults to the faster hand-written loop."""
    hand = _Handwritten(path, objective, steps)
    loops: dict[str, Callable[[int], float]] = {
        "auto": lambda r: taskdsl_run(path, objective, steps, tmp / f"{name}_auto{r}"),
        "every_200": lambda r: taskdsl_run(path, objective, steps, tmp / f"{name}_200_{r}",
                                           "checkpoint_every=200"),
        f"auto_{short}_steps": lambda r: taskdsl_run(path, objective, short,
                                                     tmp / f"{name}_short{r}"),
        f"one_a_call_{short}_steps": lambda r: taskdsl_run(
            path, objective, short, tmp / f"{name}_one{r}", "steps_per_call=1"),
        "handwritten_scan": lambda r: hand.scanned(),
        "handwritten_step": lambda r: hand.stepped(),
    }
    if steps <= AUTO_EVERY:  # saves only the last step too
        del loops["every_200"]
    if short >= steps:
        del loops[f"auto_{short}_steps"]
    if not one_a_call or short >= steps:
        del loops[f"one_a_call_{short}_steps"]
    if not scan_baseline:
        del loops["handwritten_scan"]
    runs: dict[str, list[float]] = {loop: [] for loop in loops}
    for r in range(rounds):
        for loop, timed in loops.items():
            runs[loop].append(timed(r))
        print(f"{name} round {r}: " + " ".join(f"{k}_ms={v[-1]:.4f}" for k, v in runs.items()),
              flush=True)
    ms = {loop: statistics.median(values) for loop, values in runs.items()}
    best = min(v for k, v in ms.items() if k.startswith("handwritten"))
    print(f"{name}: steps={steps} " + " ".join(f"{k}_ms={v:.4f}" for k, v in ms.items()),
          flush=True)
    print(f"{name}: against the faster hand-written loop ({best:.4f} ms a step): "
          + " ".join(f"{k}_ratio={v / best:.2f}" for k, v in ms.items()
                     if not k.startswith("handwritten")), flush=True)
    return ms["auto"] / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps of the small runs")
    parser.add_argument("--short-steps", type=int, default=2_000,
                        help="steps of the small runs also timed short")
    parser.add_argument("--manipulator-steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("small", "manipulator"))
    args = parser.parse_args()
    training.Console = null_console  # the bar draws into a null terminal
    # Compilation is not timed; a cache would only hide it from later rounds.
    os.environ.setdefault("TASKDSL_COMPILATION_CACHE", "off")
    cpu = jax.default_backend() == "cpu"
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.only != "manipulator":
            ratios["small"] = measure("small", small_task(tmp), "classify", args.steps,
                                      args.short_steps, args.rounds, tmp)
        if args.only != "small":
            # On the CPU its steps are one a call whatever the setting, and its scan slow.
            ratios["manipulator"] = measure(
                "manipulator", MANIPULATOR, "manipulator", args.manipulator_steps,
                args.manipulator_steps, args.rounds, tmp, scan_baseline=not cpu,
                one_a_call=not cpu)
    print(f"device={jax.devices()[0].platform} ({jax.devices()[0].device_kind})")
    print("loop_overhead: " + " ".join(f"{k}_ratio={v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
