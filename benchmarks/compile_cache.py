"""How much the persistent compilation cache saves a resumed ``taskdsl train``.

A run of the MNIST manipulator (``examples/mnist_manipulator.task``; MNIST from
``taskdsl data fetch mnist`` once, or ``$TASKDSL_DATA``), or with ``--small`` a
digits MLP, is trained for 2 steps, untimed.  Then, each round, a copy of it is
resumed for one more step by the real command line (``python -m taskdsl.cli
train FILE --resume``, a fresh process) twice: **cold**, with
``TASKDSL_COMPILATION_CACHE`` naming an empty folder (everything compiles and is
written there), and **warm**, another copy resumed with that same folder (the
compiled programs read back).  Whole-command wall seconds, median over
``--rounds``; the last line is machine-readable::

    compile_cache: cold_s=<s> warm_s=<s> ratio=<cold / warm>
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import MANIPULATOR, small_task


def train(path: Path, out: Path, steps: int, cache: str, resume: bool = False) -> float:
    """Wall seconds of one ``taskdsl train`` process."""
    command = [sys.executable, "-m", "taskdsl.cli", "train", str(path), "--out", str(out),
               "--quiet", "--set", f"steps={steps}", "--set", "tensorboard=false"]
    env = {**os.environ, "TASKDSL_COMPILATION_CACHE": cache}
    started = time.perf_counter()
    done = subprocess.run([*command, *(["--resume"] if resume else [])], env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"taskdsl train exited with {done.returncode}:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a digits MLP, not MNIST")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        path = small_task(tmp) if args.small else MANIPULATOR
        base = tmp / "run"
        train(path, base, 2, "off")
        cold, warm = [], []
        for r in range(args.rounds):
            cache = tmp / f"cache{r}"  # empty: JAX makes it
            shutil.copytree(base, tmp / f"cold{r}")
            shutil.copytree(base, tmp / f"warm{r}")
            cold.append(train(path, tmp / f"cold{r}", 3, str(cache), resume=True))
            warm.append(train(path, tmp / f"warm{r}", 3, str(cache), resume=True))
            entries = sum(1 for _ in cache.iterdir()) if cache.is_dir() else 0
            print(f"round {r}: cold_s={cold[-1]:.2f} warm_s={warm[-1]:.2f} "
                  f"cache_entries={entries}", flush=True)
    a, b = statistics.median(cold), statistics.median(warm)
    print(f"{path.name}: a resumed `taskdsl train` (one step), whole command")
    print(f"compile_cache: cold_s={a:.2f} warm_s={b:.2f} ratio={a / b:.2f}")


if __name__ == "__main__":
    main()
