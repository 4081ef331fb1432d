"""The classifier pattern on MNIST, trained through ``train``: the end-to-end figure.

Trains ``get`` (``nets.cnn``) with stdlib's ``classification`` pattern, i.e.
``x, y <- mnist; get(x) = y``, for 2,000 steps at batch 128 with Adam (1e-3),
then reports accuracy on the 10,000 test images::

    python benchmarks/mnist_classifier.py [--steps 2000] [--out RUN_DIR]

prints ``mnist_classifier: steps=2000 test_accuracy=<a> seconds=<s>``, where
seconds is the whole ``train`` call (lowering, compiling and every step).  MNIST
is read where every run reads it: ``taskdsl data fetch mnist`` once, or
``$TASKDSL_DATA`` naming a folder that holds ``mnist/``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import taskdsl
from taskdsl.backends.jax import data
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
    print(f"mnist_classifier: steps={result.step} test_accuracy={accuracy:.4f} "
          f"seconds={result.seconds:.1f}")


if __name__ == "__main__":
    main()
