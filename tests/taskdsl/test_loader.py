"""The loader's parse cache for imports, and what it imports at start-up."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl import loader
from taskdsl.loader import check_file, check_text

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


# ---------------------------------------------------------------- recorded import texts
# A trained run records the text of every file its source imports (by resolved absolute
# path); checking with them must give the program as trained, whatever the disk holds now.

def shape(result: loader.Result) -> tuple[int, ...]:
    assert result.ok, result.render()
    return result.program.tasks["t"].lhs.output_types[0].shape


@settings(max_examples=15, deadline=None)
@given(recorded=st.integers(1, 64), on_disk=st.integers(1, 64))
def test_a_recorded_import_text_wins_over_the_disk(recorded: int, on_disk: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        lib = Path(folder) / "lib.task"
        lib.write_text(LIB.replace("Real[4]", f"Real[{on_disk}]"), encoding="utf-8")
        texts = {str(lib.resolve()): LIB.replace("Real[4]", f"Real[{recorded}]")}
        main = str(Path(folder) / "main.task")
        assert shape(check_text(MAIN, main, imported=texts)) == (recorded,)
        assert shape(check_text(MAIN, main)) == (on_disk,)  # without them: the disk


def test_a_recorded_import_text_stands_in_for_a_missing_file(tmp_path: Path) -> None:
    texts = {str((tmp_path / "lib.task").resolve()): LIB}
    assert shape(check_text(MAIN, str(tmp_path / "main.task"), imported=texts)) == (4,)
    missing = check_text(MAIN, str(tmp_path / "main.task"))
    assert [d.code for d in missing.diagnostics if d.severity == "error"][:1] == ["import-missing"]


def test_a_text_recorded_for_another_path_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "lib.task").write_text(LIB, encoding="utf-8")
    texts = {str((tmp_path / "elsewhere" / "lib.task").resolve()): LIB.replace("[4]", "[9]")}
    assert shape(check_text(MAIN, str(tmp_path / "main.task"), imported=texts)) == (4,)


def test_import_texts_are_transitive_and_reload_the_program_from_anywhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded from one working directory with a relative path, checked from another
    with the absolute one after every imported file is gone: the same program."""
    (tmp_path / "lib.task").write_text("import base\n" + LIB.removeprefix("type A = Real[4]\n"),
                                       encoding="utf-8")
    (tmp_path / "base.task").write_text("import regression from stdlib\ntype A = Real[4]\n",
                                        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = check_text(MAIN, "main.task")
    texts = loader.import_texts(MAIN, "main.task")
    assert set(texts) == {str(tmp_path.resolve() / "lib.task"),
                          str(tmp_path.resolve() / "base.task"),
                          str((loader.stdlib_dir() / "regression.task").resolve())}
    assert all(Path(p).read_text(encoding="utf-8") == t for p, t in texts.items())
    (tmp_path / "lib.task").unlink()
    (tmp_path / "base.task").write_text("type A = Real[7]\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    after = check_text(MAIN, str(tmp_path.resolve() / "main.task"), imported=texts)
    assert shape(after) == shape(before) == (4,)
    assert after.program.tasks["t"] == before.program.tasks["t"]
