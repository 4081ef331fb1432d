"""Settings every test run shares."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config: object) -> None:
    """Compiled steps are cached for this run only, never in the user's cache folder
    (``backends/jax/cache.py``): tests stay hermetic, and repeated steps compile once."""
    os.environ.setdefault("TASKDSL_COMPILATION_CACHE", tempfile.mkdtemp(prefix="taskdsl-xla-"))
