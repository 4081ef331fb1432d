"""``analyse`` runs on every stdlib pattern and example, quickly and without error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from taskdsl.cli import main

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted([*(ROOT / "stdlib").glob("*.task"), *(ROOT / "examples").glob("*.task")])


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_analyse_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    assert main(["analyse", str(path)]) == 0
    assert time.monotonic() - start < 2.0
    assert capsys.readouterr().err == ""
