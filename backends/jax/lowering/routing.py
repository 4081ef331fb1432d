"""Gradient routing (docs/design.md): an equation trains only the learners it names.

Every other learner in the equation still runs, but on parameters behind
``jax.lax.stop_gradient``.  Stopping the *parameters* rather than the *output*
is the point: in ``get(put(x, a)) = a  trains put`` the loss must reach ``put``
through ``get``, so ``get``'s output stays differentiable with respect to its
input while ``get``'s own weights receive exactly zero gradient.

This module imports only JAX: ``compile.py`` copies ``route`` verbatim into the
standalone modules it writes, so both paths share one definition.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import jax


def route(params: Mapping[str, Any], trains: Collection[str]) -> dict[str, Any]:
    """The params as one equation sees them: learners outside ``trains`` behind stop_gradient."""
    return {name: p if name in trains else jax.lax.stop_gradient(p) for name, p in params.items()}
