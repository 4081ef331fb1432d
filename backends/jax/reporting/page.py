"""The report page: one HTML file, with everything inline, that any browser shows offline.

Sections, each an element with a stable ``id`` (tests and stylesheets find them):
``summary``; ``notes`` (what could not be read); ``diagram`` (the objective's
string diagrams, the SVG of :mod:`taskdsl.render`, drawn from the source the run
recorded); ``curves`` (a chart per quantity, ``figure.curve`` with
``data-metric``; ``data-kind`` is ``objective``, ``task`` or ``other``);
``final`` (the last logged values, training's and held-out's); ``evaluation``
(``eval.json``, when ``taskdsl eval`` ran); ``settings`` and ``run`` (what was
trained, and where); ``source``; ``pictures`` (as ``data:`` URIs).  Every text
that comes from the run's files is escaped.

A report file carries :data:`MARKER`; :func:`write_report` overwrites only a
file that carries it, so a mistyped ``-o`` never clobbers anything else.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from taskdsl.ir import Program
from taskdsl.loader import check_text
from taskdsl.queries import find_objective, metric_names
from taskdsl.render import RenderError, render_program

from ..evaluation import errors
from ..messages import note, phrase
from ..training.files import imported_texts, write_text
from .curves import HELD_OUT_COLOUR, Line, chart
from .folder import LOSS, STEP, Metrics, Picture, RunFolder, read_run

REPORT = "report.html"
"""The page's name in the run folder when no ``-o`` is given."""
MARKER = '<meta name="generator" content="taskdsl report">'
"""What marks a file as a report, so that writing a new one may replace it."""
SNIFF_BYTES = 4096
RUN_KEYS = ("objective", "file", "seed", "overrides", "learners", "resumed", "platform",
            "devices", "processes", "versions")
"""The parts of ``config.json`` shown as the run's record (settings and source have their
own sections; ``data`` repeats the settings' bindings; ``history`` is earlier starts)."""
OTHER_HINTS = ("/", "time", "second", "per_s", "rate", "examples", "throughput", "lr", "step")
"""Substrings of logged names that are not tasks, for a run whose program no longer checks."""
NOT_CURVES = frozenset({"best_step"})
"""Logged step numbers (``keep_best``'s best step so far): in the final figures, not drawn."""

STYLE = """
body{font-family:Helvetica,Arial,sans-serif;color:#222;margin:24px auto;max-width:1140px;
padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;
margin-top:28px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;
font-variant-numeric:tabular-nums}
#diagram svg{max-width:100%;height:auto}
.curves{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;border:1px solid #e4e4e4;padding:6px}figcaption{font-weight:bold;
margin-bottom:2px}
.pictures img{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}
.notes li{color:#8a5300}pre{background:#f7f7f7;padding:8px;overflow:auto}
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the run in ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``)
    and return its path; refuses to replace a file that is not a report."""
    run = read_run(run_dir)
    target = Path(out) if out is not None else run.directory / REPORT
    if target.is_dir():
        raise errors.EvalError.of("output-unwritable", path=target,
                                  reason=phrase("report-is-folder"))
    if target.exists() and not is_report(target):
        raise errors.EvalError.of("output-unwritable", path=target,
                                  reason=phrase("report-not-ours"))
    write_text(target, build_page(run))
    return target


def is_report(path: Path) -> bool:
    """Whether ``path`` is a page this command wrote (it carries :data:`MARKER`)."""
    try:
        with path.open("rb") as f:
            return MARKER.encode() in f.read(SNIFF_BYTES)
    except OSError:
        return False


def build_page(run: RunFolder) -> str:
    """The whole page for ``run``, as HTML text."""
    program, why = _program(run.config)
    notes = list(run.notes)
    objective = str(run.config.get("objective", ""))
    diagram = _diagram(program, objective) if program is not None else None
    if isinstance(diagram, RenderError):
        notes.append(note("report-no-diagram", reason=diagram))
        diagram = None
    elif program is None:
        notes.append(note("report-no-diagram", reason=why))
    tasks = _tasks(program, objective, run.metrics)
    title = f"{objective or run.directory.name}: training report"
    body = [
        f"<h1>{_esc(title)}</h1>",
        _summary(run),
        _notes(notes),
        _section("diagram", "Objective", diagram or f"<p>{_esc(note('report-diagram-missing'))}"
                                                   "</p>"),
        _section("curves", "Training curves", _curves(run.metrics, tasks)),
        _section("final", "Final figures", _final(run.metrics)),
    ]
    if run.evaluation is not None:
        body.append(_section("evaluation", "Evaluation (eval.json)", _value(run.evaluation)))
    settings = run.config.get("settings")
    body.append(_section("settings", "Settings",
                         _value(settings) if isinstance(settings, dict)
                         else f"<p>{_esc(note('report-no-settings'))}</p>"))
    body.append(_section("run", "Run", _value({k: run.config[k] for k in RUN_KEYS
                                              if k in run.config})))
    source = run.config.get("source")
    if isinstance(source, str):
        body.append(_section("source", "Task file",
                             f"<details><summary>{_esc(str(run.config.get('file', '')))}"
                             f"</summary><pre>{_esc(source)}</pre></details>"))
    if run.pictures:
        body.append(_section("pictures", "Pictures", _pictures(run.pictures)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"{MARKER}<title>{_esc(title)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


# -------------------------------------------------------------------- the parts


def _program(config: Mapping[str, Any]) -> tuple[Program | None, str]:
    """The program the run recorded, checked again; ``None`` and why when it does not check."""
    source, path = config.get("source"), str(config.get("file", "<run>"))
    if not isinstance(source, str):
        return None, phrase("report-no-source")
    try:
        imported = imported_texts(config)
    except TypeError as error:
        return None, str(error)
    checked = check_text(source, path, imported=imported)
    if not checked.ok:
        return None, phrase("report-source-broken")
    return checked.program, ""


def _diagram(program: Program, objective: str) -> str | RenderError:
    """The objective's page of equations as inline SVG (the XML prologue dropped)."""
    try:
        if objective in program.objectives:
            drawing = render_program(program, objective=objective)
        elif objective in program.tasks:
            drawing = render_program(program, task=objective)
        else:
            drawing = render_program(program)
        svg = drawing.svg()
    except RenderError as error:
        return error
    return svg[svg.find("<svg"):]


def _tasks(program: Program | None, objective: str, metrics: Metrics) -> tuple[str, ...]:
    """The objective's tasks as the metrics name them; guessed from the names when the
    program is gone."""
    found = find_objective(program, objective) if program is not None else None
    if found is not None:
        return metric_names(found)
    return tuple(n for n in metrics.names()
                 if n != LOSS and not any(hint in n.lower() for hint in OTHER_HINTS))


def _summary(run: RunFolder) -> str:
    last = run.metrics.last()
    settings = run.config.get("settings")
    planned = settings.get("steps") if isinstance(settings, dict) else None
    rows = {
        "run folder": str(run.directory),
        "objective": run.config.get("objective"),
        "file": run.config.get("file"),
        "steps logged": f"{last[STEP]:.0f}" + (f" of {planned}" if planned else "")
        if last else None,
        "final loss": last.get(LOSS) if last else None,
        "stopped early": (note("report-stopped-early", step=run.metrics.stopped_early)
                          if run.metrics.stopped_early is not None else None),
        "checkpoints": ", ".join(map(str, run.checkpoints)) or None,
    }
    return f'<div id="summary">{_value({k: v for k, v in rows.items() if v is not None})}</div>'


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return '<ul id="notes" class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in notes) + \
        "</ul>"


def _curves(metrics: Metrics, tasks: Sequence[str]) -> str:
    """A chart for the objective, one per task, and the other logged values folded away."""
    if not metrics.train and not metrics.held_out:
        return f"<p>{_esc(note('report-no-steps'))}</p>"
    names = metrics.names()
    main = [(LOSS, "objective")] if LOSS in names else []
    main += [(t, "task") for t in tasks if t in names]
    shown = {n for n, _ in main}
    others = [(n, "other") for n in names if n not in shown and n not in NOT_CURVES]
    parts = ['<div class="curves">', *(_figure(metrics, n, k) for n, k in main), "</div>"]
    if others:
        parts += ["<details><summary>", _esc(note("report-other-curves", count=len(others))),
                  '</summary><div class="curves">',
                  *(_figure(metrics, n, k) for n, k in others), "</div></details>"]
    return "".join(parts)


def _figure(metrics: Metrics, name: str, kind: str) -> str:
    lines = []
    steps, values = metrics.series(name)
    if steps:
        lines.append(Line("training", steps, values))
    steps, values = metrics.series(name, held_out=True)
    if steps:
        lines.append(Line("held-out", steps, values, HELD_OUT_COLOUR, dashed=True))
    caption = "objective (loss)" if kind == "objective" else name
    return (f'<figure class="curve" data-metric="{_esc(name)}" data-kind="{kind}">'
            f"<figcaption>{_esc(caption)}</figcaption>{chart(lines, title=caption)}</figure>")


def _final(metrics: Metrics) -> str:
    train, held_out = metrics.last(), metrics.last(held_out=True)
    if not train and not held_out:
        return f"<p>{_esc(note('report-no-steps'))}</p>"
    names = [n for n in metrics.names() if n in train or n in held_out]
    head = ["metric"]
    if train:
        head.append(f"training (step {train[STEP]:.0f})")
    if held_out:
        head.append(f"held-out (step {held_out[STEP]:.0f})")
    rows = []
    for name in names:
        cells = [f"<th>{_esc(name)}</th>"]
        for record in (r for r in (train, held_out) if r):
            cells.append(f'<td class="num">{_esc(_number(record[name]))}</td>'
                         if name in record else "<td></td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = "".join(f"<th>{_esc(h)}</th>" for h in head)
    return f'<table class="final"><tr>{header}</tr>{"".join(rows)}</table>'


def _pictures(pictures: Iterable[Picture]) -> str:
    parts = ['<div class="pictures">']
    for picture in pictures:
        name = _esc(picture.name)
        if picture.data is None:
            parts.append(f"<figure><figcaption>{name}</figcaption>"
                         f"<p>{_esc(note('report-picture-left-out'))}</p></figure>")
            continue
        data = base64.b64encode(picture.data).decode("ascii")
        parts.append(f'<figure><figcaption>{name}</figcaption>'
                     f'<img src="data:{picture.mime};base64,{data}" alt="{name}"></figure>')
    parts.append("</div>")
    return "".join(parts)


def _section(ident: str, heading: str, content: str) -> str:
    return f'<section id="{ident}"><h2>{_esc(heading)}</h2>{content}</section>'


def _value(value: object) -> str:
    """Any JSON value as HTML: an object as a table of its keys, a list of plain values on
    one line, other lists as a list, numbers rounded for reading."""
    if isinstance(value, dict):
        if not value:
            return ""
        rows = "".join(f"<tr><th>{_esc(str(k))}</th><td{_num_class(v)}>{_value(v)}</td></tr>"
                       for k, v in value.items())
        return f'<table class="kv">{rows}</table>'
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(_value(v) for v in value)
        return "<ul>" + "".join(f"<li>{_value(v)}</li>" for v in value) + "</ul>"
    return _esc(_number(value))


def _num_class(value: object) -> str:
    plain_number = isinstance(value, int | float) and not isinstance(value, bool)
    return ' class="num"' if plain_number else ""


def _number(value: object) -> str:
    """A value as text: floats to 6 significant digits, a missing value as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
