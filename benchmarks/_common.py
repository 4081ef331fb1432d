"""What the benchmarks share: where the repository's examples are, and the small
objective several of them train (an MLP classifier on the bundled ``digits``, 8x8
images, 10 classes, at batch 32 with Adam), so that their figures are of one model."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIPULATOR = ROOT / "examples" / "mnist_manipulator.task"

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


def small_task(folder: Path) -> Path:
    """:data:`SMALL` written to ``folder/digits.task`` (its objective: ``classify``)."""
    path = folder / "digits.task"
    path.write_text(SMALL, encoding="utf-8")
    return path
