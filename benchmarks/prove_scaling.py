"""How ``prove`` time grows with the number of tasks.

A file with ``n`` learners ``f0 .. f{n-1} : S -> S`` and the chain of tasks
``link_i: f_i(x) = f_{i+1}(x)`` (x a data draw), plus, for every learner, a lens
law pair that the proof does not need (noise the e-graph must carry).  The goal
``f0(x) = f{n-1}(x)`` needs every link, so the derivation has n - 1 steps::

    python benchmarks/prove_scaling.py [--sizes 2 4 8 16 32]

prints one row per size: tasks, seconds to decide (e-graph), seconds to rebuild
and check the derivation, and its number of steps.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from taskdsl.loader import check_file
from taskdsl.reasoning.check import check
from taskdsl.reasoning.egraph import Budget, Saturation
from taskdsl.reasoning.goals import read_goal
from taskdsl.reasoning.rewrite import derive
from taskdsl.reasoning.theory import build, equation_rules


def chain(n: int) -> str:
    lines = ["type S = Real[4]", "type V = Class[3]", "data xs : -> S", "random vs : -> V ~ uniform",
             "learner get : S -> V"]
    lines += [f"learner f{i} : S -> S" for i in range(n)]
    lines += [f"learner put{i} : S, V -> S" for i in range(n)]
    for i in range(n - 1):
        lines += [f"task link{i}:", "    x <- xs", f"    f{i}(x) = f{i + 1}(x)"]
    for i in range(n):
        lines += [f"task put_get{i}:", "    x <- xs", "    a <- vs", f"    get(put{i}(x, a)) = a"]
        lines += [f"task get_put{i}:", "    x <- xs", f"    put{i}(x, get(x)) = x"]
    return "\n".join(lines) + "\n"


def row(n: int, folder: Path) -> tuple[int, float, float, int]:
    path = folder / f"chain{n}.task"
    path.write_text(chain(n), encoding="utf-8")
    program = check_file(path).program
    goal = read_goal(program, f"f0(x) = f{n - 1}(x)", str(path))
    theory = build(program)
    rules = theory.rules()
    (target,) = equation_rules(theory.reader, goal.equation, goal.text)
    start = time.perf_counter()
    graph = Saturation(theory.reader.symbols, rules)
    graph.seed([target.lhs, target.rhs])
    assert graph.saturate(Budget(iterations=4 * n, seconds=60), [(target.lhs, target.rhs)])
    decided = time.perf_counter() - start
    start = time.perf_counter()
    steps = derive(target.lhs, target.rhs, rules, max_nodes=200_000)
    assert steps is not None
    check(target.lhs, target.rhs, steps, rules)
    return len(program.tasks), decided, time.perf_counter() - start, len(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
    args = parser.parse_args()
    print(f"{'n':>4} {'tasks':>6} {'decide s':>9} {'derive+check s':>15} {'steps':>6}")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            tasks, decided, derived, steps = row(n, Path(folder))
            print(f"{n:>4} {tasks:>6} {decided:>9.3f} {derived:>15.3f} {steps:>6}")


if __name__ == "__main__":
    main()
