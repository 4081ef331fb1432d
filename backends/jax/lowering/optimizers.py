"""The optimizer a ``train`` block's ``optimizer`` setting names, as an optax transformation.

An ``optimizer`` value is read in two steps, so that ``compile`` emits exactly what
training runs:

1. :func:`plan_of` turns the setting (``adam(lr = cosine(1e-3, warmup = 100, steps =
   1000), clip = 1.0)``, or ``each(adam(1e-3), put: sgd(0.1))`` for an optimizer per
   learner) into a *plan*: plain tuples, strings and numbers, which ``compile`` writes
   into the module it emits as ``OPTIMIZER``.
2. :func:`optimizer_of` builds the optax transformation from a plan.  It and the
   functions it calls import only optax (and ``step.PerLearner``), and ``compile``
   copies their source verbatim, like ``train_step``.

A learning rate is a number or a schedule: ``constant(LR, warmup = W)``,
``cosine(LR, warmup = W, steps = S, end = E)`` or ``exponential(LR, warmup = W, steps =
S, rate = R)``: a linear warm-up from 0 to ``LR`` over ``W`` updates, then constant,
a cosine decay to ``E``, or an exponential decay to ``LR * R``, over the ``S - W``
updates that follow (``settings.resolve`` fills ``steps`` in with the run's
``steps``).  ``clip = C`` scales each learner's gradient to a global norm of at most
``C`` before the optimizer sees it (``optax.chain(optax.clip_by_global_norm(C),
...)``).  A schedule's count is part of the optimizer state, so a resumed run goes on
exactly where it stopped.

A plan: ``(DEFAULT, ((LEARNER, OPT), ...))``, each ``OPT`` ``(NAME, ((OPTION, VALUE),
...), LR, CLIP)``, ``LR`` a number or ``(SCHEDULE, PEAK, WARMUP, STEPS, END_OR_RATE)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optax

from taskdsl.ir import Call, Name

from ..messages import show
from . import errors
from .step import PerLearner

__all__ = ["EACH", "OPTIMIZERS", "SCHEDULES", "Plan", "optimizer_from_spec", "optimizer_of",
           "plan_of"]

# The optimizers a `train` block may name: constructor, default learning rate, options.
OptimizerEntry = tuple[Callable[..., optax.GradientTransformation], float, tuple[str, ...]]
OPTIMIZERS: dict[str, OptimizerEntry] = {
    "adam": (optax.adam, 1e-3, ("lr", "b1", "b2", "eps")),
    "adamw": (optax.adamw, 1e-3, ("lr", "b1", "b2", "eps", "weight_decay")),
    "sgd": (optax.sgd, 1e-2, ("lr", "momentum", "nesterov")),
}
CLIP = "clip"  # an option of every optimizer: clip each learner's gradient norm first
EACH = "each"  # `each(DEFAULT, LEARNER: OPTIMIZER, ...)`: an optimizer per learner

# The learning-rate schedules: their options (the first, `lr`, may be positional) and the
# default of the last slot of a plan's schedule tuple (`end` of cosine, `rate` of exponential).
SCHEDULES: dict[str, tuple[tuple[str, ...], float]] = {
    "constant": (("lr", "warmup", "steps"), 0.0),
    "cosine": (("lr", "warmup", "steps", "end"), 0.0),
    "exponential": (("lr", "warmup", "steps", "rate"), 0.01),
}

Plan = tuple[Any, tuple[tuple[str, Any], ...]]


def optimizer_from_spec(spec: Call | Name | str) -> optax.GradientTransformation | PerLearner:
    """The optax optimizer a ``train`` block names: ``adam(lr = 1e-3)``, ``adamw``, ``sgd``,
    with a schedule or ``clip``, or ``each(...)`` (see the module doc)."""
    return optimizer_of(plan_of(spec))


def plan_of(spec: Call | Name | str) -> Plan:
    """The plan of an ``optimizer`` value; ``LowerError`` for one that is not an optimizer
    (``taskdsl check`` reports these, located, before a run gets here)."""
    call = _call(spec)
    if call.name != EACH:
        return (_one(call), ())
    if len(call.args) > 1:
        raise errors.bad_optimizer_option(EACH, f"#{len(call.args)} (positional)",
                                          ("DEFAULT", "LEARNER"))
    default = _one(_call(call.args[0])) if call.args else _one(Call("adam"))
    return (default, tuple((n, _one(_call(v))) for n, v in call.kwargs.items()))


def _call(spec: object) -> Call:
    if isinstance(spec, str):
        spec = Name(spec)
    if isinstance(spec, Name):
        spec = Call(spec.name)
    if not isinstance(spec, Call):
        raise errors.bad_optimizer_spec(spec)
    return spec


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _one(spec: Call) -> tuple[str, tuple[tuple[str, Any], ...], Any, float | None]:
    """One optimizer's plan: ``(NAME, OPTIONS, LR, CLIP)``."""
    if spec.name not in OPTIMIZERS:
        raise errors.unknown_optimizer(spec.name, OPTIMIZERS)
    _, lr, valid = OPTIMIZERS[spec.name]
    if len(spec.args) > 1:
        raise errors.bad_optimizer_option(spec.name, f"#{len(spec.args)} (positional)", valid)
    options = {"lr": lr, **dict(zip(["lr"], spec.args, strict=False)), **spec.kwargs}
    clip = options.pop(CLIP, None)
    if clip is not None and not (_number(clip) and clip > 0):
        raise errors.bad_optimizer_value(spec.name, CLIP, clip)
    for option, value in options.items():
        if option not in valid:
            raise errors.bad_optimizer_option(spec.name, option, (*valid, CLIP))
        if not (isinstance(value, int | float) or (option == "lr" and isinstance(value, Call))):
            raise errors.bad_optimizer_value(spec.name, option, value)
    rate = options.pop("lr")
    rate = _schedule(spec.name, rate) if isinstance(rate, Call) else float(rate)
    return (spec.name, tuple(options.items()), rate,
            None if clip is None else float(clip))


def _schedule(optimizer: str, spec: Call) -> tuple[str, float, int, int, float]:
    """A schedule's plan: ``(NAME, PEAK, WARMUP, STEPS, END_OR_RATE)``."""
    if spec.name not in SCHEDULES or len(spec.args) > 1:
        raise _bad_schedule(optimizer, spec)
    names, last = SCHEDULES[spec.name]
    values = {**dict(zip(["lr"], spec.args, strict=False)), **spec.kwargs}
    if (set(values) - set(names) or not {"lr", "steps"} <= set(values)
            or not all(_number(v) for v in values.values())):
        raise _bad_schedule(optimizer, spec)
    return (spec.name, float(values["lr"]), int(values.get("warmup", 0)), int(values["steps"]),
            float(values.get(names[-1], last)) if names[-1] != "steps" else last)


def _bad_schedule(optimizer: str, spec: Call) -> errors.LowerError:
    """A schedule the settings would have refused (``taskdsl check`` says what is wrong,
    located): one of :data:`SCHEDULES`, with its ``steps``."""
    return errors.bad_optimizer_value(optimizer, "lr", show(spec))


def optimizer_of(plan: Plan) -> optax.GradientTransformation | PerLearner:
    """The optax optimizer of a plan (``OPTIMIZER``): one for every learner, or a
    ``PerLearner`` (``optax.partition`` with one label per learner) when the plan gives
    some learners their own, or clips (each learner's gradient on its own, not all
    learners' together)."""
    default, own = plan
    if not own and default[3] is None:
        return one_optimizer(default)
    return PerLearner(one_optimizer(default), {n: one_optimizer(o) for n, o in own})


def one_optimizer(opt: tuple) -> optax.GradientTransformation:
    """One optimizer of a plan: ``(NAME, OPTIONS, LR, CLIP)`` (optax's own options)."""
    name, options, lr, clip = opt
    make = {"adam": optax.adam, "adamw": optax.adamw, "sgd": optax.sgd}[name]
    inner = make(learning_rate=learning_rate_of(lr), **dict(options))
    return inner if clip is None else optax.chain(optax.clip_by_global_norm(clip), inner)


def learning_rate_of(lr: float | tuple) -> float | optax.Schedule:
    """A plan's learning rate: a number, or ``(SCHEDULE, PEAK, WARMUP, STEPS, END_OR_RATE)``
    as an optax schedule of the update count (linear warm-up from 0, then the schedule)."""
    if not isinstance(lr, tuple):
        return lr
    kind, peak, warmup, steps, last = lr
    if kind == "constant" and not warmup:
        return peak
    length = max(steps - warmup, 1)
    if kind == "cosine":
        after = optax.cosine_decay_schedule(peak, length, alpha=last / peak if peak else 0.0)
    elif kind == "exponential":
        after = optax.exponential_decay(peak, length, last)
    else:
        after = optax.constant_schedule(peak)
    if not warmup:
        return after
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), after], [warmup])
