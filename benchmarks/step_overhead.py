"""What the taskdsl lowering costs per train step, against the same objective written by hand.

The objective is the MNIST manipulator's ``manipulate = put_get + 10 * get_put
+ undo`` (examples/mnist_manipulator.task): ``get`` a classifier and ``put`` an
editor, built from the file's ``impl`` lines, only ``put`` trained, Adam at
1e-3.  The hand-written version builds the same Flax NNX nets (the same
``impl`` options, so the two cannot drift apart), the same optimizer,
the same three independent MNIST-shaped batches per step
and the same metrics (each task's value, the total, the gradient norm), and is
what a careful JAX user would write: one ``jax.jit``, ``value_and_grad`` over
``put`` only, donated buffers.

Both steps run alternately in one process, in chunks, on the same
device-resident synthetic batches; each step is timed to completion
(``block_until_ready``) and the median over ``--steps`` steps (after warm-up)
is reported, with examples/s and the achieved FLOP/s: the step's FLOPs from the cost
analysis of its lowering, before compilation (``lowering/cost.py``: it counts the
convolutions, which the compiled step's count on a GPU leaves to cuDNN and omits),
over the median step time.  ``--precision bfloat16`` runs both steps in bfloat16
on float32 parameters (the ``precision`` setting; the hand-written step casts its
parameters and batch the same way).  The last two lines are machine-readable::

    step_rate: precision=<p> batch=<n> examples_per_s=<e> tflops=<t>   (taskdsl's step)
    step_overhead: taskdsl_ms=<a> handwritten_ms=<b> ratio=<a/b>
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
from rich.progress import track

import taskdsl
from taskdsl.backends.jax.lowering.cost import rate_text, step_flops
from taskdsl.backends.jax.lowering.lower import Lowered, lower, make_train_step
from taskdsl.backends.jax.lowering.precision import PRECISIONS, cast_floats, computing_in
from taskdsl.backends.jax.nets import build

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mnist_manipulator.task"
OBJECTIVE = "manipulate"
LEARNING_RATE = 1e-3

Batch = dict[str, tuple[jax.Array, ...]]


def synthetic_batches(lowered: Lowered, batch: int, count: int, seed: int = 0) -> list[Batch]:
    """``count`` device-resident batches, one MNIST-shaped draw per data request."""
    rng = np.random.default_rng(seed)
    return [
        {r.key: (jax.device_put(rng.random((batch, 28, 28, 1), dtype=np.float32)),
                 jax.device_put(rng.integers(0, 10, batch, dtype=np.int32)))
         for r in lowered.data_requests()}
        for _ in range(count)
    ]


@dataclass
class Runner:
    """A jitted train step and the state it threads: ``run`` does step ``i``."""

    step: Callable  # (params, opt_state, batch, key) -> (params, opt_state, metrics)
    params: Any
    opt_state: Any
    batches: list[Batch]

    def run(self, key: jax.Array, i: int) -> jax.Array:
        self.params, self.opt_state, metrics = self.step(
            self.params, self.opt_state, self.batches[i % len(self.batches)], key)
        return metrics["loss"]

    def flops(self) -> float | None:
        """The step's floating-point operations, from its lowering's cost analysis (before
        compilation, so convolutions count on every backend; nothing runs)."""
        return step_flops(self.step, self.params, self.opt_state, self.batches[0],
                          jax.random.key(0))


def taskdsl_step(lowered: Lowered, batches: list[Batch], precision: str = "float32") -> Runner:
    """The lowered objective's train step, as the training loop runs it."""
    init_opt_state, step = make_train_step(lowered, optax.adam(LEARNING_RATE),
                                           precision=precision)
    params = lowered.init(jax.random.key(0))
    return Runner(step, params, init_opt_state(params), batches)


def handwritten_step(lowered: Lowered, batches: list[Batch], precision: str = "float32"
                     ) -> Runner:
    """The same objective by hand: plain JAX, Flax NNX, Optax; in bfloat16, the parameters
    and the batch cast on the way in and the losses back to float32."""
    dtype = computing_in(precision)

    def cast(tree: Any) -> Any:
        return tree if dtype is None else cast_floats(tree, dtype)

    image, digit = lowered.data_requests()[0].types
    get = build(lowered.impls["get"].name, (image,), (digit,), lowered.impls["get"].kwargs,
                nnx.Rngs(0))
    put = build(lowered.impls["put"].name, (image, digit), (image,), lowered.impls["put"].kwargs,
                nnx.Rngs(1))
    get_graph, get_params = nnx.split(get)
    put_graph, put_params = nnx.split(put)
    keys = [r.key for r in lowered.data_requests()]  # put_get, get_put, undo
    optimizer = optax.adam(LEARNING_RATE)

    def loss(put_params: nnx.State, batch: Batch, key: jax.Array
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        classify = nnx.merge(get_graph, cast(get_params))
        edit = nnx.merge(put_graph, cast(put_params))
        batch = cast(batch)
        k_put_get, k_undo = jax.random.split(key)

        x = batch[keys[0]][0]
        a = jax.nn.one_hot(jax.random.randint(k_put_get, (x.shape[0],), 0, 10), 10)
        (logits,) = classify(edit(x, a)[0])
        put_get = jnp.mean(optax.softmax_cross_entropy(logits, a))

        x = batch[keys[1]][0]
        (logits,) = classify(x)
        get_put = jnp.mean(jnp.square(edit(x, jax.nn.softmax(logits))[0] - x))

        x = batch[keys[2]][0]
        a = jax.nn.one_hot(jax.random.randint(k_undo, (x.shape[0],), 0, 10), 10)
        (logits,) = classify(x)
        undo = jnp.mean(jnp.square(edit(edit(x, a)[0], jax.nn.softmax(logits))[0] - x))

        tasks = {"put_get": put_get.astype(jnp.float32), "get_put": get_put.astype(jnp.float32),
                 "undo": undo.astype(jnp.float32)}
        put_get, get_put, undo = tasks["put_get"], tasks["get_put"], tasks["undo"]
        return put_get + 10 * get_put + undo, tasks

    def step(put_params: nnx.State, opt_state: optax.OptState, batch: Batch, key: jax.Array
             ) -> tuple[nnx.State, optax.OptState, dict[str, jax.Array]]:
        (total, tasks), grads = jax.value_and_grad(loss, has_aux=True)(put_params, batch, key)
        updates, opt_state = optimizer.update(grads, opt_state, put_params)
        metrics = {**tasks, "loss": total, "grad_norm/put": optax.tree.norm(grads)}
        return optax.apply_updates(put_params, updates), opt_state, metrics

    return Runner(jax.jit(step, donate_argnums=(0, 1)), put_params, optimizer.init(put_params),
                  batches)


def timed(runner: Runner, key: jax.Array, i: int) -> float:
    """Seconds for one step, dispatch to finished result."""
    start = time.perf_counter()
    jax.block_until_ready(runner.run(key, i))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128, help="examples per draw (default 128)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps of each (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps of each (default 5)")
    parser.add_argument("--chunk", type=int, default=10,
                        help="steps of one before switching to the other (default 10)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="the steps' arithmetic (default float32)")
    args = parser.parse_args()

    lowered = lower(taskdsl.load(EXAMPLE), OBJECTIVE)
    batches = synthetic_batches(lowered, args.batch, count=4)
    runners = {"taskdsl": taskdsl_step(lowered, batches, args.precision),
               "handwritten": handwritten_step(lowered, batches, args.precision)}
    keys = jax.random.split(jax.random.key(0), args.warmup + args.steps)
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"batch {args.batch}, {args.precision}, {args.steps} steps each after "
          f"{args.warmup} warm-up")

    for name, runner in runners.items():
        start = time.perf_counter()
        for i in range(args.warmup):
            jax.block_until_ready(runner.run(keys[i], i))
        print(f"  {name}: compiled and warmed up in {time.perf_counter() - start:.1f}s")

    flops = {name: runner.flops() for name, runner in runners.items()}
    for name, count in flops.items():
        shown = "n/a" if count is None else f"{count / 1e9:.3f}"
        print(f"  {name}: {shown} GFLOP per step (cost analysis of the lowered step)")

    times: dict[str, list[float]] = {name: [] for name in runners}
    chunks = range(args.warmup, args.warmup + args.steps, args.chunk)
    for first in track(chunks, description="timing (alternating chunks)", transient=True):
        for name, runner in runners.items():
            for i in range(first, min(first + args.chunk, args.warmup + args.steps)):
                times[name].append(timed(runner, keys[i], i))

    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, median in medians.items():
        print(f"  {name}: median {1e3 * median:.2f} ms/step, {args.batch / median:.0f} examples/s, "
              f"{rate_text(flops[name], median)}")
    ours = medians["taskdsl"]
    rate = None if flops["taskdsl"] is None else flops["taskdsl"] / ours / 1e12
    print(f"step_rate: precision={args.precision} batch={args.batch} "
          f"examples_per_s={args.batch / ours:.0f} tflops="
          + ("n/a" if rate is None else f"{rate:.3f}"))
    ratio = medians["taskdsl"] / medians["handwritten"]
    print(f"step_overhead: taskdsl_ms={1e3 * medians['taskdsl']:.3f} "
          f"handwritten_ms={1e3 * medians['handwritten']:.3f} ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
