"""What the ``taskdsl train`` loop costs per step, against a hand-written JAX loop.

The objective is a small MLP classifier on ``digits`` (8x8 images, 10 classes)
at batch 32 with Adam.  ``taskdsl`` runs ``train()`` as the CLI calls it: the
progress bar on (rendered to a null terminal, so that drawing it costs what a
terminal would), metrics every ``log_every`` steps and Orbax checkpoints every
``checkpoint_every`` steps (the defaults).  The hand-written loop is what a
careful user would write: the same jitted step (same net, same optimizer, so
only the loop differs), the data set on the device, each step's rows gathered
there from a permutation drawn on the device once an epoch, the key folded in
the step, and the metrics read back
at the same logging cadence.

Both loops run alternately in one process, ``--rounds`` times, ``--steps``
steps each.  A run's ms/step is timed from the end of its first step (so
compilation and setup are left out) to its end (the last checkpoint saved for
``taskdsl``, the last parameters ready for the hand-written loop); the median
over rounds is reported, with ``taskdsl``'s ms/step when it saves only the
final checkpoint (what the loop costs without the periodic Orbax saves).  The
last line is machine-readable::

    loop_overhead: small_ratio=<taskdsl ms/step / hand-written ms/step>
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
from rich.console import Console

import taskdsl
from taskdsl.backends.jax import data
from taskdsl.backends.jax.lowering.lower import lower, make_train_step
from taskdsl.backends.jax.training import train as training
from taskdsl.backends.jax.training.runs import run_optimizer
from taskdsl.backends.jax.training.settings import resolve

TASK = """
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


class _FirstStep:
    """When the loop first reports step 1 done (its compilation behind it)."""

    at: float | None = None


def taskdsl_run(path: Path, steps: int, folder: Path, *overrides: str) -> float:
    """ms a step from the end of step 1 to ``train`` returning (checkpoints included)."""
    program = taskdsl.load(path)
    first = _FirstStep()
    advance = training._Bar.advance_to

    def timed(bar: training._Bar, step: int, *args: object) -> None:
        if step == 1 and first.at is None:
            first.at = time.perf_counter()
        advance(bar, step, *args)

    training._Bar.advance_to = timed
    try:
        training.train(program, "classify", (f"steps={steps}", *overrides), folder,
                       progress=True)
    finally:
        training._Bar.advance_to = advance
    return (time.perf_counter() - first.at) / (steps - 1) * 1e3


def handwritten_run(path: Path, steps: int) -> float:
    """ms a step from the end of step 1 to the last step done."""
    program = taskdsl.load(path)
    settings = resolve(program, "classify", (f"steps={steps}",))
    lowered = lower(program, "classify")
    init_opt_state, step = make_train_step(lowered, run_optimizer(settings),
                                           batch_size=settings.batch)
    dataset = data.load("digits")
    images = jax.device_put(dataset.fields["image"])
    labels = jax.device_put(dataset.fields["label"])
    size, batch = len(dataset), settings.batch
    key = lowered.data_requests()[0].key
    init_key, train_key = jax.random.split(jax.random.key(settings.seed))
    params = lowered.init(init_key)
    opt_state = init_opt_state(params)

    @jax.jit
    def shuffled(epoch: jax.Array) -> jax.Array:
        return jax.random.permutation(jax.random.fold_in(train_key, epoch), size)

    def full_step(params, opt_state, order, offset, i):
        rows = order[(offset + jnp.arange(batch)) % size]
        return step(params, opt_state, {key: (images[rows], labels[rows])},
                    jax.random.fold_in(train_key, i))

    full_step = jax.jit(full_step, donate_argnums=(0, 1))
    first, epoch, order = None, None, None
    for i in range(steps):
        if (i * batch) // size != epoch:  # a new order once an epoch, on the device
            epoch = (i * batch) // size
            order = shuffled(epoch)
        params, opt_state, metrics = full_step(params, opt_state, order,
                                               (i * batch) % size, i)
        if i == 0 or (i + 1) % settings.log_every == 0 or i + 1 == steps:
            float(metrics["loss"])
            first = time.perf_counter() if i == 0 else first
    jax.block_until_ready(params)
    return (time.perf_counter() - first) / (steps - 1) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    training.Console = null_console  # the bar draws into a null terminal
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digits.task"
        path.write_text(TASK, encoding="utf-8")
        ours, once, hand = [], [], []
        for r in range(args.rounds):
            ours.append(taskdsl_run(path, args.steps, Path(tmp) / f"run{r}"))
            once.append(taskdsl_run(path, args.steps, Path(tmp) / f"once{r}",
                                    f"checkpoint_every={args.steps}"))
            hand.append(handwritten_run(path, args.steps))
            print(f"round {r}: taskdsl_ms={ours[-1]:.3f} final_checkpoint_only_ms="
                  f"{once[-1]:.3f} handwritten_ms={hand[-1]:.3f}", flush=True)
    a, b = statistics.median(ours), statistics.median(hand)
    print(f"taskdsl with only the final checkpoint: {statistics.median(once):.3f} ms/step")
    print(f"device={jax.devices()[0].platform} batch=32 steps={args.steps}")
    print(f"taskdsl_ms={a:.3f} handwritten_ms={b:.3f}")
    print(f"loop_overhead: small_ratio={a / b:.2f}")


if __name__ == "__main__":
    main()
