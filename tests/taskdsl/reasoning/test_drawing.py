"""`taskdsl prove ... --render OUT.svg`: a derivation drawn, a panel per step, the rewrite framed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskdsl.cli import main
from taskdsl.ir import BoxKind
from taskdsl.loader import check_file
from taskdsl.reasoning.drawing import term_diagram
from taskdsl.reasoning.goals import read_goal
from taskdsl.reasoning.proving import prove
from taskdsl.reasoning.terms import App, Domain, Symbol, Term, Var

SVG = "{http://www.w3.org/2000/svg}"


def panels(svg: Path, kind: str) -> list[ET.Element]:
    root = ET.parse(svg).getroot()
    return [g for g in root.iter(f"{SVG}g") if kind in (g.get("class") or "").split()]


def text_of(element: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in element.iter(f"{SVG}text"))


def test_each_step_is_a_panel_with_its_law_and_the_rewrite_framed(
        lens_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "undo.svg"
    assert main(["prove", lens_file, "undo", "--using", "put_put,get_put", "--render", str(out)]) == 0
    program = check_file(lens_file).program
    outcome = prove(program, read_goal(program, "undo", lens_file), ["put_put", "get_put"])
    (steps,) = outcome.derivations
    assert steps is not None
    drawn = panels(out, "step")
    assert len(drawn) == len(steps) == 2
    assert len(panels(out, "result")) == 1
    for panel, step in zip(drawn, steps, strict=True):
        heading = text_of(panel)
        assert f"by {step.rule} (→)" in heading
        framed = [g for g in panel.iter(f"{SVG}g") if "rewritten" in (g.get("class") or "")]
        assert len(framed) == 1, "exactly the rewritten subterm is framed"
        assert step.rule in text_of(framed[0])
    ids = [e.get("id") for e in ET.parse(out).getroot().iter() if e.get("id")]
    assert len(ids) == len(set(ids)), "no two elements share an id"
    assert f"drew 2 step(s) to {out}" in capsys.readouterr().out


def test_the_input_file_is_never_overwritten(lens_file: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    before = Path(lens_file).read_text(encoding="utf-8")
    assert main(["prove", lens_file, "undo", "--render", lens_file]) == 2
    assert "input file" in capsys.readouterr().err
    assert Path(lens_file).read_text(encoding="utf-8") == before


def test_only_svg_is_drawn(lens_file: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", lens_file, "undo", "--render", str(tmp_path / "d.png")]) == 2
    assert ".svg" in capsys.readouterr().err
    assert not (tmp_path / "d.png").exists()


def test_a_refuted_goal_draws_nothing(lens_file: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no.svg"
    assert main(["prove", lens_file, "put_put", "--using", "put_get,get_put",
                 "--render", str(out)]) == 1
    assert "nothing drawn" in capsys.readouterr().out
    assert not out.exists()


# A term is drawn as a diagram with one box per application and one source per variable.
SYMBOLS = {"f": Symbol("f", "learner", ("T",), "T"), "g": Symbol("g", "learner", ("T", "T"), "T"),
           "c": Symbol("c", "const", (), "T", 0)}
VARS = [Var(n, Domain("T")) for n in "xyz"]
terms: st.SearchStrategy[Term] = st.recursive(
    st.sampled_from([*VARS, App("c")]),
    lambda inner: st.builds(lambda a: App("f", (a,)), inner)
    | st.builds(lambda a, b: App("g", (a, b)), inner, inner),
    max_leaves=8)


def _apps(t: Term) -> int:
    return 0 if isinstance(t, Var) else (t.symbol != "c") + sum(_apps(a) for a in t.args)


def _vars(t: Term) -> list[str]:
    return [t.name] if isinstance(t, Var) else [n for a in t.args for n in _vars(a)]


@settings(max_examples=40, deadline=None)
@given(terms, st.data())
def test_a_term_becomes_a_diagram_with_its_boxes_shared_and_the_mark_grouped(
        t: Term, data: st.DataObject) -> None:
    paths = [()]
    stack: list[tuple[tuple[int, ...], Term]] = [((), t)]
    while stack:
        path, u = stack.pop()
        if isinstance(u, App):
            for i, a in enumerate(u.args):
                paths.append((*path, i))
                stack.append(((*path, i), a))
    mark = data.draw(st.sampled_from(paths))
    d = term_diagram(t, SYMBOLS, mark, "rule")
    kinds = Counter(b.kind for b in d.boxes)
    uses = Counter(_vars(t))
    assert kinds[BoxKind.LEARNER] == _apps(t)
    assert kinds[BoxKind.RANDOM] == len(uses), "a variable is one source"
    assert kinds[BoxKind.COPY] == sum(1 for n in uses.values() if n > 1)
    consumed = Counter(w for b in d.boxes for w in b.inputs) + Counter(d.outputs)
    assert all(n == 1 for n in consumed.values()), "each wire is used once (copies fan out)"
    marked = [b for b in d.boxes if b.group == ("rule",)]
    sub = t
    for i in mark:
        assert isinstance(sub, App)
        sub = sub.args[i]
    assert sum(b.kind is BoxKind.LEARNER for b in marked) == _apps(sub)
    ids = sorted(b.id for b in d.boxes if b.kind is not BoxKind.COPY)
    grouped = [i for i in ids if i in {b.id for b in marked}]
    if grouped:  # the marked boxes are one run: the renderer frames them as one cluster
        start = ids.index(grouped[0])
        assert ids[start:start + len(grouped)] == grouped
