"""``analyse`` runs on every stdlib pattern and example, quickly and without error, and what
it reports is pinned: a change to the reasoning that changes a finding shows up here.

Regenerate the pinned reports deliberately (and read the diff) with
``TASKDSL_UPDATE_GOLDEN=1 pytest tests/taskdsl/reasoning/test_analyse_everywhere.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from taskdsl.cli import main

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted([*(ROOT / "stdlib").glob("*.task"), *(ROOT / "examples").glob("*.task")])
GOLDEN = Path(__file__).parent / "golden" / "analyse"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_analyse_runs_and_reports_what_is_pinned(path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the report names files relative to where it runs
    start = time.monotonic()
    assert main(["analyse", str(path.relative_to(ROOT))]) == 0
    assert time.monotonic() - start < 2.0
    out, err = capsys.readouterr()
    assert err == ""
    pinned = GOLDEN / f"{path.parent.name}_{path.stem}.txt"
    if os.environ.get("TASKDSL_UPDATE_GOLDEN"):
        pinned.parent.mkdir(parents=True, exist_ok=True)
        pinned.write_text(out, encoding="utf-8")
    assert pinned.exists(), f"no pinned {pinned.name}; make it with TASKDSL_UPDATE_GOLDEN=1"
    assert out == pinned.read_text(encoding="utf-8")
