"""Line charts of logged values as small inline SVG: no JavaScript, no plotting library.

A chart draws one quantity against the step: the training curve solid, the
held-out curve dashed with dots, on shared axes with round tick values.  A
quantity that is positive and spans more than :data:`LOG_SPAN` (a loss falling
by orders of magnitude) gets a logarithmic y axis.  Values that were not finite
break the line rather than bend it.  Every text that comes from a file is
escaped; the caller adds the chart's title outside the SVG.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 350, 210
LEFT, RIGHT, TOP, BOTTOM = 54, 12, 10, 36
MAX_POINTS = 1200
"""More points than this are thinned (evenly, keeping the last): a chart stays small."""
LOG_SPAN = 100.0
LARGEST = 1e300
"""Values beyond this are left out like non-finite ones: their differences would overflow."""
TRAIN_COLOUR, HELD_OUT_COLOUR, GRID_COLOUR, INK = "#1f5f9f", "#d9730d", "#e4e4e4", "#333333"
FONT = "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\""


@dataclass(frozen=True)
class Line:
    """One curve: its steps and values (NaN for a value that was not finite)."""

    label: str
    steps: Sequence[int]
    values: Sequence[float]
    colour: str = TRAIN_COLOUR
    dashed: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values from ``low`` to ``high`` (inclusive, within float error), about ``count``
    of them, spaced 1, 2 or 5 times a power of ten apart."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    power = math.floor(math.log10((high - low) / max(count - 1, 1)))
    best: list[float] = []
    for step in sorted(m * 10.0 ** e for e in (power - 1, power, power + 1) for m in (1, 2, 5)):
        first = math.ceil(low / step - 1e-9)
        last = math.floor(high / step + 1e-9)
        if last - first + 1 < 2:
            break
        decimals = max(0, 1 - math.floor(math.log10(step)))  # rounds away float error only
        ticks = [round(i * step, decimals) for i in range(first, last + 1)]
        if not best or abs(len(ticks) - count) <= abs(len(best) - count):
            best = ticks
    return best or [low, high]


def chart(lines: Sequence[Line], *, title: str = "") -> str:
    """An SVG line chart of ``lines`` against the step; a note when none has a finite value."""
    finite = [(s, v) for line in lines for s, v in zip(line.steps, line.values, strict=True)
              if _drawable(v)]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart">'
            f"<title>{html.escape(title)}</title>")
    if not finite:
        return (f'{head}<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" {FONT} '
                f'fill="{INK}">no finite values</text></svg>')
    steps = [s for s, _ in finite]
    values = [v for _, v in finite]
    log = min(values) > 0 and max(values) / min(values) > LOG_SPAN
    x_axis = _Axis(*_padded(min(steps), max(steps), pad=0.0), log=False)
    y_low, y_high = (min(values), max(values))
    if log:
        y_axis = _Axis(math.log10(y_low), math.log10(y_high), log=True)
    else:
        y_axis = _Axis(*_padded(y_low, y_high, pad=0.05), log=False)
    parts = [head, f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
                   f'height="{HEIGHT - TOP - BOTTOM}" fill="white" stroke="#bbbbbb"/>']
    parts += _grid(x_axis, y_axis)
    for line in lines:
        parts += _curve(line, x_axis, y_axis)
    if len(lines) > 1:
        parts += _legend(lines)
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" '
                 f'text-anchor="end" {FONT} fill="{INK}">step</text>')
    parts.append("</svg>")
    return "".join(parts)


def _drawable(value: float) -> bool:
    """Whether a value can be placed: finite, and not so large that a span overflows."""
    return math.isfinite(value) and abs(value) <= LARGEST


@dataclass(frozen=True)
class _Axis:
    """A value range mapped onto the plot area (in log10 units when ``log``)."""

    low: float
    high: float
    log: bool

    def fraction(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        return (v - self.low) / (self.high - self.low)

    def x(self, value: float) -> float:
        return LEFT + self.fraction(value) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - self.fraction(value) * (HEIGHT - TOP - BOTTOM)

    def ticks(self) -> list[float]:
        if not self.log:
            return nice_ticks(self.low, self.high)
        powers = range(math.ceil(self.low - 1e-9), math.floor(self.high + 1e-9) + 1)
        found = [10.0 ** p for p in powers]
        if len(found) < 2:  # less than a decade inside: the ends, then
            found = [10 ** self.low, 10 ** self.high]
        return found


def _padded(low: float, high: float, pad: float) -> tuple[float, float]:
    """``low``..``high`` widened by ``pad`` of the span, or around a single value."""
    if high > low:
        margin = (high - low) * pad
        return low - margin, high + margin
    spread = abs(low) * 0.1 or 1.0
    return low - spread, high + spread


def _grid(x_axis: _Axis, y_axis: _Axis) -> list[str]:
    parts = []
    bottom, top = HEIGHT - BOTTOM, TOP
    for tick in x_axis.ticks():
        if float(tick).is_integer():  # steps are whole numbers
            x = x_axis.x(tick)
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                         f'stroke="{GRID_COLOUR}"/>')
            parts.append(f'<text class="xtick" x="{x:.1f}" y="{bottom + 14}" '
                         f'text-anchor="middle" {FONT} '
                         f'fill="{INK}">{_label(tick)}</text>')
    ticks = y_axis.ticks()
    for tick in ticks:
        y = y_axis.y(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                     f'stroke="{GRID_COLOUR}"/>')
        parts.append(f'<text class="ytick" x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end" {FONT} '
                     f'fill="{INK}">{_label(tick, None if y_axis.log else ticks)}</text>')
    return parts


def _label(value: float, ticks: Sequence[float] | None = None) -> str:
    """A tick's value with as many digits as tell it from its neighbours in ``ticks``
    (a flat curve at 4096 has ticks 4096.0000002 apart), and no more."""
    if not ticks or len(ticks) < 2 or value == 0:
        return f"{value:.4g}"
    step = abs(ticks[1] - ticks[0])
    largest = max(abs(t) for t in ticks)
    digits = math.floor(math.log10(largest)) - math.floor(math.log10(step)) + 1
    return f"{value:.{min(max(digits, 1), 15)}g}"


def _curve(line: Line, x_axis: _Axis, y_axis: _Axis) -> list[str]:
    """The line's finite runs as polylines (a non-finite value breaks it), dots if sparse."""
    points = list(zip(line.steps, line.values, strict=True))
    if len(points) > MAX_POINTS:
        stride = math.ceil(len(points) / MAX_POINTS)
        points = [*points[:-1:stride], points[-1]]
    runs: list[list[tuple[float, float]]] = [[]]
    for step, value in points:
        if _drawable(value) and (value > 0 or not y_axis.log):
            runs[-1].append((x_axis.x(step), y_axis.y(value)))
        elif runs[-1]:
            runs.append([])
    dash = ' stroke-dasharray="5 3"' if line.dashed else ""
    label = html.escape(line.label)
    parts = [f'<g class="line" data-label="{label}">']
    for run in runs:
        if len(run) > 1:
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{line.colour}" '
                         f'stroke-width="1.6"{dash}/>')
    dots = [p for run in runs for p in run]
    if len(dots) <= 60 or any(len(run) == 1 for run in runs):
        shown = dots if len(dots) <= 60 else [run[0] for run in runs if len(run) == 1]
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.4" fill="{line.colour}"/>'
                  for x, y in shown]
    parts.append("</g>")
    return parts


def _legend(lines: Sequence[Line]) -> list[str]:
    """A key under the plot, from the left (the axis name ``step`` is at the right)."""
    parts = []
    x, y = LEFT, HEIGHT - 4
    for line in lines:
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        parts.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" '
                     f'stroke="{line.colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{x + 22}" y="{y}" {FONT} fill="{INK}">'
                     f"{html.escape(line.label)}</text>")
        x += 30 + 6 * len(line.label)
    return parts
