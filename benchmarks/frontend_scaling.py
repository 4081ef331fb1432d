"""How the front end (parse, check, elaborate) scales with the size of a program.

Generates programs of 1k, 4k and 16k boxes -- many small tasks of four
applications each, plus long chains (one ``let`` per box, and point-free defs of
many ``>>`` steps) -- and times :func:`taskdsl.loader.check_text` on each, best
of three.  Then what an editor waits for: re-checking
``examples/mnist_manipulator.task`` after an edit, in a warm process (the
language server's path), best of 20; and ``import taskdsl`` in a fresh
interpreter, best of three.  Prints a table, then one line for scripts::

    frontend_scaling: boxes=16000 seconds=<s> cpu=<s> growth_4x=<g> recheck_ms=<ms> \
import_s=<s> cpu/goal=<r> growth/goal=<r> recheck/goal=<r>

The goals: 16k boxes in under 1 s of CPU, less than 4.5x the time for 4x the
boxes, and a warm re-check under 50 ms (a ratio below 1 meets its goal).

    python benchmarks/frontend_scaling.py [--sizes 1000 4000 16000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from taskdsl.loader import check_text

HEADER = """\
type Image = Real[16]
type Code = Real[4]
type Label = Class[10]

data pairs : -> Image, Label
random noise : -> Code ~ normal

learner enc : Image -> Code
learner dec : Code -> Image
learner cls : Image -> Label
learner mix : Image, Code -> Image
"""
ROOT = Path(__file__).resolve().parent.parent
EDITED = ROOT / "examples" / "mnist_manipulator.task"  # the re-checked file, of the examples' size
GOAL_CPU, GOAL_GROWTH, GOAL_RECHECK_MS = 1.0, 4.5, 50.0
SMALL = 4  # boxes in a small task
CHAIN = 100  # boxes in a chain task
STEPS = 50  # `>>` steps in a point-free chain def


def small_task(i: int) -> str:
    """A task of four applications."""
    return (f"task small{i}:\n"
            "    x, y <- pairs\n"
            "    z <- noise\n"
            "    cls(mix(dec(enc(x)), z)) = y  trains cls, mix\n")


def chain_task(i: int) -> str:
    """A task of ``CHAIN`` applications: a line of ``let``s, then the point-free chain def."""
    lets = (CHAIN - STEPS) // 2  # each `let` but the first applies two boxes
    lines = [f"task chain{i}:", "    x, _ <- pairs", "    let c0 = enc(x)"]
    lines += [f"    let c{step} = enc(dec(c{step - 1}))" for step in range(1, lets)]
    lines.append(f"    roundtrip(dec(c{lets - 1})) = x  trains enc, dec")
    return "\n".join(lines) + "\n"


def program(boxes: int) -> str:
    """A program of about ``boxes`` applications: a fifth of them in chains."""
    chains = boxes // 5 // CHAIN
    smalls = (boxes - chains * CHAIN) // SMALL
    parts = [HEADER]
    parts.append("def roundtrip = " + " >> ".join(["enc >> dec"] * (STEPS // 2)) + "\n")
    parts += [small_task(i) for i in range(smalls)]
    parts += [chain_task(i) for i in range(chains)]
    terms = [f"small{i}" for i in range(smalls)] + [f"chain{i}" for i in range(chains)]
    parts.append("objective everything = " + " + ".join(terms) + "\n")
    return "\n".join(parts)


def measure(text: str, repeat: int) -> tuple[float, float, int]:
    """Best-of-``repeat`` wall-clock and CPU seconds for ``check_text``, and the boxes of the
    program's equations.  (CPU time shows the front end's own cost on a busy machine.)"""
    best = cpu = float("inf")
    result = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = check_text(text, "<benchmark>")
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    assert result is not None
    if not result.ok:
        raise SystemExit("the generated program has errors:\n" + result.render())
    boxes = sum(
        1
        for eq in result.program.tasks.values()
        for side in (eq.lhs, eq.rhs)
        for box in side.boxes
        if box.kind.value in ("learner", "builtin")
    )
    return best, cpu, boxes


def recheck_ms(repeat: int = 20) -> float:
    """Best wall-clock milliseconds to re-check :data:`EDITED` after an edit (a comment
    that changes on each try, so no check sees the text of the one before), in a
    process that has checked it once already."""
    text = EDITED.read_text(encoding="utf-8")
    path = str(EDITED.relative_to(ROOT)) if EDITED.is_relative_to(Path.cwd()) else str(EDITED)
    check_text(text, path)
    best = float("inf")
    for i in range(repeat):
        edited = text + f"# edit {i}\n"
        start = time.perf_counter()
        result = check_text(edited, path)
        best = min(best, time.perf_counter() - start)
        if not result.ok:
            raise SystemExit(f"{EDITED} has errors:\n" + result.render())
    return best * 1000


def import_seconds(repeat: int = 3) -> float:
    """Best wall-clock seconds of ``import taskdsl`` in a fresh interpreter."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import taskdsl"], check=True)
        best = min(best, time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return max(0.0, best - (time.perf_counter() - start))  # the interpreter's own start-up off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    check_text(program(100), "<warm-up>")  # build the parser once, outside the timings
    print(f"{'boxes':>8} {'lines':>8} {'learner boxes':>14} {'seconds':>9} {'cpu s':>9} "
          f"{'boxes/s':>9}")
    times: dict[int, float] = {}
    cpus: dict[int, float] = {}
    for size in args.sizes:
        text = program(size)
        seconds, cpu, boxes = measure(text, args.repeat)
        times[size], cpus[size] = seconds, cpu
        print(f"{size:>8} {text.count(chr(10)):>8} {boxes:>14} {seconds:>9.3f} {cpu:>9.3f} "
              f"{size / seconds:>9.0f}")
    largest = args.sizes[-1]
    previous = largest // 4
    growth = cpus[largest] / cpus[previous] if previous in cpus else float("nan")
    recheck = recheck_ms()
    imported = import_seconds()
    print(f"re-check of {EDITED.name} after an edit, warm: {recheck:.1f} ms; "
          f"import taskdsl: {imported:.3f} s")
    print(f"frontend_scaling: boxes={largest} seconds={times[largest]:.3f} cpu={cpus[largest]:.3f} "
          f"growth_4x={growth:.2f} recheck_ms={recheck:.1f} import_s={imported:.3f} "
          f"cpu/goal={cpus[largest] / GOAL_CPU:.2f} growth/goal={growth / GOAL_GROWTH:.2f} "
          f"recheck/goal={recheck / GOAL_RECHECK_MS:.2f}")


if __name__ == "__main__":
    main()
