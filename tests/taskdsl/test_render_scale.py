"""Every shipped .task file draws in every format, and a 500-box page draws cleanly.

The files are globbed when the tests run, so a newly added example is covered
the moment it lands.  The 500-box objective comes from
``benchmarks/render_scaling.py``, which also times it (the timing stays out of
the suite); here only its layout is checked: no two node labels overlap.
"""

from __future__ import annotations

import importlib.util
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from taskdsl import check_file
from taskdsl.render import render_program

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("stdlib/*.task"), *ROOT.glob("examples/*.task")])
MAGIC = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF"}


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "render_scaling", ROOT / "benchmarks" / "render_scaling.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scaling = _benchmark()


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_draws_in_every_format(path: Path) -> None:
    drawing = render_program(check_file(path).program)
    for fmt, magic in MAGIC.items():
        assert drawing.pipe(fmt).startswith(magic), fmt
    ET.fromstring(drawing.pipe("svg"))


def test_a_500_box_objective_has_no_overlapping_node_labels() -> None:
    program = scaling.large_program(500)
    assert scaling.count_boxes(program) >= 500
    boxes = scaling.node_boxes(render_program(program))
    assert len(boxes) >= 500
    assert scaling.count_overlaps(boxes) == 0


def test_the_overlap_count_sees_overlaps() -> None:
    apart, touching, crossing = (0, 10, 0, 10), (10, 20, 0, 10), (5, 15, 5, 15)
    assert scaling.count_overlaps([apart, touching]) == 0
    assert scaling.count_overlaps([apart, touching, crossing]) == 2
