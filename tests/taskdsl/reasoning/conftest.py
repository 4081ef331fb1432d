"""Small files the reasoning tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

LENS = """\
type S = Real[4]
type V = Class[3]
data states : -> S
random views : -> V ~ uniform
learner get : S -> V
learner put : S, V -> S

task put_get:
    x <- states
    a <- views
    get(put(x, a)) = a

task get_put:
    x <- states
    put(x, get(x)) = x

task put_put:
    x <- states
    a <- views
    b <- views
    put(put(x, a), b) = put(x, b)

task undo:
    x <- states
    a <- views
    put(put(x, a), get(x)) = x
"""


@pytest.fixture
def lens_file(tmp_path: Path) -> str:
    path = tmp_path / "lens.task"
    path.write_text(LENS, encoding="utf-8")
    return str(path)
