"""The renderer, read back from its SVG with ``xml.etree``.

Each drawn box is an SVG group with the class of its kind and the id
``p<panel><L|R>b<box id>``; each wire an edge with class ``wire``, id
``p<panel><L|R>w<wire id>`` and its type as text; each inlined def/refine a
cluster with class ``group``.  The tests match these against the IR: one node
per box, one edge per wire, ``=`` between the sides, the caption, copies,
discards, refinement clusters, port order, and the command line.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskdsl import check_file, check_text
from taskdsl.cli import main
from taskdsl.explain import pattern_heading
from taskdsl.ir import BoxKind, Diagram, Equation, Program
from taskdsl.render import (
    Style,
    draw_diagram,
    draw_equation,
    draw_objective,
    render_program,
)
from taskdsl.scope import is_type_var

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
SVG = "{http://www.w3.org/2000/svg}"

HEADER = """\
type Image = Real[4]
type Digit = Class[3]
data mnist : -> Image, Digit
random digit : -> Digit ~ uniform
const zero : -> Image = 0
fixed judge : Image -> Digit
learner get : Image -> Digit
learner put : Image, Digit -> Image
"""
TASKS = """\
task put_get:
    x, _ <- mnist
    a <- digit
    get(put(x, a)) = a              trains put

task get_put:
    x, _ <- mnist
    put(x, get(x)) = x              trains put

task fixed_and_builtins:
    x, _ <- mnist
    judge(add(x, zero)) = get(scale[0.5](x))

objective manipulate = put_get + 10 * get_put + fixed_and_builtins
"""
REFINED = """\
learner enc : Image -> Real[2]
learner dec : Real[2] -> Image
learner shift : Digit -> Real[2]
refine put(x, a) = dec(add(enc(x), shift(a)))
def ae = enc >> dec

task twice:
    x, y <- mnist
    put(put(x, y), y) = x

task round_trip:
    x, _ <- mnist
    ae(x) = x
"""


def program(text: str) -> Program:
    result = check_text(HEADER + textwrap.dedent(text), "t.task")
    assert result.ok, result.render()
    return result.program


PLAIN = program(TASKS)
LATENT = program(TASKS + REFINED)


@dataclass
class Picture:
    """An SVG's nodes, edges and clusters by id, with their classes, text and extent."""

    root: ET.Element

    def groups(self, kind: str) -> dict[str, ET.Element]:
        """Elements of one class, the legend's samples left out."""
        return {g.get("id", ""): g for g in self.root.iter(f"{SVG}g")
                if kind in (g.get("class") or "").split()
                and not g.get("id", "").startswith("legend_")}

    @property
    def nodes(self) -> dict[str, ET.Element]:
        return {g.get("id", ""): g for g in self.root.iter(f"{SVG}g") if "node" in classes(g)}

    @property
    def wires(self) -> dict[str, ET.Element]:
        return self.groups("wire")

    @property
    def clusters(self) -> dict[str, ET.Element]:
        return self.groups("cluster")


def picture(svg: str) -> Picture:
    return Picture(ET.fromstring(svg))


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def texts(element: ET.Element) -> list[str]:
    return [t.text.strip() for t in element.iter(f"{SVG}text") if t.text and t.text.strip()]


def points(element: ET.Element) -> list[tuple[float, float]]:
    """Every coordinate drawn inside ``element`` (shapes, paths, text anchors)."""
    found = []
    for child in element.iter():
        for attr in ("points", "d"):
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", child.get(attr) or "")]
            found += list(zip(numbers[::2], numbers[1::2], strict=False))
        if child.tag == f"{SVG}text":
            found.append((float(child.get("x", 0)), float(child.get("y", 0))))
        if child.tag == f"{SVG}ellipse":
            x, y = float(child.get("cx", 0)), float(child.get("cy", 0))
            rx, ry = float(child.get("rx", 0)), float(child.get("ry", 0))
            found += [(x - rx, y - ry), (x + rx, y + ry)]
    return found


def extent(element: ET.Element) -> tuple[float, float, float, float]:
    xs, ys = zip(*points(element), strict=True)
    return min(xs), max(xs), min(ys), max(ys)


def centre(element: ET.Element) -> tuple[float, float]:
    left, right, top, bottom = extent(element)
    return (left + right) / 2, (top + bottom) / 2


def box_nodes(pic: Picture, prefix: str, diagram: Diagram) -> dict[int, ET.Element]:
    return {b.id: pic.nodes[f"{prefix}b{b.id}"] for b in diagram.boxes}


# ------------------------------------------------------------- equations
@needs_dot
@pytest.mark.parametrize("name", [*PLAIN.tasks, "twice", "round_trip"])
def test_every_box_is_one_node_with_its_name_and_kind(name: str) -> None:
    equation = {**PLAIN.tasks, **LATENT.tasks}[name]
    pic = picture(draw_equation(equation).svg())
    for side, diagram in (("L", equation.lhs), ("R", equation.rhs)):
        for box in diagram.boxes:
            node = pic.nodes[f"p1{side}b{box.id}"]
            assert box.kind.value in classes(node)
            if box.kind not in (BoxKind.COPY, BoxKind.DISCARD):
                assert any(t.startswith(box.name) for t in texts(node)), (box, texts(node))
    drawn = [n for n in pic.nodes.values() if classes(n) & {k.value for k in BoxKind}]
    assert len(drawn) == len(equation.lhs.boxes) + len(equation.rhs.boxes)


@needs_dot
@pytest.mark.parametrize("structural", [False, True])
def test_every_wire_is_one_edge_labelled_with_its_type(structural: bool) -> None:
    equation = LATENT.tasks["twice"]
    style = Style(legend=False, structural_types=structural)
    pic = picture(draw_equation(equation, style).svg())
    for side, diagram in (("L", equation.lhs), ("R", equation.rhs)):
        for w, wire in diagram.wires.items():
            expected = wire.type.structural() if structural else str(wire.type)
            assert texts(pic.wires[f"p1{side}w{w}"]) == [expected]
    assert len(pic.wires) == len(equation.lhs.wires) + len(equation.rhs.wires)


@needs_dot
@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_equals_sits_between_the_two_sides(direction: str) -> None:
    equation = PLAIN.tasks["get_put"]
    pic = picture(draw_equation(equation, Style(direction=direction, legend=False)).svg())
    (equals,) = pic.groups("equals").values()
    assert texts(equals) == ["="]
    axis = 0 if direction == "LR" else 1
    mark = centre(equals)[axis]
    lhs = box_nodes(pic, "p1L", equation.lhs).values()
    rhs = box_nodes(pic, "p1R", equation.rhs).values()
    assert all(extent(n)[2 * axis + 1] < mark for n in lhs)
    assert all(extent(n)[2 * axis] > mark for n in rhs)


@needs_dot
def test_caption_lists_trained_learners_divergence_and_weight() -> None:
    pic = picture(draw_objective(PLAIN.objectives["manipulate"]).svg())
    captions = {" ".join(texts(c)) for c in pic.groups("equation").values()}
    assert any("get_put" in c and "weight 10" in c and "trains put" in c
               and "divergence mse" in c for c in captions), captions
    assert any("put_get" in c and "weight 1" in c and "divergence ce" in c for c in captions)
    (title,) = pic.groups("heading").values()
    assert "objective manipulate" in " ".join(texts(title))


@needs_dot
def test_copies_and_discards_are_drawn_where_the_ir_has_them() -> None:
    equation = PLAIN.tasks["get_put"]
    pic = picture(draw_equation(equation).svg())
    for side, diagram in (("L", equation.lhs), ("R", equation.rhs)):
        for kind in (BoxKind.COPY, BoxKind.DISCARD):
            expected = {f"p1{side}b{b.id}" for b in diagram.boxes if b.kind is kind}
            drawn = {i for i, n in pic.groups(kind.value).items() if i.startswith(f"p1{side}")}
            assert drawn == expected
    assert any(b.kind is BoxKind.COPY for b in equation.lhs.boxes)


@needs_dot
def test_a_refined_learner_is_a_cluster_labelled_with_its_name_around_its_boxes() -> None:
    equation = LATENT.tasks["put_get"]
    pic = picture(render_program(LATENT, task="put_get").svg())
    (cluster,) = pic.groups("group").values()
    assert texts(cluster) == ["put"]
    left, right, top, bottom = extent(cluster)
    for box in equation.lhs.boxes:
        x, y = centre(pic.nodes[f"p1Lb{box.id}"])
        inside = left < x < right and top < y < bottom
        assert inside == (box.group == ("put",)), box


@needs_dot
def test_two_inlinings_back_to_back_are_two_clusters() -> None:
    pic = picture(render_program(LATENT, task="twice").svg())
    clusters = list(pic.groups("group").values())
    assert [texts(c) for c in clusters] == [["put"], ["put"]]
    spans = [extent(c) for c in clusters]
    for box in LATENT.tasks["twice"].lhs.boxes:
        x, y = centre(pic.nodes[f"p1Lb{box.id}"])
        homes = [s for s in spans if s[0] < x < s[1] and s[2] < y < s[3]]
        assert len(homes) == (1 if box.group else 0), box


@needs_dot
def test_a_def_is_a_cluster_too() -> None:
    pic = picture(render_program(LATENT, task="round_trip").svg())
    assert [texts(c) for c in pic.groups("group").values()] == [["ae"]]


@needs_dot
def test_inputs_meet_a_box_in_signature_order() -> None:
    equation = PLAIN.tasks["put_get"]
    pic = picture(draw_equation(equation).svg())
    put = next(b for b in equation.lhs.boxes if b.name == "put")
    ends = [points(pic.wires[f"p1Lw{w}"])[-1] for w in put.inputs]
    assert ends[0][1] < ends[1][1]  # x above a, on put's left side
    assert all(abs(end[0] - ends[0][0]) < 1 for end in ends)


# -------------------------------------------------------------- pages
@needs_dot
def test_an_objective_stacks_its_equations_top_to_bottom_with_a_legend() -> None:
    objective = PLAIN.objectives["manipulate"]
    pic = picture(draw_objective(objective).svg())
    panels = pic.groups("equation")
    tops = [extent(panels[f"p{i + 2}"])[2] for i in range(len(objective.terms))]
    assert tops == sorted(tops)
    assert pic.groups("legend")
    samples = {i: n for i, n in pic.nodes.items() if i.startswith("legend_")}
    assert {k.value for k in BoxKind} == {t for n in samples.values() for t in texts(n)}
    bare = picture(draw_objective(objective, Style(legend=False)).svg())
    assert not bare.groups("legend")


@needs_dot
def test_a_file_without_a_name_draws_all_its_objectives_or_else_all_its_tasks() -> None:
    pic = picture(render_program(PLAIN).svg())
    assert len(pic.groups("equation")) == len(PLAIN.objectives["manipulate"].terms)
    only_tasks = program("task classify:\n    x, y <- mnist\n    get(x) = y\n")
    assert len(picture(render_program(only_tasks).svg()).groups("equation")) == 1
    nothing = program("")
    assert "no tasks, objectives, defs or patterns" in " ".join(
        texts(picture(render_program(nothing).svg()).root))


@needs_dot
def test_an_open_diagram_draws_its_boundary_wires() -> None:
    body = LATENT.refinements["put"]
    pic = picture(draw_diagram(body, title="put").svg())
    assert len(pic.wires) == len(body.wires)
    assert len(pic.groups("learner")) == 3


@needs_dot
def test_repr_svg_works_for_diagram_equation_and_objective() -> None:
    equation: Equation = PLAIN.tasks["get_put"]
    for thing in (equation.lhs, equation, PLAIN.objectives["manipulate"]):
        pic = picture(thing._repr_svg_())
        assert pic.groups("learner")


def test_the_renderer_registers_jupyter_drawing_on_the_ir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The IR names no renderer: `render` fills the IR's registry; without it, no picture."""
    from taskdsl import ir, render

    drawers = dict(ir.SVG_DRAWERS)
    assert drawers == {ir.Diagram: render.diagram_svg, ir.Equation: render.equation_svg,
                       ir.Objective: render.objective_svg}
    monkeypatch.setattr(ir, "SVG_DRAWERS", {})
    equation: Equation = PLAIN.tasks["get_put"]
    assert equation._repr_svg_() is None  # Jupyter then shows the repr
    monkeypatch.setattr(ir, "SVG_DRAWERS", {ir.Equation: lambda e: f"<svg>{e.name}</svg>"})
    assert equation._repr_svg_() == "<svg>get_put</svg>"
    assert equation.lhs._repr_svg_() is None


# ------------------------------------------------------------ command line
@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "t.task"
    path.write_text(HEADER + TASKS + REFINED)
    return path


@needs_dot
def test_cli_writes_svg_to_stdout(task_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(task_file), "--task", "get_put"]) == 0
    assert picture(capsys.readouterr().out).groups("equals")


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF"),
                                               ("svg", b"<?xml")])
def test_cli_format_follows_the_extension(task_file: Path, suffix: str, magic: bytes) -> None:
    out = task_file.with_suffix(f".{suffix}")
    assert main(["render", str(task_file), "-o", str(out), "--direction", "TB",
                 "--no-legend", "--structural-types"]) == 0
    assert out.read_bytes().startswith(magic)


@needs_dot
def test_cli_draws_a_def(task_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(task_file), "--def", "ae"]) == 0
    assert len(picture(capsys.readouterr().out).groups("learner")) == 2


@pytest.mark.parametrize(("flag", "names"), [
    ("--task", "put_get, get_put, fixed_and_builtins, twice, round_trip"),
    ("--objective", "manipulate"),
    ("--def", "ae, put"),
])
def test_cli_unknown_name_lists_the_names(task_file: Path, capsys: pytest.CaptureFixture[str],
                                          flag: str, names: str) -> None:
    assert main(["render", str(task_file), flag, "nope"]) == 1
    err = capsys.readouterr().err
    assert "no " in err and "`nope`" in err and names in err
    assert "Traceback" not in err


def test_cli_unknown_extension(task_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(task_file), "-o", "out.gif"]) == 1
    assert ".svg, .png, .pdf" in capsys.readouterr().err


def test_cli_without_graphviz_says_how_to_install_it(
        task_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["render", str(task_file), "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_cli_file_with_errors_prints_diagnostics(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.task"
    bad.write_text(HEADER + "task t:\n    x, _ <- mnist\n    gett(x) = x\n")
    assert main(["render", str(bad)]) == 1
    assert "gett" in capsys.readouterr().err


# ------------------------------------------------------------- draws
@needs_dot
@pytest.mark.parametrize("name", [*PLAIN.tasks, "twice", "round_trip"])
def test_each_source_is_labelled_with_the_names_its_draw_binds(name: str) -> None:
    """`x, y <- mnist` labels mnist's triangle `x, y` on both sides; other boxes get no names."""
    equation = {**PLAIN.tasks, **LATENT.tasks}[name]
    bound = {d.box: ", ".join(d.names) for d in equation.draws}
    pic = picture(draw_equation(equation).svg())
    for side, diagram in (("L", equation.lhs), ("R", equation.rhs)):
        for box in diagram.boxes:
            node = pic.nodes[f"p1{side}b{box.id}"]
            if box.id in bound:
                assert texts(node) == [box.name, bound[box.id]]
            elif box.kind.is_source:
                assert texts(node) == [box.name]  # a constant: not drawn by `<-`


# ------------------------------------------------------------- patterns
STDLIB = sorted((Path(__file__).parents[2] / "stdlib").glob("*.task"))


@needs_dot
@pytest.mark.parametrize("path", STDLIB, ids=lambda p: p.stem)
def test_a_file_of_patterns_draws_each_pattern_task(path: Path) -> None:
    """Each pattern's tasks, read generically: one equation panel per task, its type
    parameters labelling the wires, under a heading naming the pattern."""
    result = check_file(path)
    assert result.ok, result.render()
    program = result.program
    assert program.generic and not program.tasks
    pic = picture(render_program(program).svg())
    tasks = [(p, t, eq) for p, g in program.generic.items() for t, eq in g.tasks.items()]
    panels = list(pic.groups("equation").values())
    assert len(panels) == len(tasks)
    assert [texts(panel)[0] for panel in panels] == [name for _, name, _ in tasks]
    headings = [" ".join(texts(h)) for h in pic.groups("heading").values()]
    assert headings == [f"pattern {pattern_heading(name, generic, program)}"
                        for name, generic in program.generic.items()]
    labels = {t for wire in pic.wires.values() for t in texts(wire)}
    wire_types = {str(w.type) for _, _, eq in tasks for side in (eq.lhs, eq.rhs)
                  for w in side.wires.values()}
    assert labels == wire_types
    assert any(is_type_var(w.type) for _, _, eq in tasks for w in eq.lhs.wires.values())


@needs_dot
def test_a_pattern_task_is_drawn_by_its_full_name(capsys: pytest.CaptureFixture[str]) -> None:
    vae = STDLIB[0].parent / "vae.task"
    assert main(["render", str(vae), "--task", "vae.regularise"]) == 0
    pic = picture(capsys.readouterr().out)
    (panel,) = pic.groups("equation").values()
    assert texts(panel)[0] == "regularise"
    assert "X" in {t for wire in pic.wires.values() for t in texts(wire)}


# ------------------------------------------- the newer constructs, labelled as explain names them
NEWER = """\
learner critic : Image -> Real[1]
learner student : Image -> Digit
learner teacher : Image -> Digit

task real:
    x, _ <- mnist
    critic(x) = 0  by wass

task fake:
    a <- digit
    critic(put(zero, a)) = -1  by hinge  trains critic

task soft:
    x, _ <- mnist
    student(x) = stop(teacher(x))  by kl[2]

objective game = fake - 2 * real + soft
"""


@needs_dot
def test_numbers_stop_kl_t_and_signed_weights_are_drawn_as_explain_writes_them() -> None:
    newer = program(TASKS + NEWER)
    pic = picture(draw_objective(newer.objectives["game"]).svg())
    (title,) = pic.groups("heading").values()
    assert " ".join(texts(title)) == "objective game = fake - 2·real + soft"
    by_class = {kind: [" ".join(texts(n)) for n in pic.groups(kind).values()]
                for kind in ("const", "builtin")}
    assert sorted(by_class["const"]) == ["-1", "0", "zero"]  # numbers, not `-1:Real[1]`
    assert by_class["builtin"] == ["sg"]
    captions = [" ".join(texts(c)) for c in pic.groups("equation").values()]
    assert any(c.startswith("soft") and "divergence kl[2]" in c for c in captions), captions
    assert any(c.startswith("real") and "weight -2" in c for c in captions), captions


@needs_dot
def test_a_pattern_s_number_and_divergence_parameters_are_drawn_by_name() -> None:
    result = check_text(textwrap.dedent("""\
        pattern dae[n: dim](enc, dec, data; sigma: number, fit: divergence = l1):
            enc : Real[n] -> Real[2]
            dec : Real[2] -> Real[n]
            data : -> Real[n]

            task denoise:
                x <- data
                dec(enc(scale[sigma](x))) = x  by fit
        """), "t.task")
    assert result.ok, result.render()
    pic = picture(render_program(result.program).svg())
    assert [" ".join(texts(n)) for n in pic.groups("builtin").values()] == ["scale[sigma]"]
    (caption,) = [" ".join(texts(c)) for c in pic.groups("equation").values()]
    assert "divergence fit" in caption
    (heading,) = [" ".join(texts(h)) for h in pic.groups("heading").values()]
    assert heading == "pattern dae[n: dim](enc, dec, data; sigma: number, fit: divergence = l1)"
