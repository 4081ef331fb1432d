"""An alternating GAN's train step in taskdsl, against the same loop written by hand.

The GAN is ``examples/digits_gan.task`` (the standard library's ``gan`` pattern:
``real`` and ``fake`` train ``disc``, ``fool`` trains ``gen``; its ``impl``
nets and ``adam(lr = 2e-4, b1 = 0.5)``) under ``schedule alternate(disc: 1, gen:
1)``: a discriminator step, then a generator step against the updated
discriminator.  Four steps run alternately in one process, on the same
device-resident synthetic 8x8 batches:

* ``taskdsl``: the lowered train step (``make_train_step`` with the run's
  optimizer, ``run_optimizer``), which differentiates only the phase's learner
  (one ``lax.switch`` branch per phase);
* ``handwritten``: what a careful JAX user writes: the same Flax NNX nets (built
  from the same ``impl`` options), one jitted step per phase, each
  ``value_and_grad`` over that phase's learner only, an Adam state per learner,
  donated buffers, and the same metrics (every task's value, the total, each
  learner's gradient norm, as ``taskdsl train`` logs them);
* ``all_grads`` (for reference): the lowered step as it was before phase-only
  gradients, differentiating both learners every step and dropping the paused
  one's update;
* ``switched`` (for reference): the lowered step traced inside a caller's
  ``jax.jit``, as a training loop that jits or scans its steps takes it: one
  ``lax.switch`` on the phase, whose convolutions XLA:CPU compiles without its
  fast kernels.

A timed unit is one whole cycle (a discriminator step and a generator step),
dispatch to finished result; the median over ``--cycles`` cycles is reported.
The last line is machine-readable::

    gan_schedule: taskdsl_ms=<a> handwritten_ms=<b> all_grads_ms=<c> switched_ms=<d> ratio=<a/b>

Goal: ``ratio`` at most 1.10.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import taskdsl
from taskdsl.backends.jax.lowering.lower import Lowered, lower, make_train_step
from taskdsl.backends.jax.training.runs import run_optimizer
from taskdsl.backends.jax.training.settings import resolve

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_gan.task"
OBJECTIVE = "adversarial"
SCHEDULE = "schedule=alternate(disc=1, gen=1)"

Batch = dict[str, tuple[jax.Array, ...]]


@dataclass
class Runner:
    """Jitted steps (one per phase, or one for all) and the state they thread."""

    steps: list[Callable]  # step i runs steps[i % len(steps)]
    params: Any
    opt_state: Any
    batches: list[Batch]

    def run(self, key: jax.Array, i: int) -> jax.Array:
        step = self.steps[i % len(self.steps)]
        self.params, self.opt_state, metrics = step(
            self.params, self.opt_state, self.batches[i % len(self.batches)], key)
        return metrics["loss"]


def synthetic_batches(lowered: Lowered, batch: int, count: int, seed: int = 0) -> list[Batch]:
    """``count`` device-resident batches: 8x8 images and (unused) labels per data draw."""
    rng = np.random.default_rng(seed)
    return [{r.key: (jax.device_put(rng.random((batch, 8, 8, 1), dtype=np.float32)),
                     jax.device_put(rng.integers(0, 10, batch, dtype=np.int32)))
             for r in lowered.data_requests()} for _ in range(count)]


def taskdsl_runner(lowered: Lowered, optimizer: Any, batches: list[Batch]) -> Runner:
    """The lowered step with the run's scheduled optimizer, as ``taskdsl train`` runs it."""
    init_opt_state, step = make_train_step(lowered, optimizer)
    params = lowered.init(jax.random.key(0))
    return Runner([step], params, init_opt_state(params), batches)


def all_grads_runner(lowered: Lowered, optimizer: Any, batches: list[Batch]) -> Runner:
    """The step before phase-only gradients: without ``phase`` the train step differentiates
    every trained learner, and ``scheduled``'s optax ``update`` drops the paused ones'."""
    return taskdsl_runner(lowered, optax.GradientTransformation(optimizer.init,
                                                                optimizer.update), batches)


def switched_runner(lowered: Lowered, optimizer: Any, batches: list[Batch]) -> Runner:
    """The lowered step traced inside a jitted caller: the ``lax.switch`` on the phase."""
    runner = taskdsl_runner(lowered, optimizer, batches)
    step = runner.steps[0]
    runner.steps = [jax.jit(lambda *args: step(*args), donate_argnums=(0, 1))]
    return runner


def handwritten_runner(lowered: Lowered, batches: list[Batch]) -> Runner:
    """The same GAN by hand: plain JAX, Flax NNX, Optax, one jitted step per phase."""
    # the same nets, built from the same `impl` options by the same `build`
    gen_graph, gen_params = nnx.split(lowered.learners["gen"].build(jax.random.key(0)))
    disc_graph, disc_params = nnx.split(lowered.learners["disc"].build(jax.random.key(1)))
    key_of_real = lowered.data_requests()[0].key
    (width,) = lowered.learners["gen"].signature.inputs[0].shape
    optimizer = optax.adam(2e-4, b1=0.5)

    def bce(logits: jax.Array, label: float) -> jax.Array:
        return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(
            logits, jnp.full_like(logits, label)), axis=-1))

    def tasks(params: dict[str, nnx.State], batch: Batch, key: jax.Array
              ) -> dict[str, jax.Array]:
        """real, fake and fool, each task drawing its own noise (as the pattern does)."""
        g = nnx.merge(gen_graph, params["gen"])
        d = nnx.merge(disc_graph, params["disc"])
        x = batch[key_of_real][0]
        k_fake, k_fool = jax.random.split(key)
        size = x.shape[0]
        fake_z = jax.random.normal(k_fake, (size, width))
        fool_z = jax.random.normal(k_fool, (size, width))
        # `fake` trains disc only: the generator's sample is a constant there
        fake_x = jax.lax.stop_gradient(g(fake_z)[0])
        return {"real": bce(d(x)[0], 1.0), "fake": bce(d(fake_x)[0], 0.0),
                "fool": bce(d(g(fool_z)[0])[0], 1.0)}

    def phase_step(learner: str) -> Callable:
        other = "gen" if learner == "disc" else "disc"

        def step(params: dict[str, nnx.State], opt_state: dict[str, Any], batch: Batch,
                 key: jax.Array) -> tuple[dict, dict, dict[str, jax.Array]]:
            def loss(own: nnx.State) -> tuple[jax.Array, dict[str, jax.Array]]:
                values = tasks({learner: own, other: params[other]}, batch, key)
                return sum(values.values()), values

            (total, values), grads = jax.value_and_grad(loss, has_aux=True)(params[learner])
            updates, state = optimizer.update(grads, opt_state[learner], params[learner])
            metrics = {**values, "loss": total, f"grad_norm/{learner}": optax.tree.norm(grads),
                       f"grad_norm/{other}": jnp.zeros(())}
            return ({learner: optax.apply_updates(params[learner], updates),
                     other: params[other]},
                    {learner: state, other: opt_state[other]}, metrics)

        return jax.jit(step, donate_argnums=(0, 1))

    params = {"gen": gen_params, "disc": disc_params}
    states = {n: optimizer.init(p) for n, p in params.items()}
    return Runner([phase_step("disc"), phase_step("gen")], params, states, batches)


def timed_cycle(runner: Runner, keys: jax.Array, first: int) -> float:
    """Seconds for one cycle (a disc step, a gen step), dispatch to finished result."""
    start = time.perf_counter()
    for i in (first, first + 1):
        loss = runner.run(keys[i], i)
    jax.block_until_ready(loss)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="examples per draw (default 64)")
    parser.add_argument("--cycles", type=int, default=300,
                        help="timed cycles (disc step + gen step) of each (default 300)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed cycles (default 5)")
    parser.add_argument("--chunk", type=int, default=10,
                        help="cycles of one before switching to the next (default 10)")
    args = parser.parse_args()

    program = taskdsl.load(EXAMPLE)
    settings = resolve(program, OBJECTIVE, (SCHEDULE, f"batch={args.batch}"))
    optimizer = run_optimizer(settings)
    lowered = lower(program, OBJECTIVE)
    batches = synthetic_batches(lowered, args.batch, count=4)
    runners = {"taskdsl": taskdsl_runner(lowered, optimizer, batches),
               "handwritten": handwritten_runner(lowered, batches),
               "all_grads": all_grads_runner(lowered, optimizer, batches),
               "switched": switched_runner(lowered, optimizer, batches)}
    total = 2 * (args.warmup + args.cycles)
    keys = jax.random.split(jax.random.key(0), total)
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"batch {args.batch}, {args.cycles} cycles (disc step + gen step) each after "
          f"{args.warmup} warm-up")
    for name, runner in runners.items():
        start = time.perf_counter()
        for c in range(args.warmup):
            timed_cycle(runner, keys, 2 * c)
        print(f"  {name}: compiled and warmed up in {time.perf_counter() - start:.1f}s")

    times: dict[str, list[float]] = {name: [] for name in runners}
    for first in range(args.warmup, args.warmup + args.cycles, args.chunk):
        for name, runner in runners.items():
            for c in range(first, min(first + args.chunk, args.warmup + args.cycles)):
                times[name].append(timed_cycle(runner, keys, 2 * c))

    ms = {name: 1e3 * statistics.median(ts) / 2 for name, ts in times.items()}
    for name, value in ms.items():
        print(f"  {name}: median {value:.3f} ms/step (half a cycle)")
    ratio = ms["taskdsl"] / ms["handwritten"]
    print(f"  phase-only gradients save {100 * (1 - ms['taskdsl'] / ms['all_grads']):.0f}% "
          "of the all-gradients step")
    print(f"gan_schedule: taskdsl_ms={ms['taskdsl']:.3f} handwritten_ms={ms['handwritten']:.3f} "
          f"all_grads_ms={ms['all_grads']:.3f} switched_ms={ms['switched']:.3f} "
          f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
