"""The report of a real run in a real browser: headless Chromium loads the page, the DOM it
builds has the diagram and a chart per task, and the screenshot shows them (the pixels of
those regions are not blank, and carry the learners' fill and the curves' colour).

Skipped where Chromium is not installed, except under CI (``$CI`` set), which installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from taskdsl.backends.jax.reporting.curves import TRAIN_COLOUR
from taskdsl.backends.jax.reporting.page import write_report
from taskdsl.ir import BoxKind
from taskdsl.render import BOX_LOOKS
from tests.backends.jax.reporting.report_helpers import TASKS, parse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Chromium is not installed (apt-get install chromium)")
WINDOW = (1200, 2000)
PROBE = """<script>
for (const id of ["diagram", "curves"]) {
  const box = document.getElementById(id).getBoundingClientRect();
  document.body.setAttribute("data-" + id, JSON.stringify([box.left, box.top, box.right,
                                                           box.bottom]));
}
</script>"""
"""Added to a copy of the page only: writes where the browser laid the sections out."""


def browser(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "CI must install Chromium"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars", *arguments],
        capture_output=True, text=True, timeout=90, check=False)


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def share_of(region: Image.Image, colour: tuple[int, int, int], slack: int = 24) -> float:
    """The share of the region's pixels within ``slack`` of ``colour`` (antialiasing)."""
    pixels = np.asarray(region, dtype=np.int16)
    return float((np.abs(pixels - np.array(colour)) <= slack).all(axis=-1).mean())


def test_chromium_shows_the_diagram_and_the_curves(tiny_run: Path, tmp_path: Path) -> None:
    page = write_report(tiny_run, tmp_path / "report.html")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))

    dumped = browser("--dump-dom", probed.as_uri(), profile=tmp_path / "profile")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.by_id("diagram").all("svg") and dom.by_id("settings").all("table")
    tasks = [f.attrs["data-metric"] for f in dom.all("figure", class_="curve")
             if f.attrs["data-kind"] == "task"]
    assert tasks == list(TASKS)
    (body,) = dom.all("body")
    boxes = {k: json.loads(body.attrs[f"data-{k}"]) for k in ("diagram", "curves")}

    shot = tmp_path / "shot.png"
    taken = browser(f"--screenshot={shot}", probed.as_uri(), profile=tmp_path / "profile")
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 16  # not a blank page
    for name, colour in (("diagram", BOX_LOOKS[BoxKind.LEARNER][0]), ("curves", TRAIN_COLOUR)):
        left, top, right, bottom = (round(v) for v in boxes[name])
        assert 0 <= top < bottom <= WINDOW[1] and right - left > 100, (name, boxes[name])
        region = image.crop((left, top, right, bottom))
        extrema = region.convert("L").getextrema()
        assert extrema[1] - extrema[0] > 100, name  # ink on paper, not a uniform block
        assert share_of(region, rgb(colour)) > 0.001, name


def test_the_page_needs_no_script_and_no_network(tiny_run: Path, tmp_path: Path) -> None:
    text = write_report(tiny_run, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text
    assert not re.search(r'(src|href)="(?!data:)[^"#]', text)  # everything inline
