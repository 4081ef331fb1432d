"""A tiny real run that the report tests share: two tasks on the shipped digits, trained for
a few steps in-process (about ten seconds, once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.jax.reporting.report_helpers import DIGITS


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run folder of :data:`report_helpers.DIGITS`."""
    from taskdsl import load
    from taskdsl.backends.jax.training.train import train

    folder = tmp_path_factory.mktemp("report_run")
    (folder / "digits.task").write_text(DIGITS, encoding="utf-8")
    train(load(folder / "digits.task"), None, (), folder / "run", progress=False)
    return folder / "run"
