"""How long drawing a large objective takes, and whether its node labels collide.

    python benchmarks/render_scaling.py [--boxes 500]

prints ``render_scaling: boxes=<n> seconds=<s> overlaps=<k>``: the time to
draw an objective of at least ``n`` boxes to SVG, and how many pairs of drawn
nodes overlap.  ``tests/taskdsl/test_render_scale.py`` reuses the generator and
the overlap count (and asserts there are none); the timing stays here, out of
the test suite, where machines of every speed run it.
"""

from __future__ import annotations

import argparse
import json
import time

import taskdsl
from taskdsl.ir import Program
from taskdsl.render import Drawing, render_program

HEADER = """\
type V = Real[8]
data src : -> V, V
learner m : V, V -> V
""" + "".join(f"learner f{i} : V -> V\n" for i in range(10))


def _chain(first: int, depth: int, arg: str) -> str:
    for i in range(depth):
        arg = f"f{(first + i) % 10}({arg})"
    return arg


def large_program(boxes: int) -> Program:
    """An objective of tasks with chains, merges, copies and discards, of at least ``boxes``."""
    tasks: list[str] = []
    total = 0
    while total < boxes:
        i = len(tasks)
        depth = 2 + i % 4
        task = (f"task t{i}:\n    x, y <- src\n"
                f"    m({_chain(i, depth, 'x')}, {_chain(i + 3, depth - 1, 'x')}) = "
                f"{_chain(i + 5, 1 + i % 2, 'y')}\n")
        equation = taskdsl.check_text(HEADER + task).program.tasks[f"t{i}"]
        total += len(equation.lhs.boxes) + len(equation.rhs.boxes)
        tasks.append(task)
    names = " + ".join(f"t{i}" for i in range(len(tasks)))
    result = taskdsl.check_text(f"{HEADER}{''.join(tasks)}objective big = {names}\n",
                                "render_scaling.task")
    assert result.ok, result.render()
    return result.program


def count_boxes(program: Program) -> int:
    return sum(len(t.equation.lhs.boxes) + len(t.equation.rhs.boxes)
               for o in program.objectives.values() for t in o.terms)


Rect = tuple[float, float, float, float]  # left, right, bottom, top, in points


def node_boxes(drawing: Drawing) -> list[Rect]:
    """The bounding box of every visible node, from Graphviz's JSON of the laid-out page."""
    layout = json.loads(drawing.pipe("json"))
    boxes = []
    for node in layout.get("objects", []):
        if "pos" not in node or "invis" in node.get("style", ""):
            continue
        x, y = (float(v) for v in node["pos"].split(","))
        half_w, half_h = float(node["width"]) * 36, float(node["height"]) * 36
        boxes.append((x - half_w, x + half_w, y - half_h, y + half_h))
    return boxes


def count_overlaps(boxes: list[Rect], slack: float = 0.5) -> int:
    """Pairs of boxes that intersect by more than ``slack`` points each way (a sweep on x)."""
    boxes = sorted(boxes)
    count = 0
    for i, (_, right, bottom, top) in enumerate(boxes):
        for other_left, _, other_bottom, other_top in boxes[i + 1:]:
            if other_left >= right - slack:
                break
            if other_bottom < top - slack and bottom < other_top - slack:
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=500)
    args = parser.parse_args()
    program = large_program(args.boxes)
    start = time.perf_counter()
    drawing = render_program(program)
    drawing.svg()
    seconds = time.perf_counter() - start
    print(f"render_scaling: boxes={count_boxes(program)} seconds={seconds:.2f} "
          f"overlaps={count_overlaps(node_boxes(drawing))}")


if __name__ == "__main__":
    main()
