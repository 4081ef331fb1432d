"""Lowering: from a checked objective (IR) to one differentiable JAX loss and a jitted train step.

For ``objective = Σ αᵢ · taskᵢ`` the loss is (docs/design.md, "Dynamic semantics")::

    loss(θ) = Σᵢ αᵢ · mean over the batch of Σ_wires Dᵢ(lhsᵢ, rhsᵢ)

How the IR becomes that function:

* ``lower`` turns every equation into a plan (``interpret.plan_equation``): a
  straight list of steps, one per box, with the boxes that both sides share (a
  draw, a ``let``; same id on both sides) listed once, so they are computed once
  and both sides see the same sample.  The interpreter defines what each box
  kind means; ``compile`` writes the same plans out as a module.  All Python
  loops run while tracing; the jitted step is straight-line XLA.
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
calls it otherwise): the lowering reads no runs.  The caller resolves them
(``training.runs.lower_loading`` loads each run) and passes ``loaded={name:
LoadedLearner(...)}``, and ``get`` takes that run's net and its latest
checkpoint's parameters.  It is *frozen*:
no equation trains it (it is left out of every equation's ``trains`` and of
``Lowered.trained``, so it gets no gradient and no optimizer state, and runs
behind ``stop_gradient`` on its parameters), while gradient still flows through
it to the learners upstream.  A ``trains`` clause that names it is an error; a
default ``trains`` (every learner in the equation) silently leaves it out.  A
``fixed`` box is implemented the same way, or by a user's pure JAX function
(``impl edge = "mypkg.fns:edge"``, :class:`FixedFunction`): imported under the
trust policy, with an empty parameter state, frozen like a loaded box.  Which boxes are frozen
and which learners each equation trains is ``taskdsl.queries``' answer
(``frozen_boxes``, ``equation_trains``, ``trained_learners``), nowhere else.

EMA and tied learners (``learner target = ema(online, 0.99)``, ``learner b =
tied(a)``): a tied learner's boxes are ``a``'s already (elaboration names them
so), so it has no entry of its own.  An EMA learner has its own entry
(``queries.own_params``), with the net of the learner it follows, starts as a
copy of it (``Lowered.init``), is trained by no equation
(``queries.not_trained``), and is moved toward it inside the jitted step after
the optimizer update (``Lowered.ema``, ``step.train_step``).

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

from taskdsl.ir import BoxKind, Call, Declaration, Name, Objective, Program
from taskdsl.messages import TEMPLATES
from taskdsl.queries import (
    LOAD,
    DataRequest,
    data_requests,
    ema_in_trains,
    ema_learners,
    equation_trains,
    frozen_boxes,
    function_path,
    is_load,
    metric_names,
    not_trained,
    own_params,
    trained_learners,
    with_params,
)
from taskdsl.types import Signature

from ..messages import Problem, problem
from ..nets import NETS, NetError, build
from . import errors
from .divergences import resolve_user
from .errors import LowerError
from .interpret import Context, EquationPlan, Mode, equation_value, plan_equation
from .optimizers import OPTIMIZERS, optimizer_from_spec  # re-exported: moved there
from .precision import learners_in, with_precision
from .step import PerLearner, train_step

__all__ = [
    "DEFAULT_NETS",
    "OPTIMIZERS",
    "DataRequest",
    "Learner",
    "LoadedLearner",
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
# Learners: an `impl` line to a Flax NNX module, split into graphdef and state.


@dataclass(frozen=True)
class LoadedLearner:
    """A learner of a trained run, to implement a frozen box by: the run folder and the
    learner's name there (for messages), its net, and the parameters it keeps."""

    run: Path
    learner: str  # its name in that run
    net: Learner
    params: nnx.State


@dataclass(frozen=True)
class Learner:
    """A learner's net: its name and options, and the graph its states plug into.

    ``loaded`` is set for a learner (or fixed box) implemented by ``load(...)``:
    its parameters are the loaded ones, never initialised or trained.
    """

    name: str
    signature: Signature
    net: str
    options: Mapping[str, Any]
    graphdef: nnx.GraphDef
    loaded: LoadedLearner | None = None

    def build(self, key: jax.Array) -> nnx.Module:
        return build(self.net, self.signature.inputs, self.signature.outputs, self.options,
                     nnx.Rngs(key))

    def apply(self, state: nnx.State, *arrays: jax.Array) -> tuple[jax.Array, ...]:
        return nnx.merge(self.graphdef, state)(*arrays)


class _NoParams(nnx.Module):
    """The module of a fixed function: no parameters, so its state is empty."""


@dataclass(frozen=True)
class FixedFunction(Learner):
    """A ``fixed`` box implemented by a user's pure JAX function (``impl edge =
    mypkg.fns:edge``): the function of its input batches, returning one batch per output
    wire (logits on categorical wires, as a learner's).  Its parameters are an empty state,
    so it runs, routes and checkpoints like any frozen box; nothing trains it."""

    fn: Callable[..., Any] | None = None

    def build(self, key: jax.Array) -> nnx.Module:
        return _NoParams()

    def apply(self, state: nnx.State, *arrays: jax.Array) -> tuple[jax.Array, ...]:
        assert self.fn is not None
        out = self.fn(*arrays)
        outputs = tuple(out) if isinstance(out, tuple | list) else (out,)
        if len(outputs) != len(self.signature.outputs):
            raise LowerError(problem(
                "fixed-function-signature", name=self.name, signature=self.signature,
                path=self.net, batch=arrays[0].shape[0] if arrays else "?",
                expected=_expected_outputs(self.signature, "B"),
                found=f"{len(outputs)} output(s)", inputs=_wires(self.signature.inputs),
                outputs=_wires(self.signature.outputs)))
        return outputs


def _wires(types: Any) -> str:
    return ", ".join(t.described() for t in types) or "none"


def _expected_outputs(signature: Signature, batch: object) -> str:
    return ", ".join(f"float ({batch}, {', '.join(map(str, t.value_shape))})".replace(", )", ")")
                     for t in signature.outputs)


def fixed_function_problems(name: str, signature: Signature, path: str) -> list[Problem]:
    """What is wrong with implementing the fixed box ``name`` by the user's function ``path``:
    it cannot be imported (trust policy, import, not a function), or ``jax.eval_shape`` of it
    on abstract batches of the input wires raises or does not give one float batch per
    output wire of its shape.  No FLOPs run."""
    fn, found = resolve_user(path, "fixed function")
    if found is not None:
        return [found]
    details = {"name": name, "signature": signature, "path": path,
               "inputs": _wires(signature.inputs), "outputs": _wires(signature.outputs)}
    for batch in (3, 5):  # two sizes: a batch axis is told from a wire axis of that length
        inputs = [jax.ShapeDtypeStruct((batch, *t.value_shape), jnp.float32)
                  for t in signature.inputs]
        expected = _expected_outputs(signature, batch)
        try:
            out = jax.eval_shape(fn, *inputs)
        except Exception as error:  # the user's code, traced: say what it raised
            return [problem("fixed-function-signature", batch=batch, expected=expected,
                            found=f"{type(error).__name__}: {error}", **details)]
        outs = tuple(out) if isinstance(out, tuple | list) else (out,)
        shapes = [(tuple(getattr(o, "shape", ())), getattr(o, "dtype", None)) for o in outs]
        wanted = [(batch, *t.value_shape) for t in signature.outputs]
        if len(outs) != len(wanted) or any(
                shape != want or dtype is None or not jnp.issubdtype(dtype, jnp.floating)
                for (shape, dtype), want in zip(shapes, wanted, strict=False)):
            shown = ", ".join(f"{dtype} {shape}" for shape, dtype in shapes) or "nothing"
            return [problem("fixed-function-signature", batch=batch, expected=expected,
                            found=f"{len(outs)} output(s): {shown}", **details)]
    return []


def fixed_function(name: str, signature: Signature, path: str) -> FixedFunction:
    """The fixed box ``name`` as the user's function ``path``, imported through the trust
    policy (or the ``LowerError`` why not)."""
    fn, found = resolve_user(path, "fixed function")
    if found is not None:
        raise LowerError(found)
    graphdef, _ = nnx.split(_NoParams())
    return FixedFunction(name, signature, path, {}, graphdef, None, fn)


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
        raise errors.impl_positional(name, impl)
    return impl.name, dict(impl.kwargs)


def _learner(declaration: Declaration, impl: object,
             loaded: Mapping[str, LoadedLearner]) -> Learner:
    """Resolve and check a learner's net by building it abstractly (shapes only, no FLOPs),
    or take the loaded one; a fixed box can only be loaded."""
    name, signature = declaration.name, declaration.signature
    path = function_path(impl)
    if path is not None:  # `impl edge = mypkg.fns:edge`: a fixed box's pure function
        if declaration.kind is not BoxKind.FIXED:
            raise LowerError(problem("impl-function-learner", name=name, path=path))
        return fixed_function(name, signature, path)
    call = None if impl is None else as_call(name, impl)
    if call is not None and call.name == LOAD:
        return _loaded_learner(name, signature, call, loaded)
    if declaration.kind is BoxKind.FIXED:
        raise errors.fixed_needs_load(name, signature)
    net, options = _net_of(name, signature, call)

    def make() -> nnx.Module:
        return build(net, signature.inputs, signature.outputs, options, nnx.Rngs(0))

    try:
        graphdef, _ = nnx.split(nnx.eval_shape(make))
    except NetError as e:
        raise errors.impl_does_not_fit(name, signature, net, str(e)) from e
    return Learner(name, signature, net, options, graphdef)


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


def _loaded_learner(name: str, signature: Signature, call: Call,
                    loaded: Mapping[str, LoadedLearner]) -> Learner:
    """``name`` as the learner a trained run saved, as the caller loaded it, checked
    against ``name``'s declared signature."""
    path, _ = load_arguments(name, call)
    found = loaded.get(name)
    if found is None:
        raise errors.load_unresolved(name, path)
    if found.net.signature != signature:
        raise errors.load_wrong_signature(name, signature, found.run, found.learner,
                                          found.net.signature)
    net = found.net
    return Learner(name, signature, net.net, net.options, net.graphdef, found)


@dataclass(frozen=True)
class LoadCall:
    """What ``impl NAME = load(...)`` asks for: a run folder, and the learner's name there."""

    run: Path
    learner: str


def load_calls(program: Program, objective: Objective,
               impls: Mapping[str, object] | None = None) -> dict[str, LoadCall]:
    """The boxes of ``objective`` that ``impl ... = load(...)`` implements, and what each
    ``load`` names; read from the IR alone, no run is opened.

    Also refuses what no loaded run could fix: a malformed ``load(...)``, a fixed box
    not loaded.
    """
    chosen = {**program.impls, **(impls or {})}
    calls = {}
    for name in with_params(objective):
        impl = chosen.get(name)
        if is_load(impl):
            calls[name] = LoadCall(*load_arguments(name, as_call(name, impl)))
        elif program.declarations[name].kind is BoxKind.FIXED and function_path(impl) is None:
            raise errors.fixed_needs_load(name, program.declarations[name].signature)
    return calls


def check_trains(program: Program, objective: Objective, calls: Mapping[str, LoadCall],
                 impls: Mapping[str, object] | None = None) -> None:
    """Refuse a ``trains`` clause that names a frozen box: it cannot be trained.  (A
    default ``trains`` just leaves it out, see ``queries.equation_trains``.)"""
    frozen = frozen_boxes(program, objective, impls)
    for term in objective.terms:
        equation = term.equation
        named = [n for n in equation.trains if n in frozen] if equation.trains_named else []
        if named:
            raise errors.trains_loaded(equation.name, named[0], calls[named[0]].run)
    for equation, name in ema_in_trains(objective, program):  # the checker reports it first
        words = TEMPLATES["trains-ema"]
        details = {"name": name, "followed": program.declarations[name].follows[0]}
        raise LowerError(words.message.format(**details), code="trains-ema",
                         span=equation.span, help=(words.help or "").format(**details))


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

    def __init__(self, objective: Objective, learners: Mapping[str, Learner],
                 plans: tuple[EquationPlan, ...], requests: tuple[DataRequest, ...],
                 frozen: tuple[str, ...] = (),
                 ema: Mapping[str, tuple[str, float]] | None = None) -> None:
        self.objective = objective
        # Each EMA learner: (the learner it follows, its decay); see `step.train_step`.
        self.ema: dict[str, tuple[str, float]] = dict(ema or {})
        self.learner_names: tuple[str, ...] = tuple(learners)
        self.loaded: dict[str, Path] = {
            n: lr.loaded.run for n, lr in learners.items() if lr.loaded is not None}
        self.trained = trained_learners(objective, frozen)
        self.task_names: tuple[str, ...] = tuple(p.name for p in plans)
        self.impls: dict[str, Call] = {
            n: Call(lr.net, (), dict(lr.options)) for n, lr in learners.items()}
        self._learners = dict(learners)
        self._plans = plans
        self._held_out: tuple[EquationPlan, ...] | None = None
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
        params = {name: fresh[name] if lr.loaded is None
                  else jax.tree.map(jnp.copy, lr.loaded.params)
                  for name, lr in self._learners.items()}
        for target, (followed, _) in self.ema.items():  # an EMA learner starts as a copy
            params[target] = jax.tree.map(jnp.copy, params[followed])
        return params

    def _init_all(self, key: jax.Array) -> Params:
        return {name: nnx.split(learner.build(jax.random.fold_in(key, i)))[1]
                for i, (name, learner) in enumerate(self._learners.items())
                if learner.loaded is None}

    def loss(self, params: Params, batch: Batch, key: jax.Array, batch_size: int,
             mode: Mode = Mode.TRAIN, apply_fns: Mapping[str, Callable[..., Any]] | None = None
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The weighted total, and each task's own unweighted value keyed by its metric name;
        ``Mode.EVAL`` gives held-out values, with ``drop`` the identity as at inference.
        ``apply_fns`` replaces :attr:`apply_fns` (e.g. wrapped to record what each learner
        outputs, for pictures)."""
        plans = self._plans if mode is Mode.TRAIN else self._eval_plans()
        context = Context(dict(apply_fns or self.apply_fns), params, key, batch_size, batch)
        values = {p.name: equation_value(p, context) for p in plans}
        return sum(p.weight * values[p.name] for p in plans), values

    def _eval_plans(self) -> tuple[EquationPlan, ...]:
        if self._held_out is None:
            self._held_out = tuple(
                plan_equation(p.name, p.index, p.weight, p.equation, p.trains, Mode.EVAL)
                for p in self._plans)
        return self._held_out

    @property
    def learners(self) -> Mapping[str, Learner]:
        """Each box with parameters' net: what a run that loads one of them reuses."""
        return self._learners

    @property
    def apply_fns(self) -> dict[str, Callable[..., tuple[jax.Array, ...]]]:
        """Each learner as ``fn(its params, *arrays) -> outputs`` (logits on categorical
        wires): the ``apply`` that interpreted plans and compiled modules call."""
        return {n: lr.apply for n, lr in self._learners.items()}

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
          impls: Mapping[str, object] | None = None,
          loaded: Mapping[str, LoadedLearner] | None = None) -> Lowered:
    """Lower ``objective`` (default: the program's last) with ``impls`` over the file's ``impl``s.

    ``loaded`` holds, for each box an ``impl`` implements by ``load(...)``, the
    learner the caller loaded (``training.runs.lower_loading`` reads the runs).
    Raises ``LowerError`` for what cannot be implemented: a learner without
    ``impl`` and no default, an ``impl`` that does not fit its learner, a
    ``load(...)`` not given in ``loaded`` or that does not fit, a ``trains``
    clause naming a loaded learner, a fixed box not loaded, an unknown objective.
    """
    target = find_objective(program, objective)
    calls = load_calls(program, target, impls)
    chosen = {**program.impls, **(impls or {})}
    ema = ema_learners(program, target)
    # An EMA learner has the net of the learner it follows (its parameters are averaged in).
    learners = {name: _learner(program.declarations[name],
                               chosen.get(ema[name][0] if name in ema else name), loaded or {})
                for name in own_params(program, target)}
    check_trains(program, target, calls, impls)
    frozen = not_trained(program, target, impls)
    names = metric_names(target)
    plans = tuple(plan_equation(names[i], i, float(t.weight), t.equation,
                                equation_trains(t.equation, frozen))
                  for i, t in enumerate(target.terms))
    return Lowered(target, learners, plans, data_requests(program, target), frozen, ema)


# ---------------------------------------------------------------------------
# Training.


def _batch_size(batch: Batch) -> int:
    leaves = jax.tree.leaves(batch)
    if not leaves:
        raise errors.no_batch_size()
    return int(leaves[0].shape[0])


def make_train_step(lowered: Lowered, optimizer: optax.GradientTransformation | PerLearner, *,
                    donate: bool = True, batch_size: int | None = None,
                    precision: str = "float32", matmul_precision: str = "default"
                    ) -> tuple[Callable[[Params], optax.OptState], Callable]:
    """``(init_opt_state, step)`` where ``step(params, opt_state, batch, key)`` is one ``jax.jit``.

    One ``value_and_grad`` over the learners some equation trains (the others
    pass through untouched and report a gradient norm of 0), one optimizer
    update, no host syncs; see ``step.train_step``.  With ``donate`` the old
    params and optimizer state buffers are reused for the new ones.
    ``batch_size`` is read from the batch unless the objective has no data draws.
    ``precision`` and ``matmul_precision`` are the run's settings (``precision.py``): in
    bfloat16 the objective computes in bfloat16, on float32 parameters.
    """
    apply_fns = learners_in(lowered.apply_fns, precision)

    def loss(params: Params, batch: Batch, key: jax.Array
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        size = batch_size if batch_size is not None else _batch_size(batch)
        return lowered.loss(params, batch, key, size, Mode.TRAIN, apply_fns)

    loss = with_precision(loss, precision, matmul_precision)

    return train_step(loss, lowered.learner_names, lowered.trained, optimizer, donate=donate,
                      ema=lowered.ema)
