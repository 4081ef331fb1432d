"""taskdsl: ML objectives as equations between string diagrams.

``taskdsl.render`` (which loads Graphviz, a fifth of the import) is imported on
first use, not by ``import taskdsl``: attribute access (``taskdsl.render``) goes
through the module ``__getattr__`` below, and Jupyter's picture of an IR value
(``ir.SVG_DRAWERS``) through a placeholder drawer that imports it and draws.
"""

from __future__ import annotations

import importlib
from typing import Any

from taskdsl import ir as _ir
from taskdsl.diagnostics import Diagnostic, TaskError
from taskdsl.loader import Result, check_file, check_text, load

__version__ = "0.1.0"
__all__ = ["Diagnostic", "Result", "TaskError", "__version__", "check_file", "check_text", "load"]

_LAZY = frozenset({"render"})
"""Submodules imported by the first ``taskdsl.<name>``, not by ``import taskdsl``."""


def __getattr__(name: str) -> Any:
    """``taskdsl.render`` without importing Graphviz at ``import taskdsl``."""
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _draw_lazily(value: Any) -> str | None:
    """Import the renderer (which replaces this drawer with the real ones), then draw."""
    importlib.import_module(f"{__name__}.render")
    draw = _ir.SVG_DRAWERS.get(type(value))
    return None if draw is None or draw is _draw_lazily else draw(value)


for _kind in (_ir.Diagram, _ir.Equation, _ir.Objective):
    _ir.SVG_DRAWERS.setdefault(_kind, _draw_lazily)
del _kind
