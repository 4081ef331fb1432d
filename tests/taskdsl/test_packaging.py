"""What the code reads at run time ships in a wheel, not only in a checkout.

A non-editable install once lacked `examples/`, so `taskdsl demo` (and the
manipulator benchmark) failed outside a checkout: this pins pyproject's
package data to the files the code loads through ``importlib.resources``.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ_AT_RUN_TIME = {
    "taskdsl.grammar": "*.lark",
    "taskdsl.stdlib": "*.task",
    "taskdsl.examples": "*.task",
}


@pytest.mark.parametrize(("package", "files"), READ_AT_RUN_TIME.items())
def test_resources_the_code_reads_are_package_data(package: str, files: str) -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert package in setuptools["packages"]
    folder = ROOT / setuptools["package-dir"][package]
    found = sorted(folder.glob(files))
    assert found, f"no {files} in {folder}"
    shipped = setuptools["package-data"][package]
    assert all(any(fnmatch(f.name, p) for p in shipped) for f in found)
    assert Path(str(resources.files(package))).resolve() == folder.resolve()


def test_every_package_in_the_source_is_installed() -> None:
    """A new folder of modules must be listed in pyproject's packages, or a wheel lacks it."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"taskdsl": ROOT / "taskdsl", **{name: ROOT / folder for name, folder
                                                 in setuptools["package-dir"].items()}}
    found = set()
    for package, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((package, *parts)))
    assert found - set(setuptools["packages"]) == set()


def test_the_backends_register_by_entry_point() -> None:
    """The front end finds backends only through this group (docs/design.md §6)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["taskdsl.backends"] == {"jax": "taskdsl.backends.jax:BACKEND"}


def test_the_version_is_written_once() -> None:
    """pyproject reads the version from the package, so the two cannot disagree."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "taskdsl.__version__"}


def test_typed_and_licensed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (ROOT / "taskdsl" / "py.typed").is_file()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["taskdsl"]
    assert (ROOT / project["project"]["license-files"][0]).is_file()
