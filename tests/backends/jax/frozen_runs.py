"""What the tests of loaded, frozen learners share: the tiny sprite types, a program
written to a file (a run records its file's source), and the ``load(RUN)`` impl."""

from __future__ import annotations

from pathlib import Path

import taskdsl
from taskdsl.ir import Call, Program

B = 8

HEADER = """
type Img = Real[8, 8, 3]
type Shape = Class[4]
data sprites : -> Img, Shape
random shape : -> Shape ~ uniform
"""


def program(folder: Path, name: str, text: str) -> Program:
    """The program of ``text``, written to ``folder/NAME.task``."""
    path = folder / f"{name}.task"
    path.write_text(text, encoding="utf-8")
    return taskdsl.load(path)


def load(run: Path | str, **options: object) -> Call:
    """``load("RUN", ...)``, as an ``impl`` value."""
    return Call("load", (str(run),), options)
