"""A train step's floating-point operations, counted before compilation (issue #14, item 7).

``jax.jit(step).lower(...).cost_analysis()`` is XLA's count on the lowered
(StableHLO) program, before any backend rewrites it: every matrix product and
convolution counts, whatever library will run it.  The count of the *compiled*
step (``.compile().cost_analysis()``) is not the same thing: on a GPU the
convolutions become cuDNN custom calls that XLA does not count, which once made a
463 GFLOP step look like 3.45 GFLOP.  Achieved FLOP/s is this count over the
measured step time.

JAX returns the analysis as a dict, or (older versions) a list with one dict per
program; ``None`` where the backend gives none.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import jax


def flops_of(analysis: Any) -> float | None:
    """The ``flops`` of a cost analysis in any of JAX's shapes: a dict, a list of dicts
    (summed), or ``None`` (unavailable)."""
    if analysis is None:
        return None
    if isinstance(analysis, Mapping):
        value = analysis.get("flops")
        return None if value is None else float(value)
    if isinstance(analysis, Sequence):
        counts = [flops_of(part) for part in analysis]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None
    return None


def step_flops(step: Any, *args: Any, **kwargs: Any) -> float | None:
    """Floating-point operations of one call ``step(*args, **kwargs)``, from the cost
    analysis of its lowering (nothing is compiled or run; the arguments' values are not
    used, only their shapes and dtypes).  ``step`` may be jitted already or a plain
    function.  ``None`` when the backend has no analysis."""
    lowerable = step if hasattr(step, "lower") else jax.jit(step)
    return flops_of(lowerable.lower(*args, **kwargs).cost_analysis())


def achieved(flops: float | None, seconds: float) -> float | None:
    """FLOP/s of a step of ``flops`` that took ``seconds``; ``None`` if either is unknown."""
    if flops is None or not seconds > 0:
        return None
    return flops / seconds


def rate_text(flops: float | None, seconds: float) -> str:
    """``"<x> GFLOP/s"`` (or TFLOP/s from 1 TFLOP/s on) for a report line; ``"n/a"``."""
    rate = achieved(flops, seconds)
    if rate is None:
        return "n/a FLOP/s"
    return f"{rate / 1e12:.2f} TFLOP/s" if rate >= 1e12 else f"{rate / 1e9:.2f} GFLOP/s"


def analytic_mlp_flops(batch: int, widths: Sequence[int]) -> int:
    """The textbook count of one training step of a dense net with layer ``widths``
    (input first): 2 * batch * sum(in * out) for the forward pass, three times that with
    the backward pass (a product for the inputs' gradient and one for the weights')."""
    return 3 * 2 * batch * sum(a * b for a, b in itertools.pairwise(widths))
