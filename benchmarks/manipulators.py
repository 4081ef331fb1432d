"""Manipulators against a conditional-VAE baseline written in the same language (docs/design.md §9).

Per domain, trains the manipulator and a conditional VAE used as an editor
(encode with the label a classifier reads, decode with the asked-for one) on
the same data with the same steps and batch, judges both with the same
independent judge (trained once per domain, in the manipulator's run), and
prints one table, then one line per model for scripts::

    manipulators: domain=<d> model=<m> attribute_success=<a> getput_mse=<g> ... train_seconds=<s>

    python benchmarks/manipulators.py [--domains sprites mnist sentences] [--steps N]
                                      [--batch B] [-n 1000] [--out DIR]

Domains: ``sprites`` (examples/sprites_demo.task, the demo's colour
manipulator, against benchmarks/sprites_cvae.task; built-in data), ``mnist``
(examples/mnist_manipulator.task against examples/mnist_cvae.task) and
``sentences`` (examples/sentiment_manipulator.task against
examples/sentiment_cvae.task); the last two read their data where every run
does (``taskdsl data fetch mnist`` / ``sentiment`` once, or ``$TASKDSL_DATA``).
Without ``--steps``/``--batch`` each file trains with its own ``train`` block.
A run folder already in ``--out`` is resumed, so an interrupted benchmark
continues; train seconds add up across resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from taskdsl.backends.jax.evaluation.demo import TASK
from taskdsl.backends.jax.evaluation.evaluate import evaluate
from taskdsl.backends.jax.training.train import CONFIG, train
from taskdsl.loader import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOMAINS: dict[str, dict[str, Path]] = {
    "sprites": {"manipulator": TASK, "cvae": ROOT / "benchmarks" / "sprites_cvae.task"},
    "mnist": {"manipulator": EXAMPLES / "mnist_manipulator.task",
              "cvae": EXAMPLES / "mnist_cvae.task"},
    "sentences": {"manipulator": EXAMPLES / "sentiment_manipulator.task",
                  "cvae": EXAMPLES / "sentiment_cvae.task"},
}
SHOWN = ("attribute_success", "training_classifier_success", "getput_mse", "undo_mse",
         "counterfactual_mse", "kept_attributes", "bleu", "train_seconds")
SECONDS = "benchmark_seconds.json"  # train seconds of a run folder, summed over resumes


def trained(path: Path, overrides: list[str], run_dir: Path) -> float:
    """Train (or resume) ``path`` into ``run_dir``; the seconds spent training it in all."""
    record = run_dir / SECONDS
    before = json.loads(record.read_text())["seconds"] if record.is_file() else 0.0
    result = train(load(path), None, overrides, run_dir, resume=(run_dir / CONFIG).is_file())
    seconds = before + result.seconds
    record.write_text(json.dumps({"seconds": seconds}))
    return seconds


def run(domain: str, out: Path, overrides: list[str], n: int) -> dict[str, dict[str, Any]]:
    """Every model of ``domain`` trained and judged: its figures, by model name."""
    results: dict[str, dict[str, Any]] = {}
    judge = None
    for name, path in DOMAINS[domain].items():
        run_dir = out / domain / name
        seconds = trained(path, overrides, run_dir)
        report = evaluate(run_dir, judge, n=n)
        judge = judge or report["judge"]
        results[name] = {**report["figures"], "train_seconds": seconds}
    return results


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """A Markdown table: one row per domain and model, a column per figure any of them has."""
    rows = [(d, m, f) for d, models in results.items() for m, f in models.items()]
    shown = [s for s in SHOWN if any(s in f for _, _, f in rows)]
    lines = ["| domain | method | " + " | ".join(shown) + " |",
             "|---|---|" + "---|" * len(shown)]
    for domain, model, found in rows:
        cells = ["-" if found.get(s) is None else _cell(s, found[s]) for s in shown]
        lines.append(f"| {domain} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(figure: str, value: float) -> str:
    if figure == "train_seconds":
        return f"{value:.0f}"
    if figure == "bleu":
        return f"{value:.1f}"
    return f"{value:.3f}" if figure.endswith("success") or figure == "kept_attributes" else f"{value:.4f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", choices=list(DOMAINS), default=list(DOMAINS))
    parser.add_argument("--steps", type=int, help="training steps for every model")
    parser.add_argument("--batch", type=int, help="batch size for every model")
    parser.add_argument("-n", type=int, default=1000, help="held-out examples to judge on")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_manipulators"))
    args = parser.parse_args(argv)
    overrides = [f"{key}={value}" for key, value in
                 (("steps", args.steps), ("batch", args.batch)) if value is not None]
    results = {domain: run(domain, args.out, overrides, args.n) for domain in args.domains}
    print(table(results))
    for domain, models in results.items():
        for name, found in models.items():
            print(f"manipulators: domain={domain} model={name} " + " ".join(
                f"{key}={found[key]:.4f}" for key in SHOWN if key in found))


if __name__ == "__main__":
    main()
