"""The long fuzzing run: ``check``, ``fmt`` and ``compile`` on many generated inputs.

    python benchmarks/fuzz.py --inputs 10000 [--seed S] [--limit SECONDS]

Half the inputs are mutants of the shipped ``examples/*.task`` and
``stdlib/*.task`` (byte flips, token deletions and duplications, splices of one
file into another), a quarter programs generated from the grammar
(``tests/taskdsl/strategies.py``), a quarter those programs corrupted.  Each runs
through ``tests/fuzz/harness.py`` under a per-input time limit.  The first
findings are printed in full; the last line is always

    fuzz: inputs=<n> tracebacks=<k> hangs=<h>

and the exit code is 1 when there was any traceback or hang.  ``tests/fuzz/``
runs the same harness with a budget of a few seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fuzz and tests.taskdsl.strategies

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz.harness import LIMIT_S, Tally, exercise, mutants  # noqa: E402
from tests.taskdsl.strategies import corruptions, programs  # noqa: E402


def generated(count: int, tally: Tally, *, corrupt: bool, limit: float) -> None:
    """``count`` programs from the grammar (corrupted ones with ``corrupt``), through the
    harness; Hypothesis only generates, the harness counts (no shrinking, no stopping)."""
    if count <= 0:
        return

    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        text = data.draw(programs())
        if corrupt:
            text = data.draw(corruptions(text))
        exercise(text, tally, compile_too=not corrupt, limit=limit)

    run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1000, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=LIMIT_S, metavar="SECONDS",
                        help="time one input may take before it is a hang")
    args = parser.parse_args(argv)
    tally = Tally(progress=250)
    start = time.perf_counter()
    mutated = args.inputs // 2
    for mutant in mutants(args.seed, mutated):
        exercise(mutant, tally, limit=args.limit)
    rest = args.inputs - mutated
    random.seed(args.seed)
    generated(rest // 2, tally, corrupt=False, limit=args.limit)
    generated(rest - rest // 2, tally, corrupt=True, limit=args.limit)
    for finding in tally.found:
        print(finding, end="\n\n")
    print(f"# {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(tally.line())
    return 1 if tally.tracebacks or tally.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
