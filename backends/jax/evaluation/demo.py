"""``taskdsl demo``: the project end to end on the built-in sprites, on a laptop's CPU.

From ``examples/sprites_manipulator_prior.task`` (no data file needed: the
sprites are drawn by the project) it trains a colour classifier and a colour
manipulator with a denoising prior through the normal ``train`` path, draws the
objective, judges the manipulator with an independently trained classifier,
and writes into ``--out``::

    objective.svg   the objective's equations as string diagrams (needs Graphviz)
    grid.png        held-out sprites, then their edit to every colour
    eval.json       the figures (docs/manipulators.md says what each means)
    run/            the training run (and run/judge/, the judge's)

An interrupted demo picks up where it stopped: the run is resumed from its
latest checkpoint and a finished judge is reused.  ``--fast`` shrinks every
budget so that the whole pipeline runs in well under a minute, for tests; its
figures mean nothing.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Any

from taskdsl.ir import Program
from taskdsl.loader import load

from ..training.files import write_text
from ..training.train import CONFIG, train
from . import errors
from .evaluate import JUDGE_STEPS, evaluate, table
from .realism import TWO_SAMPLE_STEPS

TASK = Path(str(resources.files("taskdsl.examples") / "sprites_manipulator_prior.task"))
"""Shipped as package data, so the demo runs from any install, not only a checkout.  Of
the sprite manipulators without a discriminator it is the one that trained at every seed
(``examples/sprites_demo.task``, which it imports, collapsed at one of five)."""
RUN = "run"
SVG = "objective.svg"
EXAMPLES = 1000
FAST = ("steps=3", "batch=8", "log_every=1")
FAST_JUDGE_STEPS = 3
FAST_EXAMPLES = 48
FAST_REALISM_STEPS = 10


def draw_objective(program: Program, out: Path) -> str | None:
    """Write the objective's diagram to ``out/objective.svg``; a note instead if it cannot."""
    try:
        from taskdsl import render
    except ImportError as error:
        return errors.no_render(f"taskdsl.render is not available: {error}")
    try:
        svg = render.objective_svg(program.objective())
    except render.RenderError as error:
        return errors.no_render(str(error))
    write_text(out / SVG, svg)
    return None


def demo(out: str | Path = "demo_out", fast: bool = False, progress: bool = True
         ) -> dict[str, Any]:
    """Train, draw and judge the sprite-colour manipulator; print and return the figures."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    program = load(TASK)
    run_dir = out / RUN
    train(program, None, FAST if fast else (), run_dir, resume=(run_dir / CONFIG).is_file(),
          progress=progress)
    note = draw_objective(program, out)
    result = evaluate(run_dir, n=FAST_EXAMPLES if fast else EXAMPLES, out=out,
                      judge_steps=FAST_JUDGE_STEPS if fast else JUDGE_STEPS, progress=progress,
                      realism_steps=FAST_REALISM_STEPS if fast else TWO_SAMPLE_STEPS)
    print(table(result))
    if note:
        print(note)
    print(f"demo finished in {time.perf_counter() - started:.0f} s; see {out}/")
    return result
