"""`import taskdsl` leaves the renderer (and Graphviz) out until it is used.

Each check runs in a fresh interpreter: this test process has long imported
``taskdsl.render`` through other tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_taskdsl_loads_neither_the_renderer_nor_graphviz() -> None:
    out = _run("import sys, taskdsl\n"
               "print(sorted(m for m in ('taskdsl.render', 'graphviz') if m in sys.modules))")
    assert out.strip() == "[]"


def test_taskdsl_render_still_works_as_an_attribute() -> None:
    out = _run("import sys, taskdsl\n"
               "r = taskdsl.render\n"
               "print(r is sys.modules['taskdsl.render'], callable(r.render_program))")
    assert out.split() == ["True", "True"]


def test_unknown_attribute_is_an_attribute_error() -> None:
    import taskdsl

    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = taskdsl.no_such_thing  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_jupyter_picture_imports_the_renderer_on_first_use() -> None:
    """An IR value's `_repr_svg_` draws even when nothing imported `taskdsl.render` yet."""
    code = (
        "import sys, taskdsl\n"
        "r = taskdsl.check_text('type T = Real[2]\\nlearner f : T -> T\\n"
        "data d : -> T\\ntask t:\\n    x <- d\\n    f(x) = x  trains f\\n', 't.task')\n"
        "assert r.ok, r.render()\n"
        "before = 'taskdsl.render' in sys.modules\n"
        "svg = r.program.tasks['t']._repr_svg_()\n"
        "print(before, 'taskdsl.render' in sys.modules, '<svg' in svg)\n"
    )
    assert _run(code).split() == ["False", "True", "True"]
