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

MANIPULATOR_TASKS = HEADER + """
learner get : Img -> Shape
learner put : Img, Shape -> Img

task put_get:
    x, _ <- sprites
    a <- shape
    get(put(x, a)) = a          trains put

task get_put:                   # default `trains`: get and put
    x, _ <- sprites
    put(x, get(x)) = x

task classify:
    x, s <- sprites
    get(x) = s                  trains get
"""
"""A manipulator's learners and tasks (objectives, impls and training are each test's own):
``put_get`` trains ``put`` through ``get``, ``get_put`` trains both by default."""


def program(folder: Path, name: str, text: str) -> Program:
    """The program of ``text``, written to ``folder/NAME.task``."""
    path = folder / f"{name}.task"
    path.write_text(text, encoding="utf-8")
    return taskdsl.load(path)


def load(run: Path | str, **options: object) -> Call:
    """``load("RUN", ...)``, as an ``impl`` value."""
    return Call("load", (str(run),), options)
