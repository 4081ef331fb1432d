"""Imports: the standard library, folders, relative paths, missing files, cycles, clashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskdsl import check_file
from taskdsl.loader import stdlib_dir, stdlib_names

SHAPES = """type Vec = Real[4]
type Code = Real[2]
learner enc : Vec -> Code
learner dec : Code -> Vec
data points : -> Vec
pattern autoencoder[T](e, d):
    e : T -> Code
    d : Code -> T
    def roundtrip = e >> d
"""

USES_SHAPES = """task rebuild:
    x <- points
    dec(enc(x)) = x
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ----------------------------------------------------------- stdlib
@pytest.mark.parametrize("name", stdlib_names() or ["(none yet)"])
def test_every_stdlib_file_imports_cleanly(name: str, tmp_path: Path) -> None:
    if name == "(none yet)":
        pytest.skip("stdlib/ has no .task files yet")
    write(tmp_path, {"main.task": f"import {name} from stdlib\n"})
    result = check_file("main.task")
    assert result.ok, result.render()


def test_missing_stdlib_name(tmp_path: Path) -> None:
    write(tmp_path, {"main.task": "import no_such_module from stdlib\n"})
    result = check_file("main.task")
    assert codes(result) == ["import-missing"]
    d = result.diagnostics[0]
    assert d.message.startswith("cannot import `no_such_module`: no file ")
    assert d.message.endswith(str(stdlib_dir().resolve() / "no_such_module.task"))
    if stdlib_names():
        assert d.help == "the standard library has: " + ", ".join(stdlib_names())
    else:
        assert d.help is None  # nothing to list


def test_stdlib_like_folder(tmp_path: Path) -> None:
    """A folder of shared files imported with `from "folder"`, as stdlib is."""
    write(tmp_path, {
        "lib/shapes.task": SHAPES,
        "main.task": 'import shapes from "lib"\n' + USES_SHAPES
        + "learner e2 : Real[4] -> Code\nlearner d2 : Code -> Real[4]\n"
        "use autoencoder(T = Vec, e = e2, d = d2) as ae2\n",
    })
    result = check_file("main.task")
    assert result.ok, result.render()
    program = result.program
    assert {"enc", "dec", "points", "e2"} <= set(program.declarations)
    assert program.tasks["rebuild"].trains == ("enc", "dec")


# ----------------------------------------------------------- relative
def test_import_beside_the_file(tmp_path: Path) -> None:
    write(tmp_path, {"shapes.task": SHAPES, "main.task": "import shapes\n" + USES_SHAPES})
    result = check_file("main.task")
    assert result.ok, result.render()


def test_relative_to_the_importing_file_not_the_cwd(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {
        "project/common/shapes.task": SHAPES,
        "project/tasks/main.task": 'import shapes from "../common"\n' + USES_SHAPES,
    })
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = check_file(tmp_path / "project/tasks/main.task")
    assert result.ok, result.render()


def test_imports_of_imports(tmp_path: Path) -> None:
    write(tmp_path, {
        "base.task": "type Vec = Real[4]\n",
        "mid.task": "import base\nlearner enc : Vec -> Vec\n",
        "main.task": "import mid\ndata d : -> Vec, Vec\n"
                     "task t:\n    x, y <- d\n    enc(x) = y\n",
    })
    result = check_file("main.task")
    assert result.ok, result.render()


def test_diamond_import_is_not_a_duplicate(tmp_path: Path) -> None:
    write(tmp_path, {
        "base.task": "learner f : Real[2] -> Real[2]\n",
        "left.task": "import base\n",
        "right.task": "import base\n",
        "main.task": "import left\nimport right\ndata d : -> Real[2], Real[2]\n"
                     "task t:\n    x, y <- d\n    f(x) = y\n",
    })
    result = check_file("main.task")
    assert result.ok, result.render()


REFINED = """type T = Real[4]
data d : -> T
learner put : T -> T
learner delta : T -> T
learner f : T -> T
refine put(x) = add(x, delta(x))
"""

USES_REFINED = """task direct:
    x <- d
    f(put(x)) = x  trains put
task through_let:
    x <- d
    let e = put(x)
    f(e) = e  trains put
"""


@pytest.mark.parametrize("imported", [False, True])
def test_a_refinement_means_the_same_imported_or_local(tmp_path: Path, imported: bool) -> None:
    """`trains put` names the learners of put's refinement whether the refine is in this
    file or in one it imports (imported, it was once refused as `trains-absent`)."""
    if imported:
        write(tmp_path, {"lib.task": REFINED, "main.task": "import lib\n" + USES_REFINED})
    else:
        write(tmp_path, {"main.task": REFINED + USES_REFINED})
    result = check_file("main.task")
    assert result.ok, result.render()
    program = result.program
    assert {name: program.tasks[name].trains for name in ("direct", "through_let")} == {
        "direct": ("delta",), "through_let": ("delta",)}
    assert set(program.refinements) == {"put"}
    assert program.refinements["put"].learners() == ("delta",)


def test_an_impl_of_an_imported_refined_learner_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"lib.task": REFINED,
                     "main.task": "import lib\nimpl put = nets.mlp\nimpl delta = nets.mlp\n"})
    result = check_file("main.task")
    assert codes(result) == ["impl-refined"]
    assert result.diagnostics[0].span.line == 2


# ------------------------------------------------------------ missing
def test_missing_import_says_where_it_looked(tmp_path: Path) -> None:
    write(tmp_path, {"lib/shapes.task": SHAPES,
                     "main.task": 'learner f : Real[2] -> Real[2]\nimport shaeps from "lib"\n'})
    result = check_file("main.task")
    assert codes(result) == ["import-missing"]
    d = result.diagnostics[0]
    assert d.message == "cannot import `shaeps`: no file lib/shaeps.task"
    assert (d.span.file, d.span.line, d.span.column) == ("main.task", 2, 1)


def test_import_of_a_folder_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "shapes.task").mkdir()
    write(tmp_path, {"main.task": "import shapes\n"})
    result = check_file("main.task")
    assert codes(result) == ["import-unreadable"]
    assert result.diagnostics[0].message == "cannot read `shapes.task`: it is a folder"


def test_errors_inside_an_import_name_that_file(tmp_path: Path) -> None:
    write(tmp_path, {"lib.task": "learner f : Reel[2] -> Real[2]\n",
                     "main.task": "import lib\n"})
    result = check_file("main.task")
    assert not result.ok
    d = result.diagnostics[0]
    assert (d.code, str(d.span)) == ("unknown-type", "lib.task:1:13")
    assert " 1 | learner f : Reel[2] -> Real[2]" in result.render()
    assert "did you mean `Real`?" in result.render()


# ------------------------------------------------------------- cycles
def test_two_files_importing_each_other(tmp_path: Path) -> None:
    write(tmp_path, {"a.task": "import b\nlearner f : Real[2] -> Real[2]\n",
                     "b.task": "import a\nlearner g : Real[2] -> Real[2]\n"})
    result = check_file("a.task")
    assert codes(result) == ["import-cycle"]
    d = result.diagnostics[0]
    assert d.message == "import cycle: a.task -> b.task -> a.task"
    assert str(d.span) == "b.task:1:1"
    assert d.help == "move the shared definitions to a third file"


def test_three_file_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"a.task": "import b\n", "b.task": "import c\n", "c.task": "import a\n"})
    result = check_file("a.task")
    assert [d.message for d in result.diagnostics] == [
        "import cycle: a.task -> b.task -> c.task -> a.task"]


def test_file_importing_itself(tmp_path: Path) -> None:
    write(tmp_path, {"a.task": "import a\n"})
    result = check_file("a.task")
    assert [d.message for d in result.diagnostics] == ["import cycle: a.task -> a.task"]


# --------------------------------------------------------- duplicates
def test_local_definition_clashes_with_import(tmp_path: Path) -> None:
    write(tmp_path, {"lib/shapes.task": SHAPES,
                     "main.task": 'import shapes from "lib"\nlearner enc : Vec -> Code\n'})
    result = check_file("main.task")
    assert codes(result) == ["duplicate"]
    d = result.diagnostics[0]
    assert d.message == "`enc` is defined twice"
    assert str(d.span) == "main.task:2:1"
    assert d.help == "the first definition is at lib/shapes.task:3:1; rename or remove one of them"


def test_two_imports_define_the_same_name(tmp_path: Path) -> None:
    write(tmp_path, {"one.task": "learner f : Real[2] -> Real[2]\n",
                     "two.task": "\nlearner f : Real[3] -> Real[3]\n",
                     "main.task": "import one\nimport two\n"})
    result = check_file("main.task")
    assert codes(result) == ["duplicate"]
    d = result.diagnostics[0]
    assert str(d.span) == "main.task:2:1"
    assert "one.task:1:1" in d.help
