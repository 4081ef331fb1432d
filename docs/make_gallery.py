"""Regenerate the pictures in the docs from the shipped .task files.

    python docs/make_gallery.py

writes ``docs/gallery/<stdlib|examples>-<name>.svg`` for every ``stdlib/*.task``
and ``examples/*.task`` (what ``taskdsl render FILE`` draws), an index
``docs/gallery/README.md``, and ``docs/img/mnist_manipulator.{svg,png}``, the
picture the README shows.  Old gallery pictures are removed first, so a
deleted example leaves nothing behind.  Exits 1 if any file fails to check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from taskdsl import check_file
from taskdsl.render import RenderError, draw_objective, render_program

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"
IMAGES = ROOT / "docs" / "img"
SHOWCASE = ROOT / "examples" / "mnist_manipulator.task"


def main() -> int:
    GALLERY.mkdir(parents=True, exist_ok=True)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for old in GALLERY.glob("*.svg"):
        old.unlink()
    index = ["# Gallery", "", "Every shipped `.task` file as `taskdsl render` draws it. "
             "Regenerate with `make gallery` (`python docs/make_gallery.py`).", ""]
    failed = 0
    for path in sorted([*ROOT.glob("stdlib/*.task"), *ROOT.glob("examples/*.task")]):
        shown = path.relative_to(ROOT)
        result = check_file(path)
        if not result.ok:
            print(result.render(), file=sys.stderr)
            failed += 1
            continue
        name = f"{path.parent.name}-{path.stem}.svg"
        try:
            render_program(result.program).write(GALLERY / name)
        except RenderError as error:
            print(f"{shown}: {error}", file=sys.stderr)
            return 1
        index += [f"## `{shown}`", "", f"![{shown}]({name})", ""]
        print(f"{shown} -> docs/gallery/{name}")
    (GALLERY / "README.md").write_text("\n".join(index), encoding="utf-8")

    showcase = draw_objective(check_file(SHOWCASE).program.objective())
    for suffix in ("svg", "png"):
        showcase.write(IMAGES / f"mnist_manipulator.{suffix}")
    print("examples/mnist_manipulator.task -> docs/img/mnist_manipulator.{svg,png}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
