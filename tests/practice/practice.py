"""What the practice files' tests share: each file checks, is `fmt`-clean and explains as
the textbook writes it; and the mean of a task's value over a stretch of training."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

import taskdsl
from taskdsl.explain import explain
from taskdsl.fmt import format_text


def assert_reads_as_written(path: Path, lines: Iterable[str]) -> None:
    """``path`` checks clean, is formatted canonically, and `explain` prints each of ``lines``."""
    result = taskdsl.check_file(path)
    assert result.ok, result.render()
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text
    explained = explain(result.program)
    for line in lines:
        assert line in explained, explained


def mean(history: list[dict[str, float]], key: str, where: slice) -> float:
    """The mean of ``key`` over the steps ``where`` of a training ``history``."""
    return float(np.mean([h[key] for h in history[where]]))
