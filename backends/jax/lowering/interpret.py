"""The one interpreter of the IR: every box kind's meaning, as straight-line calls.

A diagram (an equation's two sides, or a refined learner's diagram) becomes a
:class:`Plan`: one :class:`Step` per box that computes something, each a call
of a plain JAX function (a builtin of ``builtins.py``, a wire conversion of
``values.py``, a learner's ``apply``) on the values of earlier steps.  The
meaning of every box kind is decided here and only here (:func:`plan_boxes`):

* ``learner`` and ``fixed``: ``apply[name](params[name], *inputs)``, one array
  per output; on ``Class``/``Tokens``/``Binary`` wires that array is the logits,
  kept for the divergences, and a second step turns them into probabilities.
* ``builtin``: the builtin's function; ``random`` the builtin its
  distribution names; ``const`` the ``const`` builtin.  Random boxes draw from
  ``fold_in(key, box_id)``.  In :attr:`Mode.EVAL` a ``train_only`` builtin
  (``drop``) is the identity.
* ``data``: the batch's arrays at ``draw_key(equation, box)``, converted to the
  wire's representation (``values.real``, ``values.categorical``).
* ``copy``: its outputs are its input's value (no step); ``discard``: nothing.

Two things read a plan: :func:`execute` runs it on arrays (``Lowered.loss``
while tracing, ``Run.call`` on a refinement), and ``compile.py`` writes it as
Python source, one line per step, calling the same functions, whose source it
copies verbatim.  So training, loaded runs and exported modules cannot differ.
Every Python loop here runs while tracing: the jitted step is straight-line XLA.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jax
import jax.numpy as jnp

from taskdsl.builtins import DIVERGENCE_PARAMS, SCALAR, is_user_divergence
from taskdsl.ir import Box, BoxKind, Diagram, Equation
from taskdsl.queries import draw_key, unique_boxes
from taskdsl.types import WireType

from . import errors
from .builtins import BUILTINS
from .divergences import check_sides, function, input_slope, user_value
from .routing import route
from .values import CATEGORICAL_KINDS, SQUASH, categorical, check_shape, real


class Mode(StrEnum):
    """Training (a loss, a train step) or inference (``Run.call``, ``eval``, ``manipulate``):
    at inference ``drop`` is the identity, and ``sample`` still draws."""

    TRAIN = "train"
    EVAL = "eval"


# ---------------------------------------------------------------------------
# Plans: what a step reads and writes.

VALUE, LOGITS = "value", "logits"
Slot = tuple[int, str]  # (wire id, VALUE or LOGITS)


@dataclass(frozen=True)
class Ref:
    """The array in a slot: a wire's value, or the logits a learner gave it."""

    slot: Slot


@dataclass(frozen=True)
class KeyOf:
    """The PRNG key of a random box: ``fold_in(key, box)``."""

    box: int


@dataclass(frozen=True)
class BatchSize:
    """The batch size, which sources need."""


@dataclass(frozen=True)
class Literal:
    """A static argument: a builtin's parameter, a class count, a shape."""

    value: Any


@dataclass(frozen=True)
class ParamsOf:
    """The (routed) parameters of a learner or fixed box."""

    name: str


@dataclass(frozen=True)
class DrawOf:
    """The raw arrays of one data draw: ``batch[key]``, ``count`` of them."""

    key: str
    source: str
    count: int


@dataclass(frozen=True)
class ApplyOf:
    """A learner's apply function as an argument (``by slope`` differentiates it)."""

    name: str


Arg = Ref | KeyOf | BatchSize | Literal | ParamsOf | DrawOf | ApplyOf


@dataclass(frozen=True)
class Apply:
    """A learner's (or fixed box's) apply function, given by the caller."""

    name: str


@dataclass(frozen=True)
class Step:
    """``outputs = fn(*args, **kwargs)``.  ``fn`` is a plain function, a learner's
    :class:`Apply` (returning a tuple), or ``None`` for unpacking a draw; ``box`` is the
    box it computes (for comments and messages), ``what`` names its outputs in messages."""

    fn: Callable[..., Any] | Apply | None
    args: tuple[Arg, ...]
    outputs: tuple[Slot, ...]
    box: Box
    kwargs: tuple[tuple[str, Any], ...] = ()
    what: str = "a box's output"


@dataclass(frozen=True)
class Plan:
    """Straight-line steps, and where each wire's value (and logits, if any) ends up."""

    steps: tuple[Step, ...]
    slots: Mapping[int, tuple[Slot, Slot | None]]  # wire -> (value slot, logits slot)
    types: Mapping[int, WireType]
    used: frozenset[int]  # wires some step or output reads

    def value(self, wire: int) -> Slot:
        return self.slots[wire][0]

    def logits(self, wire: int) -> Slot | None:
        return self.slots[wire][1]


@dataclass(frozen=True)
class Term:
    """One compared wire of an equation: ``fn(lhs, rhs, lhs_logits, rhs_logits)``."""

    name: str  # as written after `by`
    fn: Callable[..., jax.Array]
    lhs: int
    rhs: int
    # The divergence's keyword arguments (``infonce``'s temperature).
    kwargs: tuple[tuple[str, Any], ...] = ()
    # A user's divergence by dotted path (``mypkg.losses:huber``): called ``fn(lhs, rhs)``.
    path: str | None = None

    def value(self, lhs: Any, rhs: Any, lhs_logits: Any, rhs_logits: Any) -> jax.Array:
        """The per-example ``(B,)`` divergence of the two sides' arrays."""
        if self.path is not None:
            return user_value(self.path, self.fn, lhs, rhs)
        return self.fn(lhs, rhs, lhs_logits, rhs_logits, **dict(self.kwargs))


@dataclass(frozen=True)
class EquationPlan:
    """One term of an objective, ready to run or to write out."""

    name: str  # its metric name (the equation's name, made unique)
    index: int
    weight: float
    trains: tuple[str, ...]  # the equation's `trains` less the frozen boxes
    plan: Plan
    terms: tuple[Term, ...]
    equation: Equation


# ---------------------------------------------------------------------------
# Planning: every box kind's meaning.


def plan_boxes(boxes: tuple[Box, ...], wires: Mapping[int, Any], *, inputs: tuple[int, ...] = (),
               outputs: tuple[int, ...] = (), index: int | None = None,
               mode: Mode = Mode.TRAIN) -> Plan:
    """``boxes`` (producers first) as steps.  ``inputs`` are wires bound before the first
    step; ``index`` is the equation's position in its objective (for draw keys), ``None``
    where the diagram draws no data; ``wires`` maps ids to IR wires."""
    types = {w: wire.type for w, wire in wires.items()}
    consumed = (w for b in boxes if b.kind is not BoxKind.DISCARD for w in b.inputs)
    used = frozenset({*consumed, *outputs})
    slots: dict[int, tuple[Slot, Slot | None]] = {w: ((w, VALUE), None) for w in inputs}
    steps: list[Step] = []
    for box in boxes:
        steps.extend(_box(box, types, slots, used, index, mode))
    return Plan(tuple(steps), slots, types, used)


def _box(box: Box, types: Mapping[int, WireType], slots: dict[int, tuple[Slot, Slot | None]],
         used: frozenset[int], index: int | None, mode: Mode) -> list[Step]:
    """The steps of one box, recording where its outputs' values land in ``slots``."""
    out_types = [types[w] for w in box.outputs]
    values = tuple(Ref(slots[w][0]) for w in box.inputs)
    match box.kind:
        case BoxKind.DISCARD:
            return []
        case BoxKind.COPY:
            slots.update((w, slots[box.inputs[0]]) for w in box.outputs)
            return []
        case BoxKind.LEARNER | BoxKind.FIXED:  # a fixed box is a loaded model
            return _learner(box, out_types, values, slots)
        case BoxKind.DATA:
            if index is None:
                raise errors.draw_outside_equation(box.name)
            return _draw(box, out_types, index, slots, used)
        case BoxKind.RANDOM:
            name, params = box.distribution or "", ()
        case BoxKind.CONST:
            name, params = "const", (box.value,)
        case _:  # BoxKind.BUILTIN
            name, params = box.name, box.params
    builtin = BUILTINS.get(name)
    if builtin is None:
        raise errors.unknown_builtin(name, BUILTINS)
    (wire,), (out_type,) = box.outputs, out_types
    if mode is Mode.EVAL and builtin.train_only:  # the identity at inference
        slots[wire] = slots[box.inputs[0]]
        return []
    builtin.check(params, out_type)
    args, kwargs = builtin.arguments(KeyOf(box.id), BatchSize(), values,
                                     tuple(Literal(p) for p in params), out_type)
    slots[wire] = ((wire, VALUE), None)
    return [Step(builtin.fn, args, ((wire, VALUE),), box, tuple(kwargs.items()))]


def _learner(box: Box, out_types: list[WireType], inputs: tuple[Ref, ...],
             slots: dict[int, tuple[Slot, Slot | None]]) -> list[Step]:
    """``apply[name](params[name], *inputs)``, then probabilities from logits where a kind
    has them."""
    raw: list[Slot] = []
    squash: list[Step] = []
    for wire, t in zip(box.outputs, out_types, strict=True):
        fn = SQUASH.get(t.kind)
        if fn is None:
            raw.append((wire, VALUE))
            slots[wire] = ((wire, VALUE), None)
            continue
        raw.append((wire, LOGITS))
        slots[wire] = ((wire, VALUE), (wire, LOGITS))
        squash.append(Step(fn, (Ref((wire, LOGITS)),), ((wire, VALUE),), box))
    call = Step(Apply(box.name), (ParamsOf(box.name), *inputs), tuple(raw), box,
                what="a learner's output")
    return [call, *squash]


def _draw(box: Box, out_types: list[WireType], index: int,
          slots: dict[int, tuple[Slot, Slot | None]], used: frozenset[int]) -> list[Step]:
    """The batch's arrays for this draw, each used one converted to its wire's values."""
    outputs = tuple((w, VALUE) for w in box.outputs)
    steps = [Step(None, (DrawOf(draw_key(index, box), box.name, len(box.outputs)),), outputs,
                  box, what="data")]
    for wire, t in zip(box.outputs, out_types, strict=True):
        slots[wire] = ((wire, VALUE), None)
        if wire not in used:
            continue
        if t.kind in CATEGORICAL_KINDS:
            steps.append(Step(categorical, (Ref((wire, VALUE)), Literal(t.value_shape[-1])),
                              ((wire, VALUE),), box, what="data"))
        else:
            steps.append(Step(real, (Ref((wire, VALUE)),), ((wire, VALUE),), box, what="data"))
    return steps


def plan_equation(name: str, index: int, weight: float, equation: Equation,
                  trains: tuple[str, ...], mode: Mode = Mode.TRAIN) -> EquationPlan:
    """``equation`` as one plan over both sides, each box both sides share computed once;
    in ``Mode.EVAL`` (held-out values) its train-only boxes are the identity."""
    wires = {**equation.lhs.wires, **equation.rhs.wires}
    sides = (*equation.lhs.outputs, *equation.rhs.outputs)
    plan = plan_boxes(unique_boxes(equation), wires, outputs=sides, index=index, mode=mode)
    terms = []
    for i, (divergence, lw, rw) in enumerate(zip(equation.divergences, equation.lhs.outputs,
                                                 equation.rhs.outputs, strict=True)):
        lt, rt = plan.types[lw], plan.types[rw]
        if is_user_divergence(divergence):
            terms.append(Term(divergence, function(divergence, lt.kind), lw, rw,
                              path=divergence))
            continue
        check_sides(divergence, lt, rt)
        if divergence == "kl" and equation.params_of(i):
            plan, lw, rw = _tempered(plan, (lw, rw), equation.params_of(i)[0], equation)
        if divergence == "slope":
            plan, lw = _slope(plan, lw, equation)
        kwargs = ()
        if divergence in DIVERGENCE_PARAMS and divergence != "kl":
            meaning, default = DIVERGENCE_PARAMS[divergence]
            kwargs = ((meaning, (equation.params_of(i) or (default,))[0]),)
        terms.append(Term(divergence, function(divergence, lt.kind), lw, rw, kwargs))
    return EquationPlan(name, index, weight, trains, plan, tuple(terms), equation)


def _tempered(plan: Plan, sides: tuple[int, int], temperature: float,
              equation: Equation) -> tuple[Plan, int, int]:
    """``by kl[T]``: each side that has logits (a learner's output) compared through
    ``softmax(logits / T)``, as steps of the plan (``scale`` then the wire's softmax) on
    fresh wires, so that the compiled module writes them as it writes any step."""
    if temperature == 1:
        return plan, *sides
    steps, slots, types = list(plan.steps), dict(plan.slots), dict(plan.types)
    boxes = {**equation.lhs.producers, **equation.rhs.producers}
    fresh = max(types) + 1
    out = []
    for wire in sides:
        logits = plan.logits(wire)
        if logits is None:
            out.append(wire)
            continue
        box, squash = boxes[wire], SQUASH[types[wire].kind]
        tempered = (fresh, LOGITS)
        steps.append(Step(BUILTINS["scale"].fn, (Ref(logits), Literal(1.0 / temperature)),
                          (tempered,), box, what="tempered logits"))
        steps.append(Step(squash, (Ref(tempered),), ((fresh, VALUE),), box))
        slots[fresh], types[fresh] = ((fresh, VALUE), tempered), types[wire]
        out.append(fresh)
        fresh += 1
    used = plan.used | frozenset(out)
    return Plan(tuple(steps), slots, types, used), out[0], out[1]


def _slope(plan: Plan, wire: int, equation: Equation) -> tuple[Plan, int]:
    """``by slope``: the lhs ``f(w)`` compared through ``‖∂f(w)/∂w‖``, a step of the plan
    on a fresh ``Real[1]`` wire (the checker made sure ``f`` is one learner of one input)."""
    box = equation.lhs.producers[wire]
    steps, slots, types = list(plan.steps), dict(plan.slots), dict(plan.types)
    fresh = max(types) + 1
    steps.append(Step(input_slope, (ApplyOf(box.name), ParamsOf(box.name),
                                    Ref(plan.value(box.inputs[0]))),
                      ((fresh, VALUE),), box, what="the slope"))
    slots[fresh], types[fresh] = ((fresh, VALUE), None), SCALAR
    return Plan(tuple(steps), slots, types, plan.used | {fresh}), fresh


def plan_diagram(diagram: Diagram, mode: Mode = Mode.EVAL) -> Plan:
    """A refined learner's diagram, from its input wires to its output wires."""
    return plan_boxes(diagram.boxes, diagram.wires, inputs=diagram.inputs,
                      outputs=diagram.outputs, mode=mode)


# ---------------------------------------------------------------------------
# Running a plan on arrays.

Batch = Mapping[str, tuple[jax.Array, ...]]
ApplyFn = Callable[..., tuple[jax.Array, ...]]


@dataclass(frozen=True)
class Context:
    """What a plan's steps read besides earlier steps: learners, parameters, data, a key."""

    apply: Mapping[str, ApplyFn]
    params: Mapping[str, Any]
    key: jax.Array | None
    batch_size: int
    batch: Batch | None = None

    def arg(self, arg: Arg, env: Mapping[Slot, Any]) -> Any:
        match arg:
            case Ref(slot):
                return env[slot]
            case KeyOf(box):
                return jax.random.fold_in(self.key, box)
            case BatchSize():
                return self.batch_size
            case Literal(value):
                return value
            case ParamsOf(name):
                return self.params[name]
            case ApplyOf(name):
                return self.apply[name]
            case DrawOf(key, source, count):
                batch = self.batch or {}
                if key not in batch:
                    raise errors.missing_draw(key, source, batch)
                if len(batch[key]) != count:
                    raise errors.wrong_draw_arity(key, source, count, len(batch[key]))
                return tuple(batch[key])
        raise TypeError(f"not a step argument: {arg!r}")


def execute(plan: Plan, context: Context, env: dict[Slot, Any] | None = None
            ) -> dict[Slot, Any]:
    """Run ``plan``'s steps on ``env`` (the input wires' slots); every slot afterwards.

    Each output's shape is checked against its wire as it is made, at trace time.
    """
    env = dict(env or {})
    for step in plan.steps:
        args = [context.arg(a, env) for a in step.args]
        if step.fn is None:
            results = args[0]
        elif isinstance(step.fn, Apply):
            results = tuple(context.apply[step.fn.name](*args))
        else:
            results = (step.fn(*args, **dict(step.kwargs)),)
        for slot, result in zip(step.outputs, results, strict=True):
            _check(step, slot, result, plan.types[slot[0]])
            env[slot] = result
    return env


def _check(step: Step, slot: Slot, array: Any, wire_type: WireType) -> None:
    """A step's output must fit its wire: a batch of the wire's value shape (a draw's class
    indices: without the class axis)."""
    array = jnp.asarray(array)
    shape = wire_type.value_shape
    if step.fn is None and wire_type.kind in CATEGORICAL_KINDS and jnp.issubdtype(
            array.dtype, jnp.integer):
        check_shape(array, shape[:-1], wire_type, "class indices")
    else:
        check_shape(array, shape, wire_type, step.what)


def equation_value(equation: EquationPlan, context: Context) -> jax.Array:
    """One equation's own (unweighted) loss: the mean over the batch of its summed
    divergences, its learners outside ``trains`` behind ``stop_gradient``."""
    routed = Context(context.apply, route(context.params, equation.trains),
                     jax.random.fold_in(context.key, equation.index), context.batch_size,
                     context.batch)
    env = execute(equation.plan, routed)
    plan = equation.plan

    def logits(wire: int) -> Any:
        slot = plan.logits(wire)
        return None if slot is None else env[slot]

    per_example = [t.value(env[plan.value(t.lhs)], env[plan.value(t.rhs)], logits(t.lhs),
                           logits(t.rhs)) for t in equation.terms]
    return jnp.mean(sum(per_example[1:], per_example[0]))


def diagram_outputs(diagram: Diagram, plan: Plan, context: Context,
                    inputs: tuple[jax.Array, ...]) -> tuple[tuple[jax.Array, jax.Array | None], ...]:
    """A refined learner's outputs on ``inputs``: each output wire's value and logits."""
    env = execute(plan, context, {(w, VALUE): a for w, a in zip(diagram.inputs, inputs,
                                                               strict=True)})
    return tuple((env[plan.value(w)], None if plan.logits(w) is None else env[plan.logits(w)])
                 for w in diagram.outputs)
