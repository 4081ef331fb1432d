"""The loader's parse cache for imports, and what it imports at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from taskdsl import loader
from taskdsl.loader import check_file

LIB = "type A = Real[4]\nlearner f : A -> A\ndata d : -> A\n"
MAIN = "import lib\n\ntask t:\n    x <- d\n    f(x) = x  trains f\n"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the loader parses, in order (the cache emptied first)."""
    monkeypatch.setattr(loader, "_PARSED", type(loader._PARSED)())
    seen: list[str] = []
    real = loader.parse

    def parse(text: str, path: str, diags: object) -> object:
        seen.append(Path(path).name)
        return real(text, path, diags)

    monkeypatch.setattr(loader, "parse", parse)
    return seen


def test_an_import_is_parsed_once_a_process(tmp_path: Path, counted: list[str]) -> None:
    (tmp_path / "lib.task").write_text(LIB, encoding="utf-8")
    (tmp_path / "main.task").write_text(MAIN, encoding="utf-8")
    first, second = check_file(tmp_path / "main.task"), check_file(tmp_path / "main.task")
    assert first.ok and second.ok, first.render() + second.render()
    assert counted == ["main.task", "lib.task", "main.task"]
    assert first.program.tasks["t"] == second.program.tasks["t"]


def test_an_edited_import_is_parsed_again(tmp_path: Path, counted: list[str]) -> None:
    (tmp_path / "lib.task").write_text(LIB, encoding="utf-8")
    (tmp_path / "main.task").write_text(MAIN, encoding="utf-8")
    assert check_file(tmp_path / "main.task").ok
    (tmp_path / "lib.task").write_text(LIB.replace("Real[4]", "Real[5]"), encoding="utf-8")
    result = check_file(tmp_path / "main.task")
    assert counted.count("lib.task") == 2
    assert result.program.tasks["t"].lhs.output_types[0].shape == (5,)


def test_a_broken_import_is_reported_each_time(tmp_path: Path, counted: list[str]) -> None:
    """A parse with syntax errors is not kept: each check reports them, the same way."""
    (tmp_path / "lib.task").write_text(LIB + "learner g : A ->\n", encoding="utf-8")
    (tmp_path / "main.task").write_text(MAIN, encoding="utf-8")
    first, second = check_file(tmp_path / "main.task"), check_file(tmp_path / "main.task")
    assert not first.ok
    assert [d.code for d in first.diagnostics] == [d.code for d in second.diagnostics]
    assert counted.count("lib.task") == 2


def test_the_cache_is_bounded(tmp_path: Path, counted: list[str]) -> None:
    for i in range(loader.PARSED_KEPT + 5):
        (tmp_path / "lib.task").write_text(LIB + f"# version {i}\n", encoding="utf-8")
        (tmp_path / "main.task").write_text(MAIN, encoding="utf-8")
        assert check_file(tmp_path / "main.task").ok
    assert len(loader._PARSED) == loader.PARSED_KEPT


def test_checking_without_backends_does_not_look_for_them() -> None:
    """Finding the backends (importlib.metadata) costs start-up time: only asked for."""
    code = ("import sys; from taskdsl.loader import check_text; "
            "assert check_text('type A = Real[4]\\n').ok; "
            "print('taskdsl.backend' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == "False"
