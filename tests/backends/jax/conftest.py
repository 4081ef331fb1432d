"""The backend tests' user nets are trusted (docs/security.md): the packages the tests
write into a temporary folder are allowed through ``TASKDSL_ALLOW_IMPORT``, as a user
would allow their own, and no user's config file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

# The packages of user nets that the tests make (tests/backends/jax/test_check.py,
# tests/backends/jax/nets/test_nets_registry.py), and the tests' own modules (a net
# defined in a test, e.g. tests/backends/jax/lowering/test_lower.py's Identity).
TEST_PACKAGES = "usernets_check,usernets_for_test,usernets_nowhere,tests"


@pytest.fixture(autouse=True)
def _trusted_test_nets(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                       ) -> None:
    monkeypatch.setenv("TASKDSL_ALLOW_IMPORT", TEST_PACKAGES)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(Path(tmp_path_factory.getbasetemp()) / "config"))
