"""The demo's manipulator against a baseline written in the same language (DESIGN §9).

Trains ``examples/sprites_demo.task`` (the colour manipulator of ``taskdsl
demo``) and ``benchmarks/sprites_cvae.task`` (a conditional VAE used as an
editor) on the same sprites with the same steps and batch, judges both with the
same independent judge (trained once, in the manipulator's run), and prints the
figures side by side, then one line per model for scripts::

    manipulators: model=<name> attribute_success=<a> kept_attributes=<k> counterfactual_mse=<c>

    python benchmarks/manipulators.py [--steps N] [--batch B] [-n 1000] [--out DIR]

Without ``--steps``/``--batch`` each file trains with its own ``train`` block
(both say 800 steps at batch 32).  A run folder already in ``--out`` is resumed,
so an interrupted benchmark continues.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from taskdsl.backends.jax.demo import TASK
from taskdsl.backends.jax.evaluate import evaluate
from taskdsl.backends.jax.train import CONFIG, train
from taskdsl.loader import load

MODELS = {"manipulator": TASK, "cvae": Path(__file__).resolve().parent / "sprites_cvae.task"}
SHOWN = ("attribute_success", "training_classifier_success", "kept_attributes",
         "counterfactual_mse", "getput_mse", "undo_mse")


def run(out: Path, overrides: list[str], n: int) -> dict[str, dict[str, Any]]:
    """Train (or resume) and judge every model; the eval.json of each, by model name."""
    results: dict[str, dict[str, Any]] = {}
    judge = None
    for name, path in MODELS.items():
        run_dir = out / name
        train(load(path), None, overrides, run_dir, resume=(run_dir / CONFIG).is_file())
        results[name] = evaluate(run_dir, judge, n=n)
        judge = judge or results[name]["judge"]
    return results


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    lines = [f"{'figure':<28}" + "".join(f"{n:>14}" for n in names)]
    for figure in SHOWN:
        values = [results[n]["figures"].get(figure) for n in names]
        lines.append(f"{figure:<28}" + "".join(
            f"{'-' if v is None else f'{v:.4f}':>14}" for v in values))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="training steps for every model")
    parser.add_argument("--batch", type=int, help="batch size for every model")
    parser.add_argument("-n", type=int, default=1000, help="held-out examples to judge on")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_manipulators"))
    args = parser.parse_args(argv)
    overrides = [f"{key}={value}" for key, value in
                 (("steps", args.steps), ("batch", args.batch)) if value is not None]
    results = run(args.out, overrides, args.n)
    print(table(results))
    for name, result in results.items():
        found = result["figures"]
        print(f"manipulators: model={name} " + " ".join(
            f"{key}={found[key]:.4f}" for key in
            ("attribute_success", "kept_attributes", "counterfactual_mse")))


if __name__ == "__main__":
    main()
