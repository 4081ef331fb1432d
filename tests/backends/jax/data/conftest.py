"""Where the data tests find real data: ``$TASKDSL_TEST_DATA``, else the checkout's
neighbouring test data folder; a test that needs a data set it lacks is skipped.

The product never looks there: the tests hand the folder to it through
``$TASKDSL_DATA`` or a ``path =`` option, as a user would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]


def real_data(name: str) -> Path | None:
    """The folder holding real data set ``name`` for tests, or ``None``."""
    root = Path(os.environ.get("TASKDSL_TEST_DATA") or ROOT.parent / "shared" / "data")
    return root / name if (root / name).is_dir() else None


@pytest.fixture
def real_mnist() -> Path:
    found = real_data("mnist")
    if found is None:
        pytest.skip("no real MNIST ($TASKDSL_TEST_DATA/mnist)")
    return found


@pytest.fixture
def real_sentiment() -> Path:
    found = real_data("sentiment")
    if found is None:
        pytest.skip("no real sentiment data ($TASKDSL_TEST_DATA/sentiment)")
    return found
