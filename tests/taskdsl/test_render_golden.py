"""Golden SVGs of three fixed drawings, compared after normalising Graphviz's whims.

Another Graphviz release moves things by a few points, renumbers its own ids
and rewrites comments, so the comparison keeps only what the renderer decides:
for each node, wire and cluster, its class, the id the renderer gave it (not
Graphviz's numbering), its text, its colours and whether it is dashed.  Geometry is left to the
structural tests in ``test_render.py``.

To accept a deliberate change, rewrite the files and review their diff:
``TASKDSL_UPDATE_GOLDEN=1 pytest tests/taskdsl/test_render_golden.py``.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from taskdsl import check_text
from taskdsl.render import Drawing, Style, draw_diagram, draw_equation, render_program

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")

GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"
TEXT = """\
type Image = Real[4]
type Digit = Class[3]
data mnist : -> Image, Digit
random digit : -> Digit ~ uniform
learner get : Image -> Digit
learner put : Image, Digit -> Image
learner enc : Image -> Real[2]
learner dec : Real[2] -> Image
learner shift : Digit -> Real[2]
refine put(x, a) = dec(add(enc(x), shift(a)))

task put_get:
    x, _ <- mnist
    a <- digit
    get(put(x, a)) = a              trains put

task get_put:
    x, _ <- mnist
    put(x, get(x)) = x              trains put

objective manipulate = put_get + 10 * get_put
"""
PROGRAM = check_text(TEXT, "golden.task").program

CASES: dict[str, Callable[[], Drawing]] = {
    "render_get_put": lambda: draw_equation(PROGRAM.tasks["get_put"], weight=10),
    "render_manipulate": lambda: render_program(PROGRAM),
    "render_put_tb": lambda: draw_diagram(
        PROGRAM.refinements["put"], Style(direction="TB", structural_types=True), title="put"),
}


def normalise(svg: str) -> list[str]:
    """One line per node, wire and cluster: what the renderer chose, not where Graphviz put it."""
    lines = []
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        kinds = (g.get("class") or "").split()
        if not {"node", "edge", "cluster"} & set(kinds):
            continue
        texts = [t.text.strip() for t in g.iter(f"{SVG}text") if t.text and t.text.strip()]
        colours = sorted({c.get(a) for c in g.iter() for a in ("fill", "stroke")
                          if c.get(a) not in (None, "none", "transparent")})
        dashed = any(c.get("stroke-dasharray") for c in g.iter())
        ours = re.sub(r"^(graph|clust|node|edge)\d+$", "(graphviz's)", g.get("id", ""))
        lines.append(f"{' '.join(kinds)} id={ours} text={texts} colours={colours}"
                     + (" dashed" if dashed else ""))
    return sorted(lines)


@pytest.mark.parametrize("name", CASES)
def test_drawing_matches_its_golden_svg(name: str) -> None:
    svg = CASES[name]().svg()
    path = GOLDEN / f"{name}.svg"
    if os.environ.get("TASKDSL_UPDATE_GOLDEN"):
        path.write_text(svg, encoding="utf-8")
    assert path.exists(), f"no golden {path.name}; make it with TASKDSL_UPDATE_GOLDEN=1"
    expected, found = normalise(path.read_text(encoding="utf-8")), normalise(svg)
    diff = "\n".join(difflib.unified_diff(expected, found, "golden", "now", lineterm=""))
    assert expected == found, diff


def test_normalising_ignores_what_graphviz_versions_change() -> None:
    svg = CASES["render_get_put"]().svg()
    moved = (svg.replace('id="graph0"', 'id="graph1"').replace("<!--", "<!-- moved ")
             .replace('x="', 'x="1'))
    assert normalise(moved) == normalise(svg)
    assert normalise(svg.replace(">Image<", ">Digit<")) != normalise(svg)
