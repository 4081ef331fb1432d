"""Refusing a run that will not fit in memory, before anything is compiled or allocated.

A ``batch`` of 100,000,000 or an ``impl ... = nets.mlp(width = 100000000)`` used to
run for minutes (gathering a batch on the host, compiling) before failing, or try
to allocate a terabyte.  So ``taskdsl train`` estimates what a run needs before
it initialises anything (``docs/training.md``, "Memory"), from shapes alone:

- the parameters: ``jax.eval_shape`` of the learners' initialisation (no array is
  made);
- the optimizer state: ``jax.eval_shape`` of the optimizer's ``init`` on them;
- one batch, from the data sets' field shapes and dtypes, and the data sets
  themselves when a run puts them on the device (``train._resident``);
- the step's temporaries: a conservative bound first (every intermediate of the
  traced step, counted as if none were freed or fused), and only when that bound
  comes within :data:`CLOSE` of what is available, XLA's own figure from
  ``jax.jit(step).lower(...).compile().memory_analysis()`` (arguments + outputs -
  aliased + temporaries), so a small run costs a trace, not a second compile;
- on the host: the rows of each draw (``feed.Feed.indices`` builds a few int64
  arrays of the batch's length) and, when the data stay on the host, the batch
  gathered there.

What is available is the device's ``memory_stats()["bytes_limit"]`` where it has
one (GPUs, TPUs) and the host's ``MemAvailable`` (``/proc/meminfo``, else
``os.sysconf``); on the CPU backend the device's memory is the host's, so both
parts count against it.  ``TASKDSL_MEMORY_LIMIT`` (bytes) replaces both figures.
A run that would not fit is refused with ``memory-budget``, located at the
``batch`` setting (or its ``--set``) when the batch is most of it, else at the
``impl`` line of the largest learner; ``memory_check = false`` turns the check off.

``taskdsl check`` runs the cheap part (:func:`static_problems`): parameters,
optimizer state and the raw batch, from the nets built abstractly and the data
wires' types, which are lower bounds of what a run needs, so ``check`` never
refuses what ``train`` would run.  Since it is this machine's memory that falls
short, not the file, ``check`` reports it as a warning and ``train`` as an error,
like a missing data file.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from taskdsl.ir import BoxKind, Program
from taskdsl.queries import data_requests, ema_learners, find_objective, is_load, own_params
from taskdsl.source import NOWHERE, Span

from ..errors import BackendError
from ..messages import Problem, problem
from . import errors
from .settings import Origin, Settings

ENV_LIMIT = "TASKDSL_MEMORY_LIMIT"
"""Bytes a run may use, replacing what the device and the host report (a positive whole
number; anything else is ignored)."""
SETTING = "memory_check"
CLOSE = 0.5
"""The step is compiled for XLA's exact figure only when the conservative bound needs more
than this share of what is available."""
INDEX_BYTES = 4 * 8
"""Host bytes per row of each draw while ``Feed.indices`` builds its rows (int64
positions, epochs, offsets and rows)."""


@dataclass(frozen=True)
class Estimate:
    """What a run needs, in bytes, by part; ``exact`` when ``step`` is XLA's own figure."""

    params: int
    opt_state: int
    batch: int  # one batch, as the step takes it
    data: int  # data sets placed on the device for the whole run
    step: int  # the step's temporaries (and outputs not aliased to its inputs)
    host: int  # on the host: each draw's rows, and the batch when gathered there
    exact: bool = False

    @property
    def device(self) -> int:
        return self.params + self.opt_state + self.batch + self.data + self.step

    @property
    def by_batch(self) -> int:
        """The part that grows with ``batch``."""
        return self.batch + self.step + self.host


@dataclass(frozen=True)
class Available:
    """Bytes free on the device (``None``: the host's memory is the device's) and the host."""

    device: int | None
    host: int | None


def size(bytes_: float) -> str:
    """``bytes_`` for a message: ``1.2 TB``, ``512 MB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if bytes_ >= scale:
            value = bytes_ / scale
            return f"{value:,.0f} {unit}" if value >= 1000 else f"{value:.3g} {unit}"
    return f"{int(bytes_)} bytes"


def tree_bytes(tree: Any) -> int:
    """The bytes of a pytree of arrays or shapes (``ShapeDtypeStruct``)."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            continue
        # A key's data: two uint32 words (threefry).
        itemsize = (8 if jnp.issubdtype(dtype, jax.dtypes.prng_key)
                    else np.dtype(dtype).itemsize)
        total += math.prod(getattr(leaf, "shape", ())) * itemsize
    return total


# -- what is available -----------------------------------------------------------------


def _limit_from_env() -> int | None:
    text = os.environ.get(ENV_LIMIT, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def host_available() -> int | None:
    """The host's available memory: ``MemAvailable`` of ``/proc/meminfo``, else the free
    physical pages (``os.sysconf``); ``None`` where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def available() -> Available:
    """What a run may use: ``TASKDSL_MEMORY_LIMIT``, else the first local device's
    ``bytes_limit`` (``None`` on the CPU backend, whose memory is the host's) and the
    host's available memory."""
    limit = _limit_from_env()
    if limit is not None:
        return Available(None, limit)
    device = None
    if jax.default_backend() != "cpu":
        try:
            stats = jax.local_devices()[0].memory_stats() or {}
        except (RuntimeError, NotImplementedError):
            stats = {}
        limit_here = stats.get("bytes_limit")
        if isinstance(limit_here, int) and limit_here > 0:
            device = limit_here - int(stats.get("bytes_in_use", 0) or 0)
    return Available(device, host_available())


# -- the step's temporaries ------------------------------------------------------------


def _jaxprs(value: Any) -> list[Any]:
    """The jaxprs an equation's parameter holds (a ``pjit``'s, a ``scan``'s body...)."""
    if isinstance(value, jax.extend.core.ClosedJaxpr):
        return [value.jaxpr]
    if isinstance(value, jax.extend.core.Jaxpr):
        return [value]
    if isinstance(value, tuple | list):
        return [j for v in value for j in _jaxprs(v)]
    return []


def bound(jaxpr: Any) -> int:
    """Every intermediate of ``jaxpr`` (and of the jaxprs inside it), in bytes, as if none
    were freed or fused: an upper bound of the temporaries a compiled step keeps."""
    total = 0
    for equation in jaxpr.eqns:
        total += sum(tree_bytes(v.aval) for v in equation.outvars
                     if hasattr(v.aval, "shape"))
        for value in equation.params.values():
            total += sum(bound(inner) for inner in _jaxprs(value))
    return total


def compiled_need(traced: Any) -> int | None:
    """What the compiled step takes beyond its inputs, from XLA (temporaries, plus outputs
    not written over donated inputs); ``None`` where XLA does not say."""
    try:
        stats = traced.lower().compile().memory_analysis()
    except Exception:  # a backend without the analysis: keep the bound
        return None
    if stats is None:
        return None
    temp = getattr(stats, "temp_size_in_bytes", None)
    out = getattr(stats, "output_size_in_bytes", 0) or 0
    alias = getattr(stats, "alias_size_in_bytes", 0) or 0
    if temp is None:
        return None
    return int(temp) + max(int(out) - int(alias), 0)


# -- a run's estimate ------------------------------------------------------------------


def batch_shapes(requests: Any, sources: Mapping[str, Any], batch: int
                 ) -> dict[str, tuple[jax.ShapeDtypeStruct, ...]]:
    """The batch the step takes, as shapes: each draw's fields with ``batch`` rows, in the
    dtypes they have on the device."""
    return {r.key: tuple(jax.ShapeDtypeStruct((batch, *a.shape[1:]),
                                              jax.dtypes.canonicalize_dtype(a.dtype))
                         for a in sources[r.source].arrays)
            for r in requests}


def estimate(lowered: Any, init_opt_state: Callable[[Any], Any], step_fn: Any,
             sources: Mapping[str, Any], settings: Settings, resident: bool,
             room: int | None = None, exact: bool = False) -> Estimate:
    """What training ``lowered`` with these settings needs (see the module's docstring).
    ``resident``: whether the data sets go on the device; ``room``: what is available, to
    decide whether the step is worth compiling for XLA's figure (``None``: never, unless
    ``exact`` asks for it)."""
    key = jax.eval_shape(lambda: jax.random.key(0))
    params = jax.eval_shape(lowered.init, key)
    opt_state = jax.eval_shape(init_opt_state, params)
    requests = lowered.data_requests()
    batch = batch_shapes(requests, sources, settings.batch)
    drawn = {r.source for r in requests}
    data = sum(tree_bytes(sources[s].arrays) for s in drawn) if resident else 0
    batch_bytes = tree_bytes(batch)
    host = len(requests) * settings.batch * INDEX_BYTES + (0 if resident else batch_bytes)
    static = Estimate(tree_bytes(params), tree_bytes(opt_state), batch_bytes, data, 0, host)
    if room is not None and static.device + static.host > room and not exact:
        return static  # no need to trace: it does not fit already
    traced = step_fn.trace(params, opt_state, batch, key)
    step = bound(traced.jaxpr.jaxpr)
    rough = Estimate(static.params, static.opt_state, batch_bytes, data, step, host)
    if not exact and (room is None or rough.device + rough.host <= CLOSE * room):
        return rough
    compiled = compiled_need(traced)
    if compiled is None:
        return rough
    return Estimate(static.params, static.opt_state, batch_bytes, data, compiled, host, True)


def refused(need: Estimate, room: Available) -> tuple[str, int, int] | None:
    """Where the run does not fit (``"device"`` or ``"host"``), needing how much of how much
    available; ``None`` when it fits (or nothing is known about the memory)."""
    if room.device is not None:
        if need.device > room.device:
            return "device", need.device, room.device
        if room.host is not None and need.host > room.host:
            return "host", need.host, room.host
        return None
    total = need.device + need.host  # the CPU backend: one memory
    if room.host is not None and total > room.host:
        return "host", total, room.host
    return None


def check_run(program: Program, objective: str, overrides: Any, lowered: Any,
              init_opt_state: Callable[[Any], Any], step_fn: Any,
              sources: Mapping[str, Any], settings: Settings, resident_limit: int
              ) -> Estimate | None:
    """Refuse (``TrainError``, ``memory-budget``) a run that will not fit, before anything
    is allocated; the estimate, or ``None`` when ``memory_check`` is off.  The data sets
    go on the device when they hold at most ``resident_limit`` bytes (``train._resident``;
    a negative limit: never)."""
    if not getattr(settings, SETTING, True):
        return None
    drawn = {r.source for r in lowered.data_requests()}
    resident = bool(drawn) and sum(tree_bytes(sources[s].arrays) for s in drawn
                                   ) <= resident_limit
    from .settings import collect

    room = available()
    budget = room.host if room.device is None else room.device
    need = estimate(lowered, init_opt_state, step_fn, sources, settings, resident, budget)
    where = refused(need, room)
    if where is None:
        return need
    key = jax.eval_shape(lambda: jax.random.key(0))
    sizes = {n: tree_bytes(p) for n, p in jax.eval_shape(lowered.init, key).items()
             if n not in lowered.loaded}
    origins = collect(program, objective, overrides).origins
    raise errors.TrainError(_problem(program, objective, origins, settings, need, where,
                                     sizes))


def _problem(program: Program, objective: str, origins: Mapping[str, Origin],
             settings: Settings, need: Estimate, where: tuple[str, int, int],
             sizes: Mapping[str, int]) -> Problem:
    """The ``memory-budget`` problem, at the ``batch`` setting when the batch's part is the
    larger, else at the largest learner's ``impl`` line (or declaration)."""
    kind, needed, room = where
    largest = max(sizes, key=sizes.__getitem__) if sizes else None
    by_batch = need.by_batch >= need.params + need.opt_state or largest is None
    span: Span | None = None
    if by_batch and "batch" in origins:
        span = origins["batch"].span
    elif largest is not None:
        declaration = program.declarations.get(largest)
        span = (origins.get(f"impl.{largest}", Origin(None)).span
                or (declaration.span if declaration is not None else None))
    if span is None or span == NOWHERE:
        spec = program.trainings.get(objective)
        span = spec.span if spec is not None else None
    parts = (f"parameters {size(need.params)}, optimizer state {size(need.opt_state)}, "
             f"one batch {size(need.batch)}")
    if need.step:
        parts += f", the step {'' if need.exact else 'at most '}{size(need.step)}"
    if need.data:
        parts += f", the data sets {size(need.data)}"
    if need.host:
        parts += f", on the host {size(need.host)}"
    fix = (f"make `batch` smaller (it is {settings.batch})" if by_batch else
           f"make `{largest}`'s net smaller (its `width`, `depth` or channels)")
    found = problem("memory-budget", need=size(needed), kind=kind, available=size(room),
                    parts=parts, fix=fix, setting=SETTING, env=ENV_LIMIT).at(span)
    # This machine's memory, not the file, is what falls short: `taskdsl check` warns (the
    # run may be meant for a larger machine), `taskdsl train` refuses.
    return dataclasses.replace(found, environment=True)


# -- taskdsl check: the cheap part -----------------------------------------------------


def static_problems(program: Program, objective: str, settings: Settings,
                    origins: Mapping[str, Origin]) -> list[Problem]:
    """``memory-budget`` for ``taskdsl check``: the parameters of the nets ``objective``
    trains, built abstractly, their optimizer state and one raw batch (from the data
    wires' types), against what is available: lower bounds, no compile, no data."""
    if not getattr(settings, SETTING, True):
        return []
    from flax import nnx

    from ..lowering.lower import _net_of, as_call
    from ..nets import build
    from .runs import run_optimizer

    target = find_objective(program, objective)
    if target is None:
        return []
    chosen = {**program.impls, **settings.impls}
    ema = ema_learners(program, target)
    sizes: dict[str, int] = {}
    shapes: dict[str, Any] = {}
    for name in own_params(program, target):
        declaration = program.declarations[name]
        impl = chosen.get(ema[name][0] if name in ema else name)
        if declaration.kind is BoxKind.FIXED or is_load(impl):
            continue  # loaded: its parameters are the run's, already there
        sig = declaration.signature
        try:
            net, options = _net_of(name, sig, None if impl is None else as_call(name, impl))
            state = nnx.state(nnx.eval_shape(
                lambda net=net, options=options, sig=sig: build(
                    net, sig.inputs, sig.outputs, options, nnx.Rngs(0))))
        except (BackendError, TypeError, ValueError):
            continue  # the impl line's own problems are reported elsewhere
        shapes[name] = state
        sizes[name] = tree_bytes(state)
    if not sizes:
        return []
    trained = {n: s for n, s in shapes.items() if n not in ema}
    try:
        opt_state = tree_bytes(jax.eval_shape(run_optimizer(settings).init, trained))
    except (BackendError, TypeError, ValueError):
        opt_state = 0
    raw = sum(settings.batch * _raw_bytes(w) for r in data_requests(program, target)
              for w in r.types)
    need = Estimate(sum(sizes.values()), opt_state, raw, 0, 0, 0)
    where = refused(need, available())
    if where is None:
        return []
    return [_problem(program, objective, origins, settings, need, where, sizes)]


def _raw_bytes(wire: Any) -> int:
    """One example's raw bytes on a data wire, at least: a class index for ``Class`` and
    ``Binary``, four bytes an element otherwise (unknown sizes count as 1)."""
    if wire.kind in ("Class", "Binary"):
        return 4
    return 4 * math.prod(d if isinstance(d, int) else 1 for d in wire.shape)
