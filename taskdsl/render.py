"""Drawing the IR as string diagrams, through Graphviz.

Each equation is drawn as its two closed diagrams side by side with a big ``=``
between them and a caption (trained learners, divergence, weight) under them;
an objective is a page of its equations stacked top to bottom.  Wires flow left
to right (or top to bottom) and carry their type; boxes look like the string
diagrams of the categorical-ML literature: learners filled, fixed boxes
outlined, sources as triangular states, copies as dots, discards as ground
marks, inlined ``def``/``refine`` bodies as labelled clusters.

A page is a list of *panels* (a title, an equation, a diagram, the legend),
each laid out by ``dot`` on its own and then stacked in order by ``gvpack``
and drawn by ``neato -n2``.  Laying out the panels together would let ``dot``
reorder them and share column widths between unrelated equations.

The renderer reads only the IR.  Every node and wire carries a ``class`` (its
box kind, or ``wire``) and a stable ``id`` that the SVG keeps, so tests and
stylesheets can find them: ``p<n>`` is the n-th panel, then ``L``/``R`` an
equation's side, then ``b<id>`` a box, ``w<id>`` a wire, ``g<n>`` an inlined
group (``p2Lb7`` is box 7 of the second panel's left side); ``p<n>eq`` is the
``=``, and the legend's samples are ``legend_<kind>``.
"""

from __future__ import annotations

import html
import itertools
import math
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import graphviz

from taskdsl.explain import Notation, label, pattern_heading, signed
from taskdsl.ir import SVG_DRAWERS, Box, BoxKind, Diagram, Equation, Objective, Program, Wire

__all__ = [
    "FORMATS", "Drawing", "RenderError", "Style", "diagram_svg", "draw_diagram",
    "draw_equation", "draw_objective", "equation_svg", "format_of", "objective_svg",
    "render_program",
]

FORMATS = ("svg", "png", "pdf")
RASTER_DPI = 144  # PNGs at 1.5x the screen default, so small wire labels stay legible

MESSAGES: dict[str, str] = {
    "no-graphviz": (
        "drawing needs Graphviz's `{program}` program, which is not installed (or not on "
        "PATH); install Graphviz with `apt-get install graphviz` (Debian/Ubuntu) or "
        "`brew install graphviz` (macOS), then run this again"
    ),
    "graphviz-failed": "Graphviz's `{program}` could not draw this: {reason}",
    "format": "cannot tell the picture format from `{path}`: end the name in {formats}",
    "no-folder": "cannot write `{path}`: there is no folder `{folder}`; make it first "
                 "(`mkdir -p {folder}`), or write elsewhere",
    "unwritable": "cannot write `{path}`: {reason}",
    "unknown": "no {what} named `{name}` in {path}; its {what}s: {names}",
    "nothing": "{path} has no tasks, objectives, defs or patterns of its own to draw",
}

T = TypeVar("T")
Group = tuple[tuple[str, int], ...]  # nested inlined groups: (name, instance number) pairs


class RenderError(Exception):
    """A drawing that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Style:
    """How a page is drawn: flow direction, legend, and how wire types are spelled."""

    direction: Literal["LR", "TB"] = "LR"
    legend: bool = True
    structural_types: bool = False

    @property
    def across(self) -> bool:
        """Whether wires run left to right (ports on the boxes' left and right sides)."""
        return self.direction == "LR"


# ------------------------------------------------------------------ looks
FONT = "Helvetica"
INK = "#1f1f1f"
MUTED = "#5f5f5f"
FRAME = "#c8c8c8"

# Boxes drawn as tables, by kind: (fill, text colour, corner style).
BOX_LOOKS: dict[BoxKind, tuple[str, str, str]] = {
    BoxKind.LEARNER: ("#2f3e4e", "white", "rounded"),
    BoxKind.FIXED: ("white", INK, ""),
    BoxKind.BUILTIN: ("white", INK, "rounded"),
}
# Sources, drawn as triangles pointing away from their output wires.
STATE_LOOKS: dict[BoxKind, dict[str, str]] = {
    BoxKind.DATA: {"style": "filled", "fillcolor": "#dfe7ef", "margin": "0.03"},
    BoxKind.RANDOM: {"style": "dashed,filled", "fillcolor": "white", "margin": "0.03"},
    BoxKind.CONST: {"style": "filled", "fillcolor": "white", "fontsize": "9", "margin": "0.02"},
}

GRAPH_ATTRS = {"fontname": FONT, "nodesep": "0.18", "ranksep": "0.3", "bgcolor": "white",
               "pad": "0.1", "newrank": "true"}
NODE_ATTRS = {"fontname": FONT, "fontsize": "12", "color": INK, "fontcolor": INK}
EDGE_ATTRS = {"fontname": FONT, "fontsize": "9", "fontcolor": MUTED, "color": INK,
              "dir": "none", "penwidth": "1.2"}


# ---------------------------------------------------------------- drawing
@dataclass
class Drawing:
    """A page of panels, each laid out alone, then stacked in order.

    The stacked layout is computed once, on first use; each format is then one
    more ``neato -n2`` run over it.
    """

    panels: list[graphviz.Digraph]
    style: Style = field(default_factory=Style)
    _packed: bytes | None = field(default=None, init=False, repr=False)

    @property
    def source(self) -> str:
        """The panels in the dot language, one graph each."""
        return "\n".join(panel.source for panel in self.panels)

    def pipe(self, fmt: str) -> bytes:
        """The page in ``fmt`` (svg, png, pdf, or any other ``-T`` format Graphviz has)."""
        if self._packed is None:
            laid_out = _run(["dot"], self.source.encode("utf-8"))
            array = "-array_i1" if self.style.across else f"-array_it{len(self.panels)}"
            self._packed = _run(["gvpack", array, "-m16"], laid_out)
        sharp = [f"-Gdpi={RASTER_DPI}"] if fmt == "png" else []
        return _run(["neato", "-s", "-n2", *sharp, f"-T{fmt}"], self._packed)

    def svg(self) -> str:
        return self.pipe("svg").decode("utf-8")

    def write(self, path: str | Path) -> None:
        """Draw into ``path`` in the format its extension names.

        A missing folder is an error, not made: a mistyped path should not leave
        folders behind.  Checked before Graphviz runs, so the error comes at once.
        """
        fmt = format_of(path)
        folder = Path(path).parent
        if not folder.is_dir():
            raise RenderError(MESSAGES["no-folder"].format(path=path, folder=folder))
        picture = self.pipe(fmt)
        try:
            Path(path).write_bytes(picture)
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise RenderError(MESSAGES["unwritable"].format(path=path, reason=reason)) from error

    def _repr_svg_(self) -> str:
        return self.svg()


def _run(command: list[str], data: bytes) -> bytes:
    """One Graphviz program as a filter; a missing Graphviz says how to install it."""
    try:
        done = subprocess.run(command, input=data, capture_output=True, check=False)
    except FileNotFoundError as error:
        raise RenderError(MESSAGES["no-graphviz"].format(program=command[0])) from error
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise RenderError(MESSAGES["graphviz-failed"].format(program=command[0], reason=reason))
    return done.stdout


def format_of(path: str | Path) -> str:
    """The picture format a file name asks for, from its extension."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise RenderError(MESSAGES["format"].format(
            path=path, formats=", ".join(f".{f}" for f in FORMATS)))
    return fmt


# ------------------------------------------------------------ public API
def draw_diagram(diagram: Diagram, style: Style | None = None,
                 title: str | None = None) -> Drawing:
    """One open or closed diagram, its inputs entering on the left."""
    page = _Page(style or Style(legend=False))
    page.diagram(diagram, title)
    return page.finish()


def draw_equation(equation: Equation, style: Style | None = None,
                  weight: float | None = None) -> Drawing:
    """One equation with its caption; the weight is shown when given."""
    page = _Page(style or Style(legend=False))
    page.equation(equation, weight)
    return page.finish()


def draw_objective(objective: Objective, style: Style | None = None) -> Drawing:
    """One page: the objective's equations stacked, each with its weight."""
    page = _Page(style or Style())
    page.objective(objective)
    return page.finish()


def render_program(program: Program, *, task: str | None = None, objective: str | None = None,
                   definition: str | None = None, style: Style | None = None) -> Drawing:
    """The page for one named task, objective or def, or for the whole file.

    Without a name: every objective; a file without objectives shows every task,
    one without tasks its defs and refinements, one with none of these its
    patterns' tasks (read generically: type parameters label the wires), and one
    with nothing at all a note.  ``task`` may name a pattern's task as
    ``PATTERN.TASK`` when the file has no task of that name.
    """
    page = _Page(style or Style(), body_sizes(program))
    bodies = {**program.defs, **program.refinements}
    if task is not None:
        page.equation(_lookup(program, "task", task, {**pattern_tasks(program), **program.tasks}))
    elif objective is not None:
        page.objective(_lookup(program, "objective", objective, program.objectives))
    elif definition is not None:
        page.diagram(_lookup(program, "def", definition, bodies), definition)
    elif program.objectives:
        for each in program.objectives.values():
            page.objective(each)
    elif program.tasks:
        for equation in program.tasks.values():
            page.equation(equation)
    elif bodies:
        for name, body in bodies.items():
            page.diagram(body, name)
    elif program.generic:
        for name, generic in program.generic.items():
            page.title(f"<B>pattern</B> {_esc(pattern_heading(name, generic, program))}")
            for equation in generic.tasks.values():
                page.equation(equation)
    else:
        page.title(_esc(MESSAGES["nothing"].format(path=program.path)))
    return page.finish()


def diagram_svg(diagram: Diagram, style: Style | None = None) -> str:
    return draw_diagram(diagram, style).svg()


def equation_svg(equation: Equation, style: Style | None = None) -> str:
    return draw_equation(equation, style).svg()


def objective_svg(objective: Objective, style: Style | None = None) -> str:
    return draw_objective(objective, style).svg()


# Jupyter draws IR values through the IR's registry; the IR does not import this module.
SVG_DRAWERS.update({Diagram: diagram_svg, Equation: equation_svg, Objective: objective_svg})


def divergence_labels(equation: Equation) -> list[str]:
    """Each output's divergence as written: ``kl[2]`` with its temperature, and a pattern's
    divergence parameter by its name (``cycle``) where the pattern is read generically."""
    shown = []
    for i, div in enumerate(equation.divergences):
        names = equation.divergence_names
        params = equation.params_of(i)
        if i < len(names) and names[i] is not None:
            shown.append(names[i])
        else:
            shown.append(div + (f"[{', '.join(_number(p) for p in params)}]" if params else ""))
    return shown


def pattern_tasks(program: Program) -> dict[str, Equation]:
    """The tasks of the patterns the file defines, read generically, as ``PATTERN.TASK``."""
    return {f"{name}.{task}": equation for name, generic in program.generic.items()
            for task, equation in generic.tasks.items()}


def body_sizes(program: Program) -> dict[str, int]:
    """How many boxes (copies and discards aside) each ``def``/``refine`` body inlines."""
    bodies = {**program.defs, **program.refinements}
    return {name: sum(not _is_wiring(b) for b in body.boxes) for name, body in bodies.items()}


def _lookup(program: Program, what: str, name: str, table: Mapping[str, T]) -> T:
    if name not in table:
        raise RenderError(MESSAGES["unknown"].format(
            what=what, name=name, path=program.path, names=", ".join(table) or "none"))
    return table[name]


# ------------------------------------------------------------------ pages
class _Page:
    """Panels being drawn; one counter keeps node names unique across the page.

    ``sizes`` (boxes per ``def``/``refine`` body, when the program is known)
    tells apart two inlinings of one body that sit back to back.
    """

    def __init__(self, style: Style, sizes: Mapping[str, int] | None = None) -> None:
        self.style = style
        self.sizes = sizes or {}
        self.panels: list[graphviz.Digraph] = []
        self.drew_boxes = False

    def finish(self) -> Drawing:
        """The drawing, with a legend when asked for and there are boxes to explain."""
        if self.style.legend and self.drew_boxes:
            self._legend()
        return Drawing(self.panels, self.style)

    def _panel(self, kind: str, label: str, **attrs: str) -> tuple[str, graphviz.Digraph]:
        """A new panel's key, and the cluster framing it that the caller fills, then closes."""
        key = f"p{len(self.panels) + 1}"
        graph = graphviz.Digraph(
            name=key, graph_attr={**GRAPH_ATTRS, "rankdir": self.style.direction},
            node_attr=NODE_ATTRS, edge_attr=EDGE_ATTRS)
        self.panels.append(graph)
        frame = graphviz.Digraph(name=f"cluster_{key}")
        frame.attr(label=f"<{label}>", id=key, color=FRAME, style="rounded", margin="12",
                   **{"class": kind, **attrs})
        return key, frame

    def _close(self, frame: graphviz.Digraph) -> None:
        self.panels[-1].subgraph(frame)

    def title(self, text: str) -> None:
        """A heading panel: a line of HTML-like text, no frame."""
        key, frame = self._panel("title", "", peripheries="0")
        frame.node(f"{key}text", f"<{text}>", shape="plaintext", fontsize="16",
                   id=f"{key}text", **{"class": "heading"})
        self._close(frame)

    def objective(self, objective: Objective) -> None:
        """A title with the objective's formula, then its equations with their weights."""
        formula = signed(((t.weight, t.equation.name) for t in objective.terms), " ",
                         Notation(), times="·")
        self.title(f"<B>objective {_esc(objective.name)}</B> = {_esc(formula)}")
        for term in objective.terms:
            self.equation(term.equation, term.weight)

    def equation(self, equation: Equation, weight: float | None = None) -> None:
        """Both sides with ``=`` between; invisible edges keep lhs, ``=`` and rhs in order."""
        trains = ", ".join(equation.trains) or "nothing"
        divergence = " + ".join(dict.fromkeys(divergence_labels(equation)))
        heading = f"<B>{_esc(equation.name)}</B>"
        if weight is not None:
            heading += f"   weight {_number(weight)}"
        caption = (f'{heading}<BR/><FONT POINT-SIZE="10" COLOR="{MUTED}">trains '
                   f"{_esc(trains)}   ·   divergence {_esc(divergence)}</FONT>")
        key, frame = self._panel("equation", caption, labelloc="b")
        bound = {draw.box: draw.names for draw in equation.draws}
        _, lhs_ends = self._draw(frame, equation.lhs, f"{key}L", bound)
        equals = f"{key}eq"
        frame.node(equals, "=", shape="plaintext", fontsize="36", id=equals,
                   **{"class": "equals"})
        rhs_starts, _ = self._draw(frame, equation.rhs, f"{key}R", bound)
        for end in lhs_ends:
            frame.edge(end, equals, style="invis")
        for start in rhs_starts:
            frame.edge(equals, start, style="invis")
        self._close(frame)

    def diagram(self, diagram: Diagram, title: str | None = None) -> None:
        """An open diagram, captioned with its name and signature."""
        label = f"<B>{_esc(title)}</B> : {_esc(self._signature(diagram))}" if title else ""
        key, frame = self._panel("diagram", label, labelloc="b")
        self._draw(frame, diagram, key)
        self._close(frame)

    def _signature(self, diagram: Diagram) -> str:
        ins = ", ".join(_type(diagram.wires[w], self.style) for w in diagram.inputs)
        outs = ", ".join(_type(diagram.wires[w], self.style) for w in diagram.outputs)
        return f"{ins} -> {outs}" if ins else f"-> {outs}"

    def _legend(self) -> None:
        """One sample of each kind, chained into one row; a dot or mark gets a caption."""
        _, frame = self._panel("legend", "<B>legend</B>", labelloc="t")
        chain = []
        for kind in BoxKind:
            name = f"legend_{kind.value}"
            sample = Box(0, kind, kind.value, (0,) * (not kind.is_source),
                         (0,) * (kind is not BoxKind.DISCARD))
            _node(frame, name, sample, self.style)
            chain.append(name)
            if _is_wiring(sample):
                frame.node(f"{name}_caption", kind.value, shape="plaintext",
                           id=f"{name}_caption", **{"class": "caption"})
                chain.append(f"{name}_caption")
        for tail, head in itertools.pairwise(chain):
            frame.edge(tail, head, style="invis")
        self._close(frame)

    # ----------------------------------------------------------- diagrams
    def _draw(self, into: graphviz.Digraph, diagram: Diagram, prefix: str,
              bound: Mapping[int, tuple[str, ...]] | None = None) -> tuple[list[str], list[str]]:
        """Draw ``diagram``'s boxes and one edge per wire; return its left and right ends.

        The left ends are the source boxes and input terminals, the right ends
        the output terminals: an equation ties them to its ``=``.  ``bound`` are
        the names each source box's draw binds (``x, y <- mnist``), by box id.
        """
        self.drew_boxes = True
        names = {box.id: f"{prefix}b{box.id}" for box in diagram.boxes}
        self._fill(into, (), _groups(diagram, self.sizes), diagram.boxes, names, prefix,
                   bound or {})
        inputs = _terminals(into, f"{prefix}in", len(diagram.inputs))
        outputs = _terminals(into, f"{prefix}out", len(diagram.outputs))

        tails = {w: names[box.id] + _port(box, "o", i, self.style)
                 for box in diagram.boxes for i, w in enumerate(box.outputs)}
        tails.update(zip(diagram.inputs, inputs, strict=True))
        heads = {w: names[box.id] + _port(box, "i", i, self.style)
                 for box in diagram.boxes for i, w in enumerate(box.inputs)}
        heads.update(zip(diagram.outputs, outputs, strict=True))
        for w, wire in diagram.wires.items():
            if w in tails and w in heads:
                into.edge(tails[w], heads[w], label=_type(wire, self.style),
                          id=f"{prefix}w{w}", **{"class": "wire"})
        starts = [names[box.id] for box in diagram.boxes if not box.inputs]
        return starts + inputs, outputs

    def _fill(self, into: graphviz.Digraph, group: Group, groups: Mapping[int, Group],
              boxes: Iterable[Box], names: Mapping[int, str], prefix: str,
              bound: Mapping[int, tuple[str, ...]]) -> None:
        """Add the boxes of ``group`` and, as nested clusters, the groups inlined in it."""
        boxes = list(boxes)
        children = dict.fromkeys(groups[b.id][: len(group) + 1] for b in boxes
                                 if len(groups[b.id]) > len(group))
        for box in boxes:
            if groups[box.id] == group:
                _node(into, names[box.id], box, self.style, bound.get(box.id, ()))
        for child in children:
            name, instance = child[-1]
            with into.subgraph(name=f"cluster_{prefix}g{instance}") as cluster:
                cluster.attr(label=f"<<I>{_esc(name)}</I>>", labelloc="t", labeljust="l",
                             style="dashed,rounded", color=MUTED, fontcolor=MUTED,
                             fontsize="11", margin="8", id=f"{prefix}g{instance}",
                             **{"class": "group"})
                inside = [b for b in boxes if groups[b.id][: len(child)] == child]
                self._fill(cluster, child, groups, inside, names, prefix, bound)


def _terminals(into: graphviz.Digraph, prefix: str, count: int) -> list[str]:
    """Invisible points, in one rank, where input or output wires leave the picture."""
    names = [f"{prefix}{i}" for i in range(count)]
    with into.subgraph() as same:
        same.attr(rank="same")
        for name in names:
            same.node(name, "", shape="point", width="0", height="0", style="invis")
    return names


def _is_wiring(box: Box) -> bool:
    return box.kind in (BoxKind.COPY, BoxKind.DISCARD)


def _groups(diagram: Diagram, sizes: Mapping[str, int]) -> dict[int, Group]:
    """Each box's nest of inlined ``def``/``refine`` instances.

    ``Box.group`` names the groups but not which inlining a box came from.  The
    builder numbers an inlining's boxes consecutively, so a run of ids in one
    group is one instance, cut where it holds as many boxes as the body
    (``sizes``).  Copies and discards carry no group: each goes in the
    innermost group its neighbours share.
    """
    groups: dict[int, Group] = {}
    nest: list[list] = []  # [name, instance number, boxes so far], outermost first
    count = 0
    for box in sorted(diagram.boxes, key=lambda b: b.id):
        if _is_wiring(box):
            continue
        keep = 0
        while (keep < min(len(nest), len(box.group)) and nest[keep][0] == box.group[keep]
               and nest[keep][2] < sizes.get(box.group[keep], math.inf)):
            keep += 1
        del nest[keep:]
        for name in box.group[keep:]:
            count += 1
            nest.append([name, count, 0])
        for level in nest:
            level[2] += 1
        groups[box.id] = tuple((name, number) for name, number, _ in nest)
    producers = diagram.producers
    consumers = {w: box for box in diagram.boxes for w in box.inputs}
    for box in filter(_is_wiring, diagram.boxes):
        near = [groups.get(producers[w].id, ()) for w in box.inputs if w in producers]
        near += [groups.get(consumers[w].id, ()) for w in box.outputs if w in consumers]
        groups[box.id] = _common_prefix(near)
    return groups


def _common_prefix(paths: list[Group]) -> Group:
    if not paths:
        return ()
    shared = 0
    while all(len(p) > shared and p[shared] == paths[0][shared] for p in paths):
        shared += 1
    return paths[0][:shared]


# ------------------------------------------------------------------ nodes
def _node(into: graphviz.Digraph, name: str, box: Box, style: Style,
          bound: tuple[str, ...] = ()) -> None:
    """One box, drawn by kind; its id and class let the SVG be read back.

    A source drawn by a ``<-`` carries the names the draw binds as an outside
    label (``x, y`` for ``x, y <- mnist``), which is how the formulas name its wires.
    """
    attrs = {"id": name, "class": box.kind.value}
    if box.kind in BOX_LOOKS:
        into.node(name, _table(box, style), shape="plain", **attrs)
    elif box.kind in STATE_LOOKS:
        if bound:
            attrs["xlabel"] = f"<<I>{_esc(', '.join(bound))}</I>>"
        into.node(name, label(box), shape="triangle", orientation="90" if style.across else "0",
                  ordering="out", **STATE_LOOKS[box.kind], **attrs)
    elif box.kind is BoxKind.COPY:
        into.node(name, "", shape="point", width="0.08", **attrs)
    else:
        into.node(name, _ground(style), shape="plain", **attrs)


def _table(box: Box, style: Style) -> str:
    """A box as an HTML-like table: one port cell per wire, in signature order, each side.

    Ports keep a box's inputs in their declared order however the layout
    routes the wires, which is what tells ``put(x, a)`` from ``put(a, x)``.
    """
    fill, ink, corners = BOX_LOOKS[box.kind]
    text = label(box)
    n, m = max(len(box.inputs), 1), max(len(box.outputs), 1)
    slots = math.lcm(n, m)
    size = 'WIDTH="5" HEIGHT="10"' if style.across else 'WIDTH="10" HEIGHT="5"'
    span = "ROWSPAN" if style.across else "COLSPAN"

    def ports(side: str, count: int) -> list[str]:
        return [f'<TD PORT="{side}{i}" {span}="{slots // count}" {size}></TD>'
                for i in range(count)]

    ins, outs = ports("i", n), ports("o", m)
    body = f'<TD {span}="{slots}" CELLPADDING="6"><FONT COLOR="{ink}">{_esc(text)}</FONT></TD>'
    if style.across:
        rows = [(ins[r // (slots // n)] if r % (slots // n) == 0 else "")
                + (body if r == 0 else "")
                + (outs[r // (slots // m)] if r % (slots // m) == 0 else "")
                for r in range(slots)]
    else:
        rows = ["".join(ins), body, "".join(outs)]
    cells = "".join(f"<TR>{row}</TR>" for row in rows)
    border = f'STYLE="{corners}" ' if corners else ""
    return (f'<<TABLE {border}BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" '
            f'BGCOLOR="{fill}" COLOR="{INK}">{cells}</TABLE>>')


def _ground(style: Style) -> str:
    """The ground mark ⏚ of a discard: three shrinking bars across the wire."""
    lengths = (16, 10, 4)
    if style.across:
        bars = "".join(f'<TD FIXEDSIZE="TRUE" WIDTH="2" HEIGHT="{h}" BGCOLOR="{INK}"></TD>'
                       for h in lengths)
        cells = f"<TR>{bars}</TR>"
    else:
        cells = "".join(f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{w}" HEIGHT="2" BGCOLOR="{INK}">'
                        "</TD></TR>" for w in lengths)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">{cells}</TABLE>>'


def _port(box: Box, side: str, index: int, style: Style) -> str:
    """Where a wire meets ``box``: a table port on the right side, else the node itself."""
    if box.kind not in BOX_LOOKS:
        return ""
    compass = {("i", True): "w", ("o", True): "e", ("i", False): "n", ("o", False): "s"}
    return f":{side}{index}:{compass[side, style.across]}"


def _type(wire: Wire, style: Style) -> str:
    return wire.type.structural() if style.structural_types else str(wire.type)


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _number(value: float) -> str:
    return f"{value:g}"
