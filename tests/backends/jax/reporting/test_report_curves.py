"""The report's SVG line charts: round ticks, every point inside the plot, gaps for values
that were not finite, a log axis for a loss that falls by orders of magnitude."""

from __future__ import annotations

import itertools
import math
import re
from xml.etree import ElementTree

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from taskdsl.backends.jax.reporting import curves
from taskdsl.backends.jax.reporting.curves import Line, chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


@given(st.floats(-1e9, 1e9), st.floats(1e-6, 1e9))
def test_ticks_are_evenly_spaced_round_values_inside_the_range(low: float, span: float) -> None:
    assume(span > abs(low) * 1e-6)  # below that, float spacing itself is uneven
    high = low + span
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 11
    slack = span * 1e-6
    assert all(low - slack <= t <= high + slack for t in ticks)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert all(math.isclose(g, gaps[0], rel_tol=1e-6) for g in gaps)
    if gaps:
        mantissa = gaps[0] / 10 ** math.floor(math.log10(gaps[0]))
        assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))


def points(svg: str) -> list[tuple[float, float]]:
    root = ElementTree.fromstring(svg)
    found = [tuple(map(float, p.split(","))) for line in root.iter(f"{SVG}polyline")
             for p in line.get("points", "").split()]
    found += [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{SVG}circle")]
    return found


values = st.one_of(st.floats(-1e6, 1e6), st.floats(), st.just(math.nan), st.just(math.inf))


@given(st.lists(values, min_size=1, max_size=80), st.lists(values, max_size=10))
@settings(max_examples=80, deadline=None)
def test_every_point_is_inside_the_plot_area(train: list[float], held_out: list[float]) -> None:
    lines = [Line("training", range(1, len(train) + 1), train)]
    if held_out:
        lines.append(Line("held-out", range(2, 2 * len(held_out) + 2, 2), held_out, dashed=True))
    svg = chart(lines, title="loss")
    drawn = points(svg)
    finite = sum(abs(v) <= curves.LARGEST for line in lines for v in line.values)
    assert (len(drawn) > 0) == (finite > 0)
    if not finite:
        assert "no finite values" in svg
    for x, y in drawn:
        assert curves.LEFT - 0.05 <= x <= curves.WIDTH - curves.RIGHT + 0.05
        assert curves.TOP - 0.05 <= y <= curves.HEIGHT - curves.BOTTOM + 0.05


def test_a_value_that_was_not_finite_breaks_the_line() -> None:
    svg = chart([Line("training", [1, 2, 3, 4, 5, 6], [1.0, 2.0, math.nan, 3.0, 2.0, 1.0])])
    runs = [p.get("points").split() for p in ElementTree.fromstring(svg).iter(f"{SVG}polyline")]
    assert [len(r) for r in runs] == [2, 3]


def test_a_loss_falling_by_orders_of_magnitude_gets_a_log_axis() -> None:
    steps = list(range(1, 102))
    svg = chart([Line("training", steps, [10.0 ** (-(s - 1) / 25) for s in steps])])
    labels = re.findall(r'class="ytick"[^>]*>([^<]+)<', svg)
    assert set(labels) == {"1", "0.1", "0.01", "0.001", "0.0001"}
    heights = [y for _, y in points(svg)]  # evenly falling in log space: evenly spaced in y
    gaps = [b - a for a, b in itertools.pairwise(heights)]
    assert max(gaps) - min(gaps) < 0.2


def test_long_runs_are_thinned_but_keep_their_last_point() -> None:
    steps = list(range(1, 20_001))
    svg = chart([Line("training", steps, [math.sin(s / 500) for s in steps])])
    drawn = points(svg)
    assert len(drawn) <= curves.MAX_POINTS + 1
    assert drawn[-1][0] == max(x for x, _ in drawn)


@given(st.floats(-1e6, 1e6), st.floats(1e-6, 1e3))
def test_tick_labels_tell_neighbouring_ticks_apart(low: float, span: float) -> None:
    assume(span > abs(low) * 1e-9)
    svg = chart([Line("training", [1, 2], [low, low + span])])
    labels = re.findall(r'class="ytick"[^>]*>([^<]+)<', svg)
    assert len(labels) >= 2 and len(set(labels)) == len(labels)


def test_titles_and_labels_are_escaped() -> None:
    svg = chart([Line("<b>&", [1, 2], [1.0, 2.0]), Line("x", [1], [1.5])], title="</svg><i>")
    root = ElementTree.fromstring(svg)  # well-formed: nothing leaked out
    assert root.find(f"{SVG}title").text == "</svg><i>"
    assert "<b>&" in [t.text for t in root.iter(f"{SVG}text")]
