"""Every pattern's example learns: 40 steps at batch 16 move its equations the right way.

The small-budget check of each example that ``benchmarks/patterns.py`` trains
at its real budget.  Values are from ``metrics.jsonl`` (every step logged): the
mean of the first 3 steps against the mean of the last 5.  A broken lowering,
routing or schedule leaves an equation where it started, or sends it up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskdsl.backends.jax.training.train import METRICS, train
from taskdsl.loader import load

ROOT = Path(__file__).resolve().parents[4]
SHARED = ROOT.parent / "shared" / "data"
STEPS = ("steps=40", "batch=16", "log_every=1", "checkpoint_every=40")

# example -> [(equations summed, the share of its starting value it must fall below)]
LEARNS: dict[str, list[tuple[tuple[str, ...], float]]] = {
    "mnist_classifier": [(("classify",), 0.5)],
    "sprites_regression": [(("regress",), 0.5)],
    "mnist_autoencoder": [(("reconstruct",), 0.7)],
    "mnist_vae": [(("reconstruct",), 0.7)],
    "mnist_cvae": [(("classify",), 0.7), (("reconstruct",), 0.7)],
    "digits_gan": [(("real", "fake"), 0.85)],  # the discriminator learns
    # both discriminators tell real sprites, both generators learn to fool them
    "sprites_cyclegan": [(("real_a", "real_b"), 0.9), (("fool_a", "fool_b"), 0.95)],
    "sprites_lens": [(("lens.put_get",), 0.2), (("classify",), 0.6)],
}


@pytest.mark.parametrize("example", LEARNS)
def test_the_example_learns(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = load(ROOT / "examples" / f"{example}.task")
    if example.startswith("mnist"):
        if not (SHARED / "mnist").is_dir():
            pytest.skip("no ../shared/data/mnist")
        monkeypatch.setenv("TASKDSL_DATA", str(SHARED))
    train(program, None, STEPS, tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / METRICS).read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))
    for equations, share in LEARNS[example]:
        first, last = (sum(r[e] for r in part for e in equations) / len(part)
                       for part in (rows[:3], rows[-5:]))
        assert last < share * first, (equations, first, last)
