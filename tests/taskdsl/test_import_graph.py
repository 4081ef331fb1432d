"""The shape of the code: no import cycles, and a front end that names no backend.

Every import is read from the source with :mod:`ast`, at module level and
inside functions (a lazy import is still a dependency), absolute and relative,
under ``taskdsl/`` and ``backends/`` (installed as ``taskdsl.backends``).  An
import cycle means two modules that cannot be understood, tested or replaced
apart; the design (``docs/design.md``, "Architecture") has the pipeline run one
way: syntax, IR, then what reads the IR.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where each installed package's files are, as pyproject.toml's package-dir maps them.
PACKAGES = {"taskdsl": ROOT / "taskdsl", "taskdsl.backends": ROOT / "backends"}

# Cycles known and being removed elsewhere; each entry is the cycle's set of modules.
# The lead removes an entry once the cycle is gone (the test then fails if it is back).
KNOWN_CYCLES: list[frozenset[str]] = []


def modules() -> dict[str, Path]:
    """Every module of the two trees, by its installed dotted name."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """The known modules that ``name`` imports anywhere in its file, with the line."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]

    def deepest(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := deepest(alias.name)) is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                target = deepest(f"{base}.{alias.name}") if alias.name != "*" else deepest(base)
                if target is not None:
                    yield target, node.lineno


def graph() -> dict[str, dict[str, int]]:
    """Module -> the modules it imports (each with the first line that does)."""
    found = modules()
    known = set(found)
    edges: dict[str, dict[str, int]] = {name: {} for name in found}
    for name, path in found.items():
        for target, line in imports(name, path, known):
            if target != name:
                edges[name].setdefault(target, line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def path_around(component: list[str], edges: dict[str, dict[str, int]]) -> str:
    """One cycle through a component's first module, each step with its import's line."""
    members = set(component)
    start = component[0]
    # Breadth-first from start's successors back to start, inside the component.
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in previous:
        following = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    steps = [start]
    while steps[-1] != start or len(steps) == 1:
        steps.append(previous[steps[-1]])
    steps.reverse()
    return " -> ".join(f"{a} (line {edges[a][b]})" for a, b in itertools.pairwise(steps)
                       ) + f" -> {start}"


# ------------------------------------------------------------------ tests
def test_the_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The graph builder itself: absolute, relative, lazy, from-package and aliased imports."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg import a\n")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("import pkg.c as c\nfrom .. import a\nfrom ..c import X\n")
    (package / "c.py").write_text("import os\nfrom typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from pkg.sub.b import B\n")
    known = {"pkg", "pkg.a", "pkg.sub", "pkg.sub.b", "pkg.c"}
    seen = {name: {t for t, _ in imports(name, path, known)} for name, path in [
        ("pkg", package / "__init__.py"), ("pkg.a", package / "a.py"),
        ("pkg.sub.b", package / "sub" / "b.py"), ("pkg.c", package / "c.py")]}
    assert seen == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub.b"}, "pkg.sub.b": {"pkg.c", "pkg.a"},
                    "pkg.c": {"pkg.sub.b"}}
    edges = {name: dict.fromkeys(targets, 1) for name, targets in seen.items()}
    edges["pkg.sub"] = {}
    assert cycles(edges) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert path_around(["pkg.a", "pkg.c", "pkg.sub.b"], edges) == (
        "pkg.a (line 1) -> pkg.sub.b (line 1) -> pkg.a")


def test_the_graph_covers_both_trees() -> None:
    edges = graph()
    assert "taskdsl.ir" in edges and "taskdsl.backends.jax.lowering.lower" in edges
    assert "taskdsl.ir" in edges["taskdsl.render"]
    assert "taskdsl.ir" in edges["taskdsl.backends.jax.lowering.lower"]


def test_no_import_cycles() -> None:
    edges = graph()
    found = cycles(edges)
    unknown = [c for c in found if frozenset(c) not in KNOWN_CYCLES]
    assert not unknown, "import cycles:\n" + "\n".join(path_around(c, edges) for c in unknown)


def test_known_cycles_are_still_there() -> None:
    """An entry in KNOWN_CYCLES that no longer exists should be removed, not kept as a licence."""
    found = {frozenset(c) for c in cycles(graph())}
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"these cycles are gone; remove them from KNOWN_CYCLES: {gone}"


def test_the_ir_imports_neither_syntax_nor_render() -> None:
    """The IR is the contract between the front end and the backends, so it depends on neither."""
    assert set(graph()["taskdsl.ir"]) <= {"taskdsl.source", "taskdsl.types"}


FRONT_END = sorted(p for p in (ROOT / "taskdsl").rglob("*.py"))
# The entry-point group is called after the backends' package; it names no module in it.
BACKEND_MODULE = re.compile(r"taskdsl\.backends\.|taskdsl/backends|backends\.jax")


@pytest.mark.parametrize("path", FRONT_END, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_front_end_names_no_backend(path: Path) -> None:
    """Backends are found through entry points: the front end imports and names none."""
    text = path.read_text(encoding="utf-8")
    name = "taskdsl." + ".".join(path.relative_to(ROOT / "taskdsl").with_suffix("").parts)
    imported = {t for t, _ in imports(name, path, {"taskdsl.backends"})}
    assert "taskdsl.backends" not in imported
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith("taskdsl.backends"), node.lineno
    named = [(text.count("\n", 0, m.start()) + 1, m.group()) for m in BACKEND_MODULE.finditer(text)]
    assert not named, f"{path.name} names a backend module at {named}"


# What other code imports by path; a split of a module must keep these.
PUBLIC = {
    "taskdsl.parser": ["parse", "parse_value", "SyntaxErrors", "collector_paused"],
    "taskdsl.elaborate": ["ModuleElaborator", "to_python"],
    "taskdsl.loader": ["check_file", "check_text", "load", "config_value", "with_backends", "Result"],
    "taskdsl.diagnostics": ["Diagnostic", "Diagnostics", "TaskError", "position"],
    "taskdsl.backend": ["Backend", "GROUP", "installed", "run_checks"],
    "taskdsl.messages": ["TEMPLATES", "fill"],
}


@pytest.mark.parametrize(("module", "names"), PUBLIC.items(), ids=list(PUBLIC))
def test_public_names_stay_where_they_are_imported_from(module: str, names: list[str]) -> None:
    loaded = importlib.import_module(module)
    assert [n for n in names if not hasattr(loaded, n)] == []


def test_a_set_value_reads_as_in_a_file() -> None:
    """`--set` values go through the grammar's `config_value` rule (docs/design.md §3)."""
    from taskdsl.ir import Call, Name
    from taskdsl.loader import config_value
    from taskdsl.parser import SyntaxErrors

    value = config_value('adam(lr = 1e-3, names = ["a", b])')
    assert value == Call("adam", (), {"lr": 0.001, "names": ("a", Name("b"))})
    with pytest.raises(SyntaxErrors) as raised:
        config_value("1 + 2")
    assert raised.value.diagnostics.errors[0].span.file == "--set"
