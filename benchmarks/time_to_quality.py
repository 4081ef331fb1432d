"""Wall seconds for the MNIST manipulator example to reach its quality goal (issue #14).

The goal: judge success (``attribute_success``) >= 0.95 with ``getput_mse`` <= 0.01,
the figures of ``taskdsl eval`` (``backends/jax/evaluation/evaluate.py``: an
independent classifier, the judge, reads each edit ``put(x, a)`` of held-out
digits), measured every ``--every`` (100) steps on ``--n`` (1,000) test digits.

How it runs, with one command::

    TASKDSL_DATA=/path/with/mnist python benchmarks/time_to_quality.py [--max-seconds 1800]

1. The judge is trained first (``taskdsl eval``'s own judge: its task, steps and
   seed), once, untimed: it is the measuring instrument, not the manipulator.
2. ``taskdsl train examples/mnist_manipulator.task`` runs as a user runs it (a
   subprocess, the command line, the example's own settings except a large
   ``steps``, ``checkpoint_every = --every`` and enough ``keep``).  Its clock is
   the run's own ``wall_time`` in ``metrics.jsonl`` (seconds since the run
   started, compilation included), to which the seconds from the command's
   launch to that start (imports, checking, data loading) are added: what the
   user waits for from pressing Enter.
3. This process evaluates each checkpoint as it appears (at a lower priority than
   the training, with which it shares the machine) and stops the training at the
   first one that meets the goal, or once ``--max-seconds`` have passed since the
   launch (only checkpoints saved within them count).

``--judge RUN_DIR`` reuses a judge trained before (``RUN_DIR/judge`` of an
earlier evaluation); ``--set KEY=VALUE`` adds a setting of the training (e.g.
``steps_per_call=1``).

Saving a checkpoint every 100 steps costs the training a little time, and the
evaluations compete with it for the cores: the figure is an upper bound.

The last line is machine-readable::

    time_to_quality: seconds=<s> goal=600 ratio=<s/600>
    time_to_quality: reached=false best_success=<a> best_getput=<b> seconds><cap> \
evaluations=<n> last_logged_step=<step>
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "mnist_manipulator.task"
GOAL_SECONDS = 600.0
SUCCESS, GETPUT = 0.95, 0.01


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="stop the training when its clock passes this (default 1800)")
    parser.add_argument("--every", type=int, default=100, help="steps between evaluations")
    parser.add_argument("--n", type=int, default=1000, help="held-out digits per evaluation")
    parser.add_argument("--steps", type=int, default=100_000,
                        help="the training's `steps` (large: the goal or the cap stops it)")
    parser.add_argument("--judge-steps", type=int, default=None,
                        help="the judge's training steps (default: taskdsl eval's)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a further setting of the training")
    parser.add_argument("--judge", type=Path, default=None,
                        help="a judge run folder to reuse (RUN_DIR/judge of an earlier eval)")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the run folders here (default: a temporary folder)")
    return parser.parse_args(argv)


def _judge(folder: Path, steps: int | None, reuse: Path | None) -> Any:
    """``taskdsl eval``'s judge for the example, trained in ``folder`` on a 1-step run (or
    the judge run ``reuse``)."""
    from taskdsl import load
    from taskdsl.backends.jax.evaluation.evaluate import JUDGE_STEPS, cached_judge, find_judge
    from taskdsl.backends.jax.evaluation.manipulate import find_manipulator
    from taskdsl.backends.jax.training.runs import load_run
    from taskdsl.backends.jax.training.train import train

    seed_run = folder / "judge_seed"
    train(load(EXAMPLE), None, ["steps=1"], seed_run, progress=False)
    manipulator = find_manipulator(load_run(seed_run))
    if reuse is not None:
        return find_judge(load_run(reuse), manipulator.state, manipulator.fields[1])
    return cached_judge(manipulator, steps or JUDGE_STEPS, progress=False)


class Evaluator:
    """The example's figures at any saved step of the run in ``run_dir``."""

    def __init__(self, run_dir: Path, judge: Any, n: int) -> None:
        self.run_dir, self.judge, self.n = run_dir, judge, n
        self._run: Any = None
        self._dataset: Any = None

    def figures(self, step: int) -> dict[str, Any]:
        from taskdsl.backends.jax.evaluation.evaluate import figures
        from taskdsl.backends.jax.evaluation.manipulate import find_manipulator
        from taskdsl.backends.jax.training.checkpoint import Checkpoints
        from taskdsl.backends.jax.training.runs import load_run

        if self._run is None:
            self._run = load_run(self.run_dir)
        with Checkpoints(self.run_dir, self._run.settings.keep) as checkpoints:
            params = checkpoints.read(step)["params"]
        run = dataclasses.replace(self._run, params=params, step=step)
        manipulator = find_manipulator(run)
        if self._dataset is None:
            self._dataset = manipulator.labelled("test", self.n).dataset
        report = figures(manipulator, self.judge, self._dataset, *manipulator.fields,
                         seed=run.settings.seed)
        return {**report["figures"], "judge_accuracy": report["judge_accuracy"]}


def _wall_times(run_dir: Path) -> dict[int, float]:
    """Each logged step's ``wall_time`` in the run's metrics.jsonl."""
    found: dict[int, float] = {}
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            found[int(record["step"])] = float(record["wall_time"])
        except (ValueError, KeyError, TypeError):
            continue  # a line being written, or one without a wall time
    return found


def _saved_steps(run_dir: Path) -> list[int]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir()
                  if p.name.isdigit() and (p / "_CHECKPOINT_METADATA").exists())


def _start_training(run_dir: Path, args: argparse.Namespace, log: Path
                    ) -> tuple[subprocess.Popen, float]:
    keep = args.steps // args.every + 1
    command = [sys.executable, "-m", "taskdsl", "train", str(EXAMPLE), "--out", str(run_dir),
               "--quiet", "--set", f"steps={args.steps}", "--set",
               f"checkpoint_every={args.every}", "--set", f"keep={keep}"]
    for setting in args.settings:
        command += ["--set", setting]
    launched = time.perf_counter()
    with log.open("w") as sink:
        process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    return process, launched


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="time_to_quality-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"training the judge (untimed) in {folder}", flush=True)
    judge = _judge(folder, args.judge_steps, args.judge)
    run_dir = folder / "manipulator"
    process, launched = _start_training(run_dir, args, folder / "train.log")
    startup: float | None = None  # seconds from launch to the run's own clock starting
    os.nice(5)  # the evaluations yield to the training
    evaluator = Evaluator(run_dir, judge, args.n)
    done: set[int] = set()
    best = (0.0, float("inf"))
    reached: float | None = None
    times: dict[int, float] = {}
    print(f"{'step':>6} {'seconds':>8} {'success':>8} {'getput_mse':>11}", flush=True)
    try:
        while reached is None:
            times = _wall_times(run_dir)
            if startup is None and times:
                first = min(times)
                startup = time.perf_counter() - launched - times[first]
            pending = [s for s in _saved_steps(run_dir) if s not in done and s in times]
            over = time.perf_counter() - launched > args.max_seconds  # the seconds reported
            if not pending:
                if process.poll() is not None or over:
                    break
                time.sleep(2.0)
                continue
            step = pending[0]
            seconds = times[step] + (startup or 0.0)
            if seconds > args.max_seconds:
                break
            done.add(step)
            found = evaluator.figures(step)
            success, getput = found["attribute_success"], found["getput_mse"]
            best = (max(best[0], success), min(best[1], getput))
            if len(done) == 1:
                print(f"(the judge reads unedited test digits right: {found['judge_accuracy']})")
            print(f"{step:>6} {seconds:>8.1f} {success:>8.3f} {getput:>11.5f}", flush=True)
            if success >= SUCCESS and getput <= GETPUT:
                reached = seconds
    finally:
        _stop(process)
    if process.returncode not in (0, None, -signal.SIGINT, 130) and not done:
        print((folder / "train.log").read_text(encoding="utf-8")[-2000:], file=sys.stderr)
    print(f"startup (launch to the run's clock): {startup or 0.0:.1f} s")
    if reached is not None:
        print(f"time_to_quality: seconds={reached:.1f} goal={GOAL_SECONDS:.0f} "
              f"ratio={reached / GOAL_SECONDS:.3f}")
    else:
        within = [s for s, t in times.items() if t + (startup or 0.0) <= args.max_seconds]
        getput = "n/a" if best[1] == float("inf") else f"{best[1]:.5f}"
        print(f"time_to_quality: reached=false best_success={best[0]:.3f} best_getput={getput} "
              f"seconds>{args.max_seconds:.0f} evaluations={len(done)} "
              f"last_logged_step={max(within, default=0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
