"""What the tests of ``taskdsl compile`` share: importing an emitted module, and the
lowering's learners in the form the module's ``apply`` takes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from taskdsl.backends.jax.lowering.lower import Lowered


def module_of(source: str, path: Path) -> ModuleType:
    """``source`` written to ``path`` and imported as a module."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def learner_fns(low: Lowered) -> dict:
    """The compiled module's ``apply``: each learner as a function of its own params."""
    return {n: (lambda state, *xs, n=n: low.apply(n, {n: state}, *xs)) for n in low.learner_names}
