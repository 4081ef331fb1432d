"""Lowering: from a checked objective (IR) to one differentiable JAX loss and a jitted train step.

For ``objective = Σ αᵢ · taskᵢ`` the loss is (DESIGN §5)::

    loss(θ) = Σᵢ αᵢ · mean over the batch of Σ_wires Dᵢ(lhsᵢ, rhsᵢ)

How the IR becomes that function:

* ``lower`` turns every equation into a *plan*: a straight list of steps, one
  per box, with the boxes that both sides share (a draw, a ``let``; same id on
  both sides) listed once, so they are computed once and both sides see the
  same sample.  Copies alias their input wire; discards compute nothing.  All
  Python loops run while tracing; the jitted step is straight-line XLA.
* Each equation runs on ``routing.route(params, trains)``: learners it does not
  train get their *parameters* behind ``stop_gradient``, so gradient still
  flows through them to the learners upstream.  One ``jax.value_and_grad`` over
  the total gives each parameter the sum over the equations that train it.
* Data draws read raw arrays from ``batch[f"{equation_index}/{box_id}"]``
  (see ``data_requests``) and put them on wires with ``Value.from_data``.
  Random boxes (random sources, ``sample``) draw from
  ``fold_in(fold_in(key, equation_index), box_id)``: reproducible from the key,
  independent across draws, identical on both sides of an equation.
* Learners emit logits for ``Class``/``Binary``/``Tokens``; ``Value`` keeps
  them for the divergence and passes probabilities downstream.

Loaded models (``impl get = load("runs/clf")``, ``learner = "name"`` when the run
calls it otherwise): the run is read back with ``runs.load_run``, and ``get``
takes that run's net and its latest checkpoint's parameters.  It is *frozen*:
no equation trains it (it is left out of every equation's ``trains`` and of
``Lowered.trained``, so it gets no gradient and no optimizer state, and runs
behind ``stop_gradient`` on its parameters), while gradient still flows through
it to the learners upstream.  A ``trains`` clause that names it is an error; a
default ``trains`` (every learner in the equation) silently leaves it out.  A
``fixed`` box is implemented the same way and only so.  Relative run paths are
read from the current directory, like ``taskdsl train --out``.

Default architectures, for a learner without an ``impl`` line: the first of
``unet`` (image and conditioning to an image of the same size), ``cnn`` (image
to vectors), ``conv_decoder`` (vectors to an image), ``text_editor``,
``text_encoder``, ``text_decoder``, ``mlp`` (anything with inputs) that accepts
the learner's type, with that net's default options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from taskdsl.ir import Box, BoxKind, Call, Declaration, Equation, Name, Objective, Program
from taskdsl.queries import (
    LOAD,
    DataRequest,
    data_requests,
    draw_key,
    metric_names,
    trained_learners,
    unique_boxes,
    with_params,
)
from taskdsl.types import Signature, WireType

from ..evaluation.errors import EvalError
from ..nets import NETS, NetError, build
from ..training.errors import TrainError
from . import errors
from .builtins import BUILTINS
from .divergences import Divergence, divergence
from .errors import LowerError
from .routing import route
from .step import train_step
from .values import Value

__all__ = [
    "DEFAULT_NETS",
    "OPTIMIZERS",
    "DataRequest",
    "LowerError",
    "Lowered",
    "data_requests",
    "find_objective",
    "lower",
    "make_train_step",
    "metric_names",
    "optimizer_from_spec",
    "trained_learners",
]

Params = dict[str, nnx.State]
Batch = Mapping[str, tuple[jax.Array, ...]]


# Tried in order for a learner without `impl`: the first whose `accepts` fits its type.
DEFAULT_NETS = ("unet", "cnn", "conv_decoder", "text_editor", "text_encoder", "text_decoder",
                "mlp")




# ---------------------------------------------------------------------------
# Plans: one equation as straight-line steps over wire ids.


@dataclass(frozen=True)
class _Context:
    """What a step may read while one equation is traced."""

    params: Mapping[str, Any]  # routed for this equation
    batch: Batch
    key: jax.Array  # already folded with the equation index
    batch_size: int


Op = Callable[[_Context, tuple[Value, ...]], tuple[Value, ...]]


@dataclass(frozen=True)
class _Step:
    op: Op
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class _Plan:
    """One term of the objective, ready to trace."""

    name: str  # its metric name (the equation's name, made unique)
    index: int
    weight: float
    trains: frozenset[str]
    steps: tuple[_Step, ...]
    lhs: tuple[int, ...]
    rhs: tuple[int, ...]
    divergences: tuple[Divergence, ...]

    def value(self, params: Mapping[str, Any], batch: Batch, key: jax.Array,
              batch_size: int) -> jax.Array:
        """This equation's own (unweighted) loss: mean over the batch of its summed divergences."""
        ctx = _Context(route(params, self.trains), batch, jax.random.fold_in(key, self.index),
                       batch_size)
        wires: dict[int, Value] = {}
        for step in self.steps:
            outputs = step.op(ctx, tuple(wires[w] for w in step.inputs))
            wires.update(zip(step.outputs, outputs, strict=True))
        per_example = sum(d(wires[lw], wires[rw])
                          for d, lw, rw in zip(self.divergences, self.lhs, self.rhs, strict=True))
        return jnp.mean(per_example)





def _copy_op(n: int) -> Op:
    """A copy's ``n`` outputs carry its input's value (the same arrays, not new ones)."""

    def op(ctx: _Context, inputs: tuple[Value, ...]) -> tuple[Value, ...]:
        return inputs * n

    return op


def _data_op(key: str, source: str, types: tuple[WireType, ...]) -> Op:
    def op(ctx: _Context, inputs: tuple[Value, ...]) -> tuple[Value, ...]:
        if key not in ctx.batch:
            raise errors.missing_draw(key, source, ctx.batch)
        arrays = ctx.batch[key]
        if len(arrays) != len(types):
            raise errors.wrong_draw_arity(key, source, len(types), len(arrays))
        return tuple(Value.from_data(a, t) for a, t in zip(arrays, types, strict=True))

    return op


def _builtin_op(name: str, params: tuple, box_id: int, types: tuple[WireType, ...]) -> Op:
    builtin = BUILTINS[name]

    def op(ctx: _Context, inputs: tuple[Value, ...]) -> tuple[Value, ...]:
        key = jax.random.fold_in(ctx.key, box_id) if builtin.needs_key else None
        batch = ctx.batch_size if builtin.is_source else None
        return builtin(inputs, params, key, types, batch=batch)

    return op


def _learner_op(learner: _Learner, types: tuple[WireType, ...]) -> Op:
    def op(ctx: _Context, inputs: tuple[Value, ...]) -> tuple[Value, ...]:
        outputs = learner.apply(ctx.params[learner.name], *(v.array for v in inputs))
        return tuple(Value.from_learner(o, t) for o, t in zip(outputs, types, strict=True))

    return op


def _step(box: Box, types: tuple[WireType, ...], index: int,
          learners: Mapping[str, _Learner]) -> _Step | None:
    """The step that computes ``box`` (output wires of ``types``), or ``None`` for a discard."""
    match box.kind:
        case BoxKind.DISCARD:
            return None
        case BoxKind.COPY:
            op = _copy_op(len(box.outputs))
        case BoxKind.LEARNER | BoxKind.FIXED:  # a fixed box is a loaded model
            op = _learner_op(learners[box.name], types)
        case BoxKind.DATA:
            op = _data_op(draw_key(index, box), box.name, types)
        case BoxKind.RANDOM:
            op = _builtin_op(box.params[0], (), box.id, types)
        case BoxKind.CONST:
            op = _builtin_op("const", box.params, box.id, types)
        case _:  # BoxKind.BUILTIN
            op = _builtin_op(box.name, box.params, box.id, types)
    return _Step(op, box.inputs, box.outputs)


def _plan(name: str, index: int, weight: float, equation: Equation,
          learners: Mapping[str, _Learner]) -> _Plan:
    """``equation`` as straight-line steps; it trains its ``trains`` less any loaded learner."""
    wires = {**equation.lhs.wires, **equation.rhs.wires}
    steps = (_step(b, tuple(wires[w].type for w in b.outputs), index, learners)
             for b in unique_boxes(equation))
    trains = frozenset(n for n in equation.trains if learners[n].loaded is None)
    return _Plan(
        name=name, index=index, weight=weight, trains=trains,
        steps=tuple(s for s in steps if s is not None),
        lhs=equation.lhs.outputs, rhs=equation.rhs.outputs,
        divergences=tuple(divergence(d) for d in equation.divergences),
    )


# ---------------------------------------------------------------------------
# Learners: an `impl` line to a Flax NNX module, split into graphdef and state.


@dataclass(frozen=True)
class _Loaded:
    """Where a frozen learner was loaded from (for messages), and the parameters it keeps."""

    run: Path
    learner: str  # its name in that run
    params: nnx.State


@dataclass(frozen=True)
class _Learner:
    """A learner's net: its name and options, and the graph its states plug into.

    ``loaded`` is set for a learner (or fixed box) implemented by ``load(...)``:
    its parameters are the loaded ones, never initialised or trained.
    """

    name: str
    signature: Signature
    net: str
    options: Mapping[str, Any]
    graphdef: nnx.GraphDef
    loaded: _Loaded | None = None

    def build(self, key: jax.Array) -> nnx.Module:
        return build(self.net, self.signature.inputs, self.signature.outputs, self.options,
                     nnx.Rngs(key))

    def apply(self, state: nnx.State, *arrays: jax.Array) -> tuple[jax.Array, ...]:
        return nnx.merge(self.graphdef, state)(*arrays)


def as_call(name: str, impl: object) -> Call:
    """An ``impl`` value as a call: a bare name (or string) is a call without options."""
    if isinstance(impl, str):
        impl = Name(impl)
    if isinstance(impl, Name):
        impl = Call(impl.name)
    if not isinstance(impl, Call):
        raise errors.impl_not_a_net(name, impl)
    return impl


def _net_of(name: str, signature: Signature, impl: Call | None) -> tuple[str, dict[str, Any]]:
    """The net name and options an ``impl`` call asks for, or the default for the signature."""
    if impl is None:
        default = next((n for n in DEFAULT_NETS
                        if NETS[n].accepts(signature.inputs, signature.outputs)), None)
        if default is None:
            raise errors.no_default_impl(name, signature)
        return default, {}
    if impl.args:
        raise errors.impl_positional(name, impl.name)
    return impl.name, dict(impl.kwargs)


def _learner(declaration: Declaration, impl: object) -> _Learner:
    """Resolve and check a learner's net by building it abstractly (shapes only, no FLOPs),
    or load it from a run; a fixed box can only be loaded."""
    name, signature = declaration.name, declaration.signature
    call = None if impl is None else as_call(name, impl)
    if call is not None and call.name == LOAD:
        return _loaded_learner(name, signature, call)
    if declaration.kind is BoxKind.FIXED:
        raise errors.fixed_needs_load(name, signature)
    net, options = _net_of(name, signature, call)

    def make() -> nnx.Module:
        return build(net, signature.inputs, signature.outputs, options, nnx.Rngs(0))

    try:
        graphdef, _ = nnx.split(nnx.eval_shape(make))
    except NetError as e:
        raise errors.impl_does_not_fit(name, signature, net, str(e)) from e
    return _Learner(name, signature, net, options, graphdef)


def load_arguments(name: str, call: Call) -> tuple[Path, str]:
    """The run folder and the run's learner that ``load(...)`` names; the learner's name
    defaults to ``name``, the one being implemented."""
    if len(call.args) > 1 or (call.args and "path" in call.kwargs):
        raise errors.bad_load(name, "give the run folder once")
    options = {**dict(zip(("path",), call.args, strict=False)), **call.kwargs}
    unknown = sorted(set(options) - {"path", "learner"})
    if unknown:
        raise errors.bad_load(name, f"unknown option `{unknown[0]}`")
    path, learner = options.get("path"), options.get("learner", name)
    if not isinstance(path, str) or not path:
        raise errors.bad_load(name, "the run folder must be given as a string")
    if not isinstance(learner, str):
        raise errors.bad_load(name, "`learner` must be a string")
    return Path(path), learner


def _loaded_learner(name: str, signature: Signature, call: Call) -> _Learner:
    """``name`` as the learner a trained run saved: that run's net and its latest
    checkpoint's parameters, checked against ``name``'s declared signature."""
    from ..training.runs import load_run  # runs.py lowers the runs it loads, so it imports this module

    path, source = load_arguments(name, call)
    try:
        run = load_run(path)
    except (EvalError, TrainError, LowerError, NetError) as error:
        raise errors.load_failed(name, path, str(error)) from None
    found = run.lowered._learners.get(source)
    if found is None:
        raise errors.load_no_learner(name, path, source, run.lowered.learner_names)
    if found.signature != signature:
        raise errors.load_wrong_signature(name, signature, path, source, found.signature)
    return _Learner(name, signature, found.net, found.options, found.graphdef,
                    _Loaded(path, source, run.params[source]))


def _check_trains(objective: Objective, learners: Mapping[str, _Learner]) -> None:
    """Refuse a ``trains`` clause that names a loaded learner: it cannot be trained."""
    for term in objective.terms:
        equation = term.equation
        if not equation.trains_named:
            continue  # a default `trains` just leaves loaded learners out (see `_plan`)
        for name in equation.trains:
            loaded = learners[name].loaded
            if loaded is not None:
                raise errors.trains_loaded(equation.name, name, loaded.run)


# ---------------------------------------------------------------------------
# The lowered objective.


class Lowered:
    """An objective lowered to JAX: ``init`` its learners, evaluate its ``loss``, ``apply`` one.

    Every method is a pure function of its arguments, safe to call under
    ``jax.jit`` (``batch_size`` static).  ``learner_names`` are the boxes with
    parameters: the learners, then any fixed box (a loaded model).  ``trained``
    lists the learners some equation trains; the others are constants of the
    objective.  ``loaded`` maps each learner or fixed box implemented by
    ``load(...)`` to its run folder; those are never trained.  ``impls`` says
    which net (with which options) implements each, defaults and loaded nets
    included, for logs and run records.
    """

    def __init__(self, objective: Objective, learners: Mapping[str, _Learner],
                 plans: tuple[_Plan, ...], requests: tuple[DataRequest, ...]) -> None:
        self.objective = objective
        self.learner_names: tuple[str, ...] = tuple(learners)
        self.loaded: dict[str, Path] = {
            n: lr.loaded.run for n, lr in learners.items() if lr.loaded is not None}
        self.trained = tuple(n for n in trained_learners(objective) if n not in self.loaded)
        self.task_names: tuple[str, ...] = tuple(p.name for p in plans)
        self.impls: dict[str, Call] = {
            n: Call(lr.net, (), dict(lr.options)) for n, lr in learners.items()}
        self._learners = dict(learners)
        self._plans = plans
        self._requests = requests
        self._apply = jax.jit(self._apply_one, static_argnums=0)
        self._init = jax.jit(self._init_all)

    def data_requests(self) -> tuple[DataRequest, ...]:
        """One request per draw of a data source; ``loss`` reads ``batch[request.key]``."""
        return self._requests

    def init(self, key: jax.Array) -> Params:
        """Fresh parameters for every learner, each from ``key`` folded with its position;
        a loaded learner's are a copy of the loaded ones.

        Jitted: one compilation for all initializers instead of one per op.  The
        copy keeps the loaded arrays alive when a train step donates these.
        """
        fresh = self._init(key)
        return {name: fresh[name] if lr.loaded is None else jax.tree.map(jnp.copy, lr.loaded.params)
                for name, lr in self._learners.items()}

    def _init_all(self, key: jax.Array) -> Params:
        return {name: nnx.split(learner.build(jax.random.fold_in(key, i)))[1]
                for i, (name, learner) in enumerate(self._learners.items())
                if learner.loaded is None}

    def loss(self, params: Params, batch: Batch, key: jax.Array, batch_size: int
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The weighted total, and each task's own unweighted value keyed by its metric name."""
        values = {p.name: p.value(params, batch, key, batch_size) for p in self._plans}
        return sum(p.weight * values[p.name] for p in self._plans), values

    def apply(self, learner: str, params: Params, *arrays: jax.Array) -> tuple[jax.Array, ...]:
        """Run one learner (jitted) on wire arrays; categorical outputs come back as logits."""
        if learner not in self._learners or learner not in params:
            raise errors.unknown_learner(learner, self._learners)
        return self._apply(learner, params[learner], *arrays)

    def _apply_one(self, learner: str, state: nnx.State, *arrays: jax.Array
                   ) -> tuple[jax.Array, ...]:
        return self._learners[learner].apply(state, *arrays)


def find_objective(program: Program, name: str | None) -> Objective:
    """``program.objective(name)``, with a ``LowerError`` listing the names when there is none."""
    try:
        return program.objective(name)
    except (KeyError, StopIteration):
        raise errors.unknown_objective(
            str(name), [*program.objectives, *program.tasks]) from None





def lower(program: Program, objective: str | None = None,
          impls: Mapping[str, object] | None = None) -> Lowered:
    """Lower ``objective`` (default: the program's last) with ``impls`` over the file's ``impl``s.

    Raises ``LowerError`` for what cannot be implemented: a learner without
    ``impl`` and no default, an ``impl`` that does not fit its learner, a
    ``load(...)`` that cannot be loaded or does not fit, a ``trains`` clause
    naming a loaded learner, a fixed box not loaded, an unknown objective.
    """
    target = find_objective(program, objective)
    chosen = {**program.impls, **(impls or {})}
    learners = {name: _learner(program.declarations[name], chosen.get(name))
                for name in with_params(target)}
    _check_trains(target, learners)
    names = metric_names(target)
    plans = tuple(_plan(names[i], i, float(t.weight), t.equation, learners)
                  for i, t in enumerate(target.terms))
    return Lowered(target, learners, plans, data_requests(program, target))


# ---------------------------------------------------------------------------
# Training.


def _batch_size(batch: Batch) -> int:
    leaves = jax.tree.leaves(batch)
    if not leaves:
        raise errors.no_batch_size()
    return int(leaves[0].shape[0])


def make_train_step(lowered: Lowered, optimizer: optax.GradientTransformation, *,
                    donate: bool = True, batch_size: int | None = None
                    ) -> tuple[Callable[[Params], optax.OptState], Callable]:
    """``(init_opt_state, step)`` where ``step(params, opt_state, batch, key)`` is one ``jax.jit``.

    One ``value_and_grad`` over the learners some equation trains (the others
    pass through untouched and report a gradient norm of 0), one optimizer
    update, no host syncs; see ``step.train_step``.  With ``donate`` the old
    params and optimizer state buffers are reused for the new ones.
    ``batch_size`` is read from the batch unless the objective has no data draws.
    """

    def loss(params: Params, batch: Batch, key: jax.Array
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        size = batch_size if batch_size is not None else _batch_size(batch)
        return lowered.loss(params, batch, key, size)

    return train_step(loss, lowered.learner_names, lowered.trained, optimizer, donate=donate)


# The optimizers a `train` block may name: constructor, default learning rate, options.
OptimizerEntry = tuple[Callable[..., optax.GradientTransformation], float, tuple[str, ...]]
OPTIMIZERS: dict[str, OptimizerEntry] = {
    "adam": (optax.adam, 1e-3, ("lr", "b1", "b2", "eps")),
    "adamw": (optax.adamw, 1e-3, ("lr", "b1", "b2", "eps", "weight_decay")),
    "sgd": (optax.sgd, 1e-2, ("lr", "momentum", "nesterov")),
}


def optimizer_from_spec(spec: Call | Name | str) -> optax.GradientTransformation:
    """The optax optimizer a ``train`` block names: ``adam(lr = 1e-3)``, ``adamw``, ``sgd``.

    ``lr`` is the learning rate (also accepted as the one positional argument);
    other options keep optax's names.
    """
    if isinstance(spec, str):
        spec = Name(spec)
    if isinstance(spec, Name):
        spec = Call(spec.name)
    if not isinstance(spec, Call):
        raise errors.bad_optimizer_spec(spec)
    if spec.name not in OPTIMIZERS:
        raise errors.unknown_optimizer(spec.name, OPTIMIZERS)
    make, lr, valid = OPTIMIZERS[spec.name]
    if len(spec.args) > 1:
        raise errors.bad_optimizer_option(spec.name, f"#{len(spec.args)} (positional)", valid)
    options = {"lr": lr, **dict(zip(["lr"], spec.args, strict=False)), **spec.kwargs}
    for option, value in options.items():
        if option not in valid:
            raise errors.bad_optimizer_option(spec.name, option, valid)
        if not isinstance(value, int | float):
            raise errors.bad_optimizer_value(spec.name, option, value)
    options["learning_rate"] = options.pop("lr")
    return make(**options)
