"""``compile_objective``: an objective as a standalone, readable Python module of JAX code.

The module imports only ``jax``, ``jax.numpy`` and ``optax``, never taskdsl.
It has one function per equation (``task_put_get(apply, params, batch, key,
batch_size)``), straight-line code over the equation's wires named as the user
named them, the weighted ``loss``, and ``make_train_step``.

Learners stay outside, as an ``apply`` mapping from learner name to
``fn(params[name], *arrays) -> tuple of arrays`` (logits for ``Class``,
``Binary``, ``Tokens`` outputs): the emitted code is the *objective*, and any
architecture plugs in, e.g. Flax NNX modules through
``lambda state, *xs: nnx.merge(graphdef, state)(*xs)``.  This keeps the module
short and free of net code; copying the nets' source would drag in taskdsl.

The emitted code computes exactly what ``Lowered.loss`` computes: the same
draws (``fold_in(fold_in(key, equation_index), box_id)``), the same wire
conversions, the same divergences, and ``route`` and ``train_step`` copied
verbatim from ``routing.py`` and ``step.py``.  Only the helpers an objective
uses are emitted.

Loaded learners (``impl get = load("RUN_DIR")``, and ``fixed`` boxes, which
can only be loaded) are frozen exactly as the lowering freezes them: left out
of every equation's ``route`` and of ``TRAINED``, so they get no gradient and
no optimizer state, and run on parameters behind ``stop_gradient`` (gradient
still flows through them to the trained learners).  Like every learner they
come from the caller, ``apply[name]`` and ``params[name]``: the module lists
them in ``LOADED`` with the run they are to be loaded from, and its docstring
says so.  The run folder is not read here (the module holds no weights), but
the ``load(...)`` call and the ``trains`` clauses are checked as ``lower``
checks them.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taskdsl.explain import Notation, equation_formula, objective_formula
from taskdsl.ir import Box, BoxKind, Call, Equation, Name, Objective, Program
from taskdsl.types import WireType

from . import errors
from .lower import (
    LOAD,
    as_call,
    data_requests,
    draw_key,
    find_objective,
    load_arguments,
    metric_names,
    trained_learners,
    unique_boxes,
    with_params,
)
from .routing import route
from .step import train_step

__all__ = ["compile_objective", "write_module"]

# name -> (source, the helpers it calls).  Each mirrors a builtin of builtins.py, a divergence
# of divergences.py, or Value.from_data, on plain arrays; logits ride alongside as arguments.
HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "route": (inspect.getsource(route), ()),
    "train_step": (inspect.getsource(train_step), ()),
    "categorical": ('''
def categorical(data, classes):
    """Class indices (integers) become one-hot; distributions stay as they are."""
    data = jnp.asarray(data)
    if jnp.issubdtype(data.dtype, jnp.integer):
        data = jax.nn.one_hot(data, classes)
    return data.astype(jnp.float32)
''', ()),
    "sample": ('''
def sample(key, gaussian):
    """A reparameterised draw from a (batch, 2, ...) stack of mean and log-variance."""
    mean, logvar = gaussian[:, 0], gaussian[:, 1]
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)
''', ()),
    "per_example": ('''
def per_example(x):
    """Mean over every axis but the batch axis."""
    return x.reshape(x.shape[0], -1).mean(axis=1)
''', ()),
    "log_probs": ('''
def log_probs(p, logits=None):
    """Log-probabilities over the last axis, from the logits when a learner gave them."""
    if logits is not None:
        return jax.nn.log_softmax(logits, axis=-1)
    return jnp.log(jnp.clip(p, 1e-12, None))
''', ()),
    "mse": ('''
def mse(lhs, rhs, lhs_logits=None, rhs_logits=None):
    return per_example(jnp.square(lhs - rhs))
''', ("per_example",)),
    "l1": ('''
def l1(lhs, rhs, lhs_logits=None, rhs_logits=None):
    return per_example(jnp.abs(lhs - rhs))
''', ("per_example",)),
    "huber": ('''
def huber(lhs, rhs, lhs_logits=None, rhs_logits=None):
    return per_example(optax.huber_loss(lhs, rhs, delta=1.0))
''', ("per_example",)),
    "ce": ('''
def ce(lhs, rhs, lhs_logits=None, rhs_logits=None):
    """Cross-entropy of the rhs distribution under the lhs."""
    return per_example(-jnp.sum(rhs * log_probs(lhs, lhs_logits), axis=-1))
''', ("per_example", "log_probs")),
    "kl": ('''
def kl(lhs, rhs, lhs_logits=None, rhs_logits=None):
    """KL(rhs || lhs) between class distributions."""
    return per_example(-jnp.sum(rhs * log_probs(lhs, lhs_logits), axis=-1)
                       + jnp.sum(rhs * log_probs(rhs, rhs_logits), axis=-1))
''', ("per_example", "log_probs")),
    "kl_gaussian": ('''
def kl_gaussian(lhs, rhs, lhs_logits=None, rhs_logits=None):
    """KL(N(lhs) || N(rhs)) for (batch, 2, ...) stacks of mean and log-variance."""
    mean_l, logvar_l, mean_r, logvar_r = lhs[:, 0], lhs[:, 1], rhs[:, 0], rhs[:, 1]
    per_dim = 0.5 * (logvar_r - logvar_l
                     + (jnp.exp(logvar_l) + jnp.square(mean_l - mean_r)) * jnp.exp(-logvar_r)
                     - 1.0)
    return per_dim.reshape(per_dim.shape[0], -1).sum(axis=1)
''', ()),
    "bce": ('''
def bce(lhs, rhs, lhs_logits=None, rhs_logits=None):
    """Binary cross-entropy of the rhs bits under the lhs, mean over the bits."""
    if lhs_logits is not None:
        return per_example(optax.sigmoid_binary_cross_entropy(lhs_logits, rhs))
    p = jnp.clip(lhs, 1e-12, None)
    q = jnp.clip(1.0 - lhs, 1e-12, None)
    return per_example(-(rhs * jnp.log(p) + (1.0 - rhs) * jnp.log(q)))
''', ("per_example",)),
}

# Deterministic builtins as expressions over their input variables ({0}, {1}, ...) and params.
EXPRESSIONS: dict[str, str] = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "neg": "-{0}",
    "scale": "{0} * {p0!r}",
    "flatten": "{0}.reshape({0}.shape[0], -1)",
}

# Names a task function's locals must not shadow.
RESERVED = frozenset({"jax", "jnp", "optax", "apply", "params", "batch", "key", "batch_size",
                      *HELPERS})

CATEGORICAL = ("Class", "Tokens")
SQUASH = {"Class": "jax.nn.softmax({}, axis=-1)", "Tokens": "jax.nn.softmax({}, axis=-1)",
          "Binary": "jax.nn.sigmoid({})"}


@dataclass(frozen=True)
class _Loaded:
    """A frozen learner: the run folder its ``load(...)`` names, and its name in that run."""

    run: Path
    learner: str


@dataclass
class _Var:
    """A wire's value in the emitted code: its variable, and its logits' variable if any."""

    name: str
    logits: str | None = None


@dataclass
class _Task:
    """Writes one equation as a function body, naming wires as the user named them."""

    equation: Equation
    index: int
    function: str
    trains: tuple[str, ...]  # the equation's `trains` less the loaded learners
    lines: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)
    vars: dict[int, _Var] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.wires = {**self.equation.lhs.wires, **self.equation.rhs.wires}
        self.boxes = unique_boxes(self.equation)
        consumed = (w for b in self.boxes if b.kind is not BoxKind.DISCARD for w in b.inputs)
        self.used = {*consumed, *self.equation.lhs.outputs, *self.equation.rhs.outputs}

    def var(self, wire: int) -> str:
        """A fresh Python name for ``wire``: its user name when free, else ``w<id>``."""
        name = self.wires[wire].name
        if (not name or not name.isidentifier() or keyword.iskeyword(name) or name == "_"
                or name in RESERVED or name in self.taken):
            name = f"w{wire}"
        self.taken.add(name)
        return name

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def key(self, box: Box) -> str:
        return f"jax.random.fold_in(key, {box.id})"

    def source(self) -> str:
        eq = self.equation
        self.emit(f'"""{equation_formula(eq, Notation())}"""')
        self.emit(f"params = route(params, {self.trains!r})")
        self.emit(f"key = jax.random.fold_in(key, {self.index})")
        self.helpers.add("route")
        for box in self.boxes:
            self.box(box)
        terms = []
        for name, lw, rw in zip(eq.divergences, eq.lhs.outputs, eq.rhs.outputs, strict=True):
            terms.append(self.divergence(name, self.vars[lw], self.vars[rw], self.wires[lw].type))
        self.emit(f"return jnp.mean({' + '.join(terms)})")
        signature = f"def {self.function}(apply, params, batch, key, batch_size):"
        return "\n".join([signature, *self.lines])

    def divergence(self, name: str, lhs: _Var, rhs: _Var, wire_type: WireType) -> str:
        helper = "kl_gaussian" if name == "kl" and wire_type.kind == "Gaussian" else name
        self.helpers.add(helper)
        logits = [f"{side}_logits={v.logits}" for side, v in (("lhs", lhs), ("rhs", rhs))
                  if v.logits is not None]
        return f"{helper}({', '.join([lhs.name, rhs.name, *logits])})"

    def box(self, box: Box) -> None:
        types = [self.wires[w].type for w in box.outputs]
        match box.kind:
            case BoxKind.DISCARD:
                return
            case BoxKind.COPY:
                for w in box.outputs:
                    self.vars[w] = self.vars[box.inputs[0]]
            case BoxKind.DATA:
                self.data(box, types)
            case BoxKind.LEARNER | BoxKind.FIXED:  # a fixed box is a loaded learner
                self.learner(box, types)
            case BoxKind.RANDOM:
                self.assign(box, self.random(box, box.params[0], types[0]))
            case BoxKind.CONST:
                self.assign(box, self.const(box.params[0], types[0]))
            case _:  # BoxKind.BUILTIN
                self.assign(box, self.builtin(box))

    def assign(self, box: Box, expression: str) -> None:
        (wire,) = box.outputs
        self.vars[wire] = _Var(self.var(wire))
        self.emit(f"# {box.kind}: {box.name}")
        self.emit(f"{self.vars[wire].name} = {expression}")

    def data(self, box: Box, types: list[WireType]) -> None:
        raw = [self.var(w) if w in self.used else "_" for w in box.outputs]
        self.emit(f"# data: {box.name}")
        self.emit(f"{_unpack(raw)} = batch[{draw_key(self.index, box)!r}]")
        for wire, name, t in zip(box.outputs, raw, types, strict=True):
            if name == "_":
                continue
            self.vars[wire] = _Var(name)
            if t.kind in CATEGORICAL:
                self.helpers.add("categorical")
                self.emit(f"{name} = categorical({name}, {t.value_shape[-1]})")
            else:
                self.emit(f"{name} = jnp.asarray({name}, jnp.float32)")

    def learner(self, box: Box, types: list[WireType]) -> None:
        outs = []
        for wire, t in zip(box.outputs, types, strict=True):
            name = self.var(wire)
            logits = f"{name}_logits" if t.kind in SQUASH else None
            self.taken.add(logits or name)
            self.vars[wire] = _Var(name, logits)
            outs.append(self.vars[wire].logits or name)
        args = ", ".join([f"params[{box.name!r}]", *(self.vars[w].name for w in box.inputs)])
        self.emit(f"{_unpack(outs)} = apply[{box.name!r}]({args})")
        for wire, t in zip(box.outputs, types, strict=True):
            v = self.vars[wire]
            if v.logits is not None:
                self.emit(f"{v.name} = {SQUASH[t.kind].format(v.logits)}")

    def random(self, box: Box, distribution: str, t: WireType) -> str:
        shape = _batch_shape(t.value_shape)
        if distribution == "normal":
            return f"jax.random.normal({self.key(box)}, {shape})"
        if t.kind in CATEGORICAL:
            *index, classes = t.value_shape
            self.helpers.add("categorical")
            draw = f"jax.random.randint({self.key(box)}, {_batch_shape(index)}, 0, {classes})"
            return f"categorical({draw}, {classes})"
        if t.kind == "Binary":
            return f"jax.random.bernoulli({self.key(box)}, 0.5, {shape}).astype(jnp.float32)"
        return f"jax.random.uniform({self.key(box)}, {shape})"

    def const(self, value: float, t: WireType) -> str:
        if t.kind in CATEGORICAL:
            *index, classes = t.value_shape
            self.helpers.add("categorical")
            return f"categorical(jnp.full({_batch_shape(index)}, {value!r}), {classes})"
        if t.kind == "Gaussian":
            shape = _batch_shape(t.value_shape[1:])
            return (f"jnp.stack([jnp.full({shape}, {float(value)!r}), jnp.zeros({shape})], "
                    "axis=1)")
        return f"jnp.full({_batch_shape(t.value_shape)}, {float(value)!r}, jnp.float32)"

    def builtin(self, box: Box) -> str:
        inputs = [self.vars[w].name for w in box.inputs]
        if box.name == "concat":
            return f"jnp.concatenate([{', '.join(inputs)}], axis=-1)"
        if box.name == "sample":
            self.helpers.add("sample")
            return f"sample({self.key(box)}, {inputs[0]})"
        params = {f"p{i}": p for i, p in enumerate(box.params)}
        return EXPRESSIONS[box.name].format(*inputs, **params)


def _batch_shape(dims: Sequence[int]) -> str:
    """A shape with the batch axis first, as code: ``(batch_size, 28, 28, 1)``."""
    return f"({', '.join(['batch_size', *map(str, dims)])}{',' if not dims else ''})"


def _unpack(names: list[str]) -> str:
    """The target of a tuple assignment: ``(x,)`` for one name, ``x, y`` for several."""
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


def _helpers(names: set[str]) -> list[str]:
    """The sources of ``names`` and everything they call, callees first."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dep in HELPERS[name][1]:
            visit(dep)
        ordered.append(name)

    for name in sorted(names):
        visit(name)
    return [HELPERS[n][0].strip() for n in ordered]


def _function_name(metric: str) -> str:
    return "task_" + "".join(c if c.isalnum() or c == "_" else "_" for c in metric)


def _is_load(impl: object) -> bool:
    """Whether an ``impl`` value is ``load(...)`` (or a bare ``load``, reported as malformed)."""
    name = impl if isinstance(impl, str) else impl.name if isinstance(impl, Call | Name) else None
    return name == LOAD


def loaded_learners(program: Program, target: Objective,
                    impls: Mapping[str, object] | None = None) -> dict[str, _Loaded]:
    """The learners and fixed boxes of ``target`` that ``impl ... = load(...)`` implements.

    Checked as ``lower`` checks them, without reading the runs: a malformed
    ``load(...)``, a fixed box not loaded, a ``trains`` clause naming a loaded
    learner are each a ``LowerError``.  Other ``impl`` lines do not matter here.
    """
    chosen = {**program.impls, **(impls or {})}
    loaded = {}
    for name in with_params(target):
        impl = chosen.get(name)
        if impl is not None and _is_load(impl):
            loaded[name] = _Loaded(*load_arguments(name, as_call(name, impl)))
        elif program.declarations[name].kind is BoxKind.FIXED:
            raise errors.fixed_needs_load(name, program.declarations[name].signature)
    for term in target.terms:
        equation = term.equation
        named = [n for n in equation.trains if n in loaded] if equation.trains_named else []
        if named:
            raise errors.trains_loaded(equation.name, named[0], loaded[named[0]].run)
    return loaded


def compile_objective(program: Program, objective: str | None = None,
                      impls: Mapping[str, object] | None = None) -> str:
    """The source of a standalone module computing ``objective``'s loss and train step.

    ``impls`` override the file's ``impl`` lines, as in ``lower``; only the
    ``load(...)`` ones matter: those learners are frozen (see the module doc).
    """
    target = find_objective(program, objective)
    loaded = loaded_learners(program, target, impls)
    names = metric_names(target)
    tasks = [_Task(t.equation, i, _function_name(names[i]),
                   tuple(n for n in t.equation.trains if n not in loaded))
             for i, t in enumerate(target.terms)]
    bodies = [task.source() for task in tasks]
    helpers = _helpers({"train_step"}.union(*(t.helpers for t in tasks)))
    return "\n\n\n".join([
        _header(program, target, loaded),
        *helpers,
        _check(),
        *bodies,
        _loss(target, names, tasks),
        _train(),
    ]) + "\n"


def write_module(program: Program, path: str | Path, objective: str | None = None,
                 impls: Mapping[str, object] | None = None) -> Path:
    """Write ``compile_objective(program, objective, impls)`` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(compile_objective(program, objective, impls), encoding="utf-8")
    return path


def _frozen_doc(loaded: Mapping[str, _Loaded]) -> str:
    """The module docstring's paragraph on the loaded learners, if any."""
    if not loaded:
        return ""
    runs = "; ".join(f"`{n}` from {lr.run}" + (f" (its learner `{lr.learner}`)"
                                              if lr.learner != n else "")
                     for n, lr in loaded.items())
    name, first = next(iter(loaded.items()))
    return f'''
Frozen, loaded learners (LOADED): {runs}.
They are not trained here: the caller supplies each one's apply function and
trained parameters, in `apply` and `params` like any other learner, e.g. with
taskdsl installed:

    from ..training.runs import load_run
    run = load_run("{first.run}")
    apply["{name}"] = lambda p, *xs: run.lowered.apply("{first.learner}", {{"{first.learner}": p}}, *xs)
    params["{name}"] = run.params["{first.learner}"]

No task trains them: every task runs them on parameters behind
stop_gradient (so gradient still flows through them into the trained
learners), the train step keeps no optimizer state for them and returns their
params unchanged.  It donates its params argument (donate=True), frozen ones
included: pass copies of arrays you keep using.
'''


def _header(program: Program, target: Objective, loaded: Mapping[str, _Loaded]) -> str:
    shown_requests = "".join(
        f"    {r.key!r}: ({r.source!r}, {tuple(t.structural() for t in r.types)!r}),\n"
        for r in data_requests(program, target))
    trained = tuple(n for n in trained_learners(target) if n not in loaded)
    shown_loaded = "".join(f"    {n!r}: ({str(lr.run)!r}, {lr.learner!r}),\n"
                           for n, lr in loaded.items())
    return f'''"""Objective `{target.name}`, compiled by taskdsl from {program.path}.

    {objective_formula(target, Notation())}

Standalone: besides the standard library, this module imports only jax and
optax.  Learners are passed in as `apply`, a mapping from learner name to
`fn(params[name], *arrays) -> tuple`, one array per output wire (logits for
Class, Binary and Tokens outputs); for Flax NNX modules,
`lambda state, *xs: nnx.merge(graphdef, state)(*xs)`.
`params` maps learner names to their parameter pytrees.  `batch` maps each key
of DATA_REQUESTS to the raw arrays of that draw (float images, integer labels).
{_frozen_doc(loaded)}"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

LEARNERS = {with_params(target)!r}  # every learner needs apply[name] and params[name]
TRAINED = {trained!r}  # learners some equation trains; the others stay fixed
# frozen learners: name -> (the run folder `load` names, the learner's name in that run)
LOADED = {{
{shown_loaded}}}
# batch key ("equation index/box id") -> (data source, its output wire types)
DATA_REQUESTS = {{
{shown_requests}}}'''


def _check() -> str:
    return '''def check_learners(apply, params):
    """Every learner of LEARNERS needs an apply function and parameters, the LOADED ones too."""
    for name in LEARNERS:
        if name not in apply or name not in params:
            given = "an apply function" if name not in apply else "parameters"
            frozen = (f"; it is frozen, loaded from {LOADED[name][0]} (learner "
                      f"{LOADED[name][1]!r}): pass that run's function and trained parameters"
                      if name in LOADED else "")
            raise ValueError(f"learner {name!r} was not given {given}{frozen}")'''


def _loss(target: Objective, names: tuple[str, ...], tasks: list[_Task]) -> str:
    values = "".join(f"        {n!r}: {t.function}(apply, params, batch, key, batch_size),\n"
                     for n, t in zip(names, tasks, strict=True))
    total = "\n        + ".join(f"{float(term.weight)!r} * tasks[{n!r}]"
                                  for n, term in zip(names, target.terms, strict=True))
    return f'''def loss(apply, params, batch, key, batch_size):
    """The weighted total, and each task's own (unweighted) value."""
    check_learners(apply, params)
    tasks = {{
{values}    }}
    total = (
        {total}
    )
    return total, tasks'''


def _train() -> str:
    return '''def make_train_step(apply, optimizer, batch_size, donate=True):
    """(init_opt_state, step); step(params, opt_state, batch, key) is one jax.jit.

    Only TRAINED learners are differentiated and updated; the others (LOADED
    ones included) come back unchanged and report a gradient norm of 0.
    """

    def objective(params, batch, key):
        return loss(apply, params, batch, key, batch_size)

    return train_step(objective, LEARNERS, TRAINED, optimizer, donate=donate)'''
