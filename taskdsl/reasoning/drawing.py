"""Drawing a derivation: one string diagram per step, the rewritten part highlighted.

``taskdsl prove FILE GOAL --render OUT.svg`` draws each term of a derivation
as a diagram (a term is a tree: each application a box, each variable a
source), through the renderer's public :func:`taskdsl.render.draw_diagram`.
The subterm a step rewrites is put in a group of its own (``Box.group``),
which the renderer draws as a labelled cluster; this module then colours that
cluster and stacks the panels, top to bottom, in one SVG.

Panel ``k`` (class ``step``) shows the term before step ``k``, its rewritten
subterm framed and labelled with the task or law and the direction; the last
panel (class ``result``) shows where the derivation ends.  Each panel's ids
are prefixed ``s<k>-`` so that the page has no two equal ids.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType

from taskdsl.ir import Box, BoxKind, Diagram, Wire
from taskdsl.reasoning.laws import base_name
from taskdsl.reasoning.rewrite import Path as TermPath
from taskdsl.reasoning.rewrite import Step, at
from taskdsl.reasoning.terms import Rule, Symbol, Term, Var, number, show
from taskdsl.render import Style, draw_diagram
from taskdsl.types import WireType

SVG = "http://www.w3.org/2000/svg"
HIGHLIGHT = "#d9480f"  # the frame and label of the rewritten subterm
HIGHLIGHT_FILL = "#fff4e6"
HEADING = 22  # points above each panel for its heading
GAP = 12
FONT = "Helvetica"

_KINDS = {"learner": BoxKind.LEARNER, "fixed": BoxKind.FIXED, "builtin": BoxKind.BUILTIN,
          "const": BoxKind.CONST}

ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


@dataclass
class _Builder:
    """A term's boxes and wires, numbered so that the highlighted subterm's boxes are
    consecutive (the renderer frames a run of boxes of one group as one cluster).

    A variable is one source, copied to each of its uses, as a task draws it once.
    """

    symbols: dict[str, Symbol]
    uses: dict[str, int]  # how often each variable occurs
    boxes: list[Box] = field(default_factory=list)
    wires: dict[int, Wire] = field(default_factory=dict)
    free: dict[str, list[int]] = field(default_factory=dict)  # each variable's unused wires
    next_id: int = 0

    def fresh(self) -> int:
        self.next_id += 1
        return self.next_id

    def wire(self, type_key: str) -> int:
        w = self.fresh()
        self.wires[w] = Wire(w, WireType(type_key, (), type_key))
        return w

    def source(self, v: Var, group: tuple[str, ...]) -> None:
        """``v``'s source box and, if it is used more than once, a copy to each use."""
        out = self.wire(v.domain.type)
        kind = BoxKind.RANDOM if v.domain.full else BoxKind.DATA
        self.boxes.append(Box(self.fresh(), kind, v.name, (), (out,), group=group))
        n = self.uses[v.name]
        if n == 1:
            self.free[v.name] = [out]
            return
        copies = tuple(self.wire(v.domain.type) for _ in range(n))
        self.boxes.append(Box(self.fresh(), BoxKind.COPY, "copy", (out,), copies))
        self.free[v.name] = list(copies)

    def term(self, t: Term, path: TermPath, mark: TermPath | None, label: str,
             group: tuple[str, ...] = ()) -> int:
        """Add ``t`` (at ``path`` in the whole term); its output wire.  The subterm at
        ``mark`` and everything under it go in the group ``label``."""
        if mark is not None and path == mark:
            group = (label,)
        if isinstance(t, Var):
            if t.name not in self.free:
                self.source(t, group)
            return self.free[t.name].pop(0)
        symbol = self.symbols.get(t.symbol)
        result = symbol.result if symbol is not None else "?"
        if t.symbol.startswith("proj:") or (symbol is not None and symbol.kind == "const"):
            out = self.wire(result)
            kind = BoxKind.CONST if symbol is not None and symbol.kind == "const" else BoxKind.DATA
            self.boxes.append(Box(self.fresh(), kind, show(t), (), (out,), group=group))
            return out
        ins = tuple(self.term(a, (*path, i), mark, label, group) for i, a in enumerate(t.args))
        out = self.wire(result)
        kind = _KINDS.get(symbol.kind if symbol is not None else "", BoxKind.LEARNER)
        name = base_name(t.symbol).replace("#", "[") + ("]" if "#" in t.symbol else "")
        params = tuple(float(p) for p in t.params)
        self.boxes.append(Box(self.fresh(), kind, name, ins, (out,), params=params, group=group))
        return out


def _occurrences(t: Term) -> list[Var]:
    return [t] if isinstance(t, Var) else [v for a in t.args for v in _occurrences(a)]


def term_diagram(t: Term, symbols: dict[str, Symbol], mark: TermPath | None = None,
                 label: str = "") -> Diagram:
    """``t`` as a closed diagram; the subterm at ``mark`` grouped under ``label``."""
    every = _occurrences(t)
    b = _Builder(symbols, dict(Counter(v.name for v in every)))
    if mark is not None:
        inside = {v.name for v in _occurrences(at(t, mark))}
        outside = Counter(v.name for v in every) - Counter(v.name for v in _occurrences(at(t, mark)))
        for v in dict.fromkeys(every):  # used outside the rewritten part: drawn outside it
            if v.name in outside or v.name not in inside:
                b.source(v, ())
    out = b.term(t, (), mark, label)
    return Diagram(tuple(b.boxes), MappingProxyType(dict(b.wires)), (), (out,))


@dataclass(frozen=True)
class Panel:
    """One picture of the page: a heading, the diagram's SVG, and its class."""

    heading: str
    svg: str
    kind: str


def step_label(step: Step) -> str:
    return f"{step.rule} ({'→' if step.forward else '←'})"


def panels(rule: Rule, steps: list[Step], symbols: dict[str, Symbol],
           style: Style | None = None) -> list[Panel]:
    """A panel per step (the term before it, the rewritten subterm framed), and the end."""
    style = style or Style(legend=False)
    out = []
    for n, step in enumerate(steps, 1):
        diagram = term_diagram(step.before, symbols, step.path, step_label(step))
        heading = f"{n}. by {step_label(step)}:  {show(step.before)}  =  {show(step.after)}"
        out.append(Panel(heading, draw_diagram(diagram, style).svg(), "step"))
    end = steps[-1].after if steps else rule.lhs
    out.append(Panel(f"= {show(end)}", draw_diagram(term_diagram(end, symbols), style).svg(),
                     "result"))
    return out


def page(sections: list[tuple[str, list[Panel]]]) -> str:
    """The panels of each section (a title, then its panels) stacked in one SVG document."""
    root = ET.Element(f"{{{SVG}}}svg", {"version": "1.1"})
    y, width, k = 0.0, 0.0, 0
    for title, section in sections:
        y += HEADING
        _text(root, title, 4, y - 6, size=15, bold=True, css="title")
        for panel in section:
            k += 1
            inner = ET.fromstring(panel.svg)
            _highlight(inner)
            _prefix_ids(inner, f"s{k}-")
            w, h = _size(inner)
            group = ET.SubElement(root, f"{{{SVG}}}g", {"id": f"s{k}", "class": f"panel {panel.kind}"})
            y += HEADING
            _text(group, panel.heading, 4, y - 6, size=12, bold=False, css="heading")
            inner.set("x", "0")
            inner.set("y", number(y))
            group.append(inner)
            y += h + GAP
            width = max(width, w, 7.0 * len(panel.heading))
    root.set("width", f"{number(round(width))}pt")
    root.set("height", f"{number(round(y))}pt")
    root.set("viewBox", f"0 0 {number(round(width))} {number(round(y))}")
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _text(parent: ET.Element, text: str, x: float, y: float, size: int, bold: bool,
          css: str) -> None:
    node = ET.SubElement(parent, f"{{{SVG}}}text", {
        "x": number(x), "y": number(y), "font-family": FONT, "font-size": str(size),
        "font-weight": "bold" if bold else "normal", "class": css})
    node.text = text


def _size(svg: ET.Element) -> tuple[float, float]:
    """An SVG's width and height in points (Graphviz writes ``123pt``)."""
    return tuple(float(svg.get(k, "0").removesuffix("pt")) for k in ("width", "height"))  # type: ignore[return-value]


def _highlight(svg: ET.Element) -> None:
    """Colour the renderer's group clusters (here: only the rewritten subterm's)."""
    for g in svg.iter(f"{{{SVG}}}g"):
        if "group" not in (g.get("class") or "").split():
            continue
        g.set("class", (g.get("class") or "") + " rewritten")
        for shape in g:
            if shape.tag in (f"{{{SVG}}}path", f"{{{SVG}}}polygon"):
                shape.set("stroke", HIGHLIGHT)
                shape.set("fill", HIGHLIGHT_FILL)
                shape.set("stroke-width", "2")
                shape.set("stroke-dasharray", "")
            elif shape.tag == f"{{{SVG}}}text":
                shape.set("fill", HIGHLIGHT)


def _prefix_ids(svg: ET.Element, prefix: str) -> None:
    for node in svg.iter():
        if node.get("id"):
            node.set("id", prefix + node.get("id", ""))
        for key in ("href", "{http://www.w3.org/1999/xlink}href"):
            value = node.get(key)
            if value and value.startswith("#"):
                node.set(key, "#" + prefix + value[1:])
