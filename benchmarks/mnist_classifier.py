"""The classifier pattern on MNIST, trained through ``train``: the end-to-end figure.

Trains ``get`` (``nets.cnn``) with stdlib's ``classification`` pattern, i.e.
``x, y <- mnist; get(x) = y``, for 2,000 steps at batch 128 with Adam (1e-3),
then reports accuracy on the 10,000 test images::

    python benchmarks/mnist_classifier.py [--steps 2000] [--out RUN_DIR]

prints ``mnist_classifier: steps=2000 test_accuracy=<a> seconds=<s>``, where
seconds is the whole ``train`` call (lowering, compiling and every step).  Before
it, a line gives the median step time between logged steps (``metrics.jsonl``'s
``wall_time``, compilation left out), the step's GFLOP from the cost analysis of
its lowering (``lowering/cost.py``, before compilation: convolutions count) and the
achieved GFLOP/s.  MNIST
is read where every run reads it: ``taskdsl data fetch mnist`` once, or
``$TASKDSL_DATA`` naming a folder that holds ``mnist/``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
from pathlib import Path

import jax
import numpy as np
import optax

import taskdsl
from taskdsl.backends.jax import data
from taskdsl.backends.jax.lowering.cost import rate_text, step_flops
from taskdsl.backends.jax.lowering.lower import make_train_step
from taskdsl.backends.jax.training.train import RunResult, train

TASK = """\
import classification from stdlib

type Image = Real[28, 28, 1]
type Digit = Class[10]

data mnist : -> Image, Digit
learner get : Image -> Digit

use classification(classifier = get, data = mnist)

impl get = nets.cnn(width = 32)

train classify:
    data mnist = datasets.mnist(split = "train")
    batch 128
    steps 2000
    optimizer adam(lr = 1e-3)
"""


def test_accuracy(result: RunResult, chunk: int = 1000) -> float:
    """The share of MNIST test images whose most likely class is the label."""
    test = data.load("mnist", split="test")
    images, labels = test.fields["image"], test.fields["label"]
    correct = 0
    for start in range(0, len(labels), chunk):
        rows = slice(start, start + chunk)
        (logits,) = result.lowered.apply("get", result.params, images[rows])
        correct += int((np.argmax(np.asarray(logits), axis=-1) == labels[rows]).sum())
    return correct / len(labels)


def step_seconds(result: RunResult) -> float | None:
    """The median seconds a step between two logged steps of the run's metrics.jsonl (the
    first logged step, which includes compilation, left out)."""
    records = [json.loads(line) for line in
               (result.out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    timed = [(r["step"], r["wall_time"]) for r in records if "wall_time" in r]
    gaps = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in itertools.pairwise(timed)
            if s1 > s0]
    return statistics.median(gaps) if gaps else None


def flops_per_step(result: RunResult, batch: int) -> float | None:
    """The classifier's train step's FLOPs, from the cost analysis of its lowering."""
    init_opt_state, step = make_train_step(result.lowered, optax.adam(1e-3), donate=False)
    shapes = {r.key: (jax.ShapeDtypeStruct((batch, 28, 28, 1), np.float32),
                      jax.ShapeDtypeStruct((batch,), np.int32))
              for r in result.lowered.data_requests()}
    return step_flops(step, result.params, init_opt_state(result.params), shapes,
                      jax.random.key(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", type=Path, help="run folder (default: a new temporary one)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mnist_classifier-"))
    task_file = folder / "mnist_classifier.task"
    task_file.write_text(TASK, encoding="utf-8")
    result = train(taskdsl.load(task_file), "classify", [f"steps={args.steps}"],
                   args.out or folder / "run")
    accuracy = test_accuracy(result)
    seconds, flops = step_seconds(result), flops_per_step(result, result.settings.batch)
    if seconds is not None:
        shown = "n/a" if flops is None else f"{flops / 1e9:.3f}"
        print(f"step: median {1e3 * seconds:.2f} ms, {shown} GFLOP (cost analysis of the "
              f"lowered step), {rate_text(flops, seconds)}")
    print(f"mnist_classifier: steps={result.step} test_accuracy={accuracy:.4f} "
          f"seconds={result.seconds:.1f}")


if __name__ == "__main__":
    main()
