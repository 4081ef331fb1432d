"""Manipulators against a conditional-VAE baseline written in the same language (docs/design.md §9).

Per domain, trains the manipulator and a conditional VAE used as an editor
(encode with the label a classifier reads, decode with the asked-for one) on
the same data with the same steps and batch, judges both with the same
independent judge (trained once per domain, in the manipulator's run), and
prints one table, then one line per model for scripts::

    manipulators: domain=<d> model=<m> attribute_success=<a> getput_mse=<g> ... train_seconds=<s>

    python benchmarks/manipulators.py [--domains sprites mnist sentences] [--steps N]
                                      [--batch B] [-n 1000] [--out DIR] [--seeds N] [--quick]

``--seeds N`` trains every model with seeds 0 .. N-1 and prints a second table:
mean ± standard deviation over seeds of attribute success, ``getput_mse`` and
the realism figures (two-sample accuracy, Fréchet distance; docs/manipulators.md,
"Realism"; for sentences, on the judge's encodings), with the number of runs
that diverged (a figure not finite) or collapsed (attribute success at or
below chance, one over the number of classes: the editor ignores what it is
asked), and whether the method trains a discriminator.  ``--quick`` is a
smoke run: 20 steps, batch 16, n = 200, a 100-step judge, 100-step
two-sample classifiers.

Domains: ``sprites`` (examples/sprites_demo.task, the colour manipulator with
``small_edit``, against benchmarks/sprites_cvae.task; built-in data), ``mnist``
(examples/mnist_manipulator.task against examples/mnist_cvae.task) and
``sentences`` (examples/sentiment_manipulator.task against
examples/sentiment_cvae.task; the first table adds ``perplexity_ratio``, the
perplexity of edits over that of their inputs under a bigram model of the
training sentences); on MNIST and sprites also the manipulator with a
realism prior of examples/mnist_manipulator_prior.task /
examples/sprites_manipulator_prior.task (a denoising autoencoder of real
data, no discriminator; on sprites, what ``taskdsl demo`` trains), on MNIST
with the realism critic of examples/mnist_manipulator_realism.task (a
discriminator), and on MNIST and
sprites the conditional GAN editor of examples/mnist_cgan.task /
examples/sprites_cgan.task, the adversarial baseline.  MNIST and sentences
read their data where every run does (``taskdsl data fetch mnist`` /
``sentiment`` once, or ``$TASKDSL_DATA``).
Without ``--steps``/``--batch`` each file trains with its own ``train`` block.
A run folder already in ``--out`` is resumed, so an interrupted benchmark
continues; train seconds add up across resumes.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from taskdsl.backends.jax.evaluation.demo import TASK
from taskdsl.backends.jax.evaluation.evaluate import EVAL_FILE, JUDGE_STEPS, evaluate
from taskdsl.backends.jax.evaluation.realism import TWO_SAMPLE_STEPS
from taskdsl.backends.jax.training.checkpoint import FOLDER
from taskdsl.backends.jax.training.train import CONFIG, train
from taskdsl.loader import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOMAINS: dict[str, dict[str, Path]] = {
    "sprites": {"manipulator": EXAMPLES / "sprites_demo.task", "prior": TASK,
                "cvae": ROOT / "benchmarks" / "sprites_cvae.task",
                "cgan": EXAMPLES / "sprites_cgan.task"},
    "mnist": {"manipulator": EXAMPLES / "mnist_manipulator.task",
              "prior": EXAMPLES / "mnist_manipulator_prior.task",
              "realism": EXAMPLES / "mnist_manipulator_realism.task",
              "cvae": EXAMPLES / "mnist_cvae.task", "cgan": EXAMPLES / "mnist_cgan.task"},
    "sentences": {"manipulator": EXAMPLES / "sentiment_manipulator.task",
                  "cvae": EXAMPLES / "sentiment_cvae.task"},
}
SHOWN = ("attribute_success", "training_classifier_success", "getput_mse", "undo_mse",
         "counterfactual_mse", "kept_attributes", "bleu", "perplexity_ratio",
         "two_sample_accuracy", "frechet_distance", "train_seconds")
SECONDS = "benchmark_seconds.json"  # train seconds of a run folder, summed over resumes
ADVERSARIAL = frozenset({"cgan", "realism"})
"""Methods that train a discriminator: the paper's point is that manipulators need none."""
STABILITY = ("attribute_success", "getput_mse", "two_sample_accuracy", "frechet_distance")
QUICK = {"steps": 20, "batch": 16, "n": 200, "judge_steps": 100, "realism_steps": 100}


def trained(path: Path, overrides: list[str], run_dir: Path) -> float:
    """Train (or resume) ``path`` into ``run_dir``; the seconds spent training it in all."""
    record = run_dir / SECONDS
    before = json.loads(record.read_text())["seconds"] if record.is_file() else 0.0
    result = train(load(path), None, overrides, run_dir, resume=(run_dir / CONFIG).is_file())
    seconds = before + result.seconds
    record.write_text(json.dumps({"seconds": seconds}))
    return seconds


def judged_before(run_dir: Path, judge: str | None, n: int,
                  realism_steps: int) -> dict[str, Any] | None:
    """The run's ``eval.json`` when it judged the run as trained now, by ``judge`` (None:
    the run's own), on ``n`` examples with ``realism_steps``: a resumed benchmark re-judges
    only the runs that changed.  None when anything differs or the file is unreadable."""
    found, checkpoints = run_dir / EVAL_FILE, run_dir / FOLDER
    try:
        old = json.loads(found.read_text())
        fresh = found.stat().st_mtime > max(
            [checkpoints.stat().st_mtime, *(p.stat().st_mtime for p in checkpoints.iterdir())])
    except (OSError, ValueError):
        return None
    same_judge = (Path(old.get("judge", "")).resolve() == Path(judge).resolve() if judge
                  else Path(old.get("judge", "")).parent.resolve() == run_dir.resolve())
    steps = old.get("realism", {}).get("two_sample_steps", realism_steps)
    same = old.get("n") == n and steps == realism_steps
    return old if fresh and same_judge and same and "figures" in old else None


def run(domain: str, out: Path, overrides: list[str], n: int, seed: int | None = None,
        judge: str | None = None, judge_steps: int = JUDGE_STEPS,
        realism_steps: int = TWO_SAMPLE_STEPS,
        methods: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every model of ``domain`` (of ``methods``, if given) trained (with ``seed``, else its
    file's) and judged by ``judge`` (default: the one trained in the first model's run):
    its figures, by name.  The judge is trained in the manipulator's run: list it first."""
    results: dict[str, dict[str, Any]] = {}
    folder = out / domain if seed is None else out / domain / f"seed{seed}"
    extra = [] if seed is None else [f"seed={seed}"]
    for name, path in DOMAINS[domain].items():
        if methods is not None and name not in methods:
            continue
        run_dir = folder / name
        seconds = trained(path, overrides + extra, run_dir)
        report = judged_before(run_dir, judge, n, realism_steps) or evaluate(
            run_dir, judge, n=n, judge_steps=judge_steps, realism_steps=realism_steps)
        judge = judge or report["judge"]
        realism = report.get("realism", {})
        classes = report.get("classes") or []
        results[name] = {**report["figures"], "train_seconds": seconds, "judge": judge,
                         "chance": 1 / len(classes) if classes else None,
                         "two_sample_accuracy": realism.get("two_sample_accuracy"),
                         "frechet_distance": realism.get("frechet_distance")}
    return results


def spread(runs: list[dict[str, Any]], figure: str) -> tuple[float, float] | None:
    """Mean and standard deviation of ``figure`` over the runs where it is finite."""
    values = [r[figure] for r in runs if r.get(figure) is not None and math.isfinite(r[figure])]
    return (float(np.mean(values)), float(np.std(values))) if values else None


def diverged(found: dict[str, Any]) -> bool:
    """A run whose figures are not finite: it diverged (NaN parameters give NaN edits)."""
    return any(found.get(f) is not None and not math.isfinite(found[f]) for f in STABILITY)


def collapsed(found: dict[str, Any]) -> bool:
    """A finite run whose edits are read as asked no more often than chance (``chance``:
    one over the number of classes): the editor ignores the asked-for class."""
    success, chance = found.get("attribute_success"), found.get("chance")
    return (not diverged(found) and success is not None and chance is not None
            and success <= chance)


def stability_table(by_seed: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """Mean ± std over seeds of every figure the runs have (train seconds aside), per
    domain and method, and the runs that diverged or collapsed."""
    every = [r for methods in by_seed.values() for runs in methods.values() for r in runs]
    shown = [s for s in SHOWN if s != "train_seconds" and any(s in r for r in every)]
    lines = ["| domain | method | discriminator | seeds | diverged | collapsed | "
             + " | ".join(shown) + " |", "|---|---|---|---|---|---|" + "---|" * len(shown)]
    for domain, methods in by_seed.items():
        for method, runs in methods.items():
            cells = []
            for figure in shown:
                found = spread(runs, figure)
                cells.append("-" if found is None
                             else f"{_cell(figure, found[0])} ± {_cell(figure, found[1])}")
            lines.append(f"| {domain} | {method} | {'yes' if method in ADVERSARIAL else 'no'} | "
                         f"{len(runs)} | {sum(map(diverged, runs))} | {sum(map(collapsed, runs))} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    if figure in ("frechet_distance", "perplexity_ratio"):
        return f"{value:.2f}"
    shares = ("kept_attributes", "two_sample_accuracy")
    return f"{value:.3f}" if figure.endswith("success") or figure in shares else f"{value:.4f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", choices=list(DOMAINS), default=list(DOMAINS))
    parser.add_argument("--methods", nargs="+", metavar="METHOD",
                        choices=sorted({m for methods in DOMAINS.values() for m in methods}),
                        help="only these methods (default: every method of each domain); "
                             "the judge is trained in the manipulator's run")
    parser.add_argument("--steps", type=int, help="training steps for every model")
    parser.add_argument("--batch", type=int, help="batch size for every model")
    parser.add_argument("-n", type=int, default=1000, help="held-out examples to judge on")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_manipulators"))
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="train every model with seeds 0 .. N-1; print mean ± std")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 20 steps, batch 16, n = 200, small judge")
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    steps, batch = args.steps or quick.get("steps"), args.batch or quick.get("batch")
    n = quick.get("n", args.n)
    budget = {"judge_steps": quick.get("judge_steps", JUDGE_STEPS),
              "realism_steps": quick.get("realism_steps", TWO_SAMPLE_STEPS),
              "methods": args.methods}
    overrides = [f"{key}={value}" for key, value in
                 (("steps", steps), ("batch", batch)) if value is not None]
    if args.seeds is None:
        results = {domain: run(domain, args.out, overrides, n, **budget)
                   for domain in args.domains}
        seeded = None
    else:
        seeded = {}
        for domain in args.domains:
            first = run(domain, args.out, overrides, n, seed=0, **budget)
            if not first:  # none of --methods is one of this domain's
                continue
            judge = next(iter(first.values()))["judge"]
            runs = [first, *(run(domain, args.out, overrides, n, seed=s, judge=judge, **budget)
                             for s in range(1, args.seeds))]
            seeded[domain] = {m: [r[m] for r in runs] for m in first}
        results = {d: {m: rs[0] for m, rs in methods.items()} for d, methods in seeded.items()}
    print(table(results))
    if seeded is not None:
        print()
        print(stability_table(seeded))
    for domain, models in results.items():
        for name, found in models.items():
            print(f"manipulators: domain={domain} model={name} " + " ".join(
                f"{key}={found[key]:.4f}" for key in SHOWN if found.get(key) is not None))


if __name__ == "__main__":
    main()
