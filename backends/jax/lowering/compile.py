"""``compile_objective``: an objective as a standalone, readable Python module of JAX code.

The module imports only ``jax``, ``jax.numpy`` and ``optax``, never taskdsl, and the
module of each divergence the file names by dotted path (``by mypkg.losses:huber``,
``USER_FUNCTIONS``), which the lowering imported first under the trust policy.
It has one function per equation (``task_put_get(apply, params, batch, key,
batch_size)``), straight-line code over the equation's wires named as the user
named them, the weighted ``loss``, and ``make_train_step``.

It is written from the very plans the lowering runs (``interpret.py``): one
line per step, calling the same functions (builtins, wire conversions,
divergences, ``route``, ``train_step``, ``scheduled``), whose source is copied
verbatim with ``inspect.getsource``.  So the module computes exactly what
``Lowered.loss`` and the lowering's train step compute, draw for draw
(``fold_in(fold_in(key, equation_index), box_id)``), and a builtin added to
the backend is exported with no change here.  Only the functions an objective
uses are emitted.

Learners stay outside, as an ``apply`` mapping from learner name to
``fn(params[name], *arrays) -> tuple of arrays`` (logits for ``Class``,
``Binary``, ``Tokens`` outputs): the emitted code is the *objective*, and any
architecture plugs in, e.g. Flax NNX modules through
``lambda state, *xs: nnx.merge(graphdef, state)(*xs)``.

Schedules: the phases of a ``schedule alternate(...)`` (``phases=``, which
``taskdsl compile`` reads from the train block) become ``PHASES``, and the
module's ``make_train_step`` applies them with ``scheduled``, as training does.
A train block with a schedule and no ``phases`` given is refused rather than
compiled into a step that updates every learner every step.

Optimizers: given the run's resolved ``optimizer`` setting (``optimizer=``), the
module holds its plan as ``OPTIMIZER`` (plain tuples: each learner's optax
optimizer, learning-rate schedule and ``clip``) and ``optimizer_of``, copied from
``optimizers.py``; its ``make_train_step(apply, None, batch_size)`` then builds
exactly the optimizer a run trains with.

Loaded learners (``impl get = load("RUN_DIR")``, and ``fixed`` boxes, which
can only be loaded) are frozen exactly as the lowering freezes them
(``taskdsl.queries.frozen_boxes``): left out of every equation's ``route`` and
of ``TRAINED``, so they get no gradient and no optimizer state, and run on
parameters behind ``stop_gradient``.  Like every learner they come from the
caller, ``apply[name]`` and ``params[name]``: the module lists them in
``LOADED`` with the run they are to be loaded from.  The run folder is not read
here (the module holds no weights), but the ``load(...)`` call and the
``trains`` clauses are checked as ``lower`` checks them.

A ``fixed`` box implemented by a user's function (``impl edge = "mypkg.fns:edge"``)
needs neither: its function is imported into ``USER_FUNCTIONS`` by its path, like a
divergence's, and called there on the box's inputs; it is not in ``LEARNERS``.

Nothing from the file becomes code: every name, path, number and string it
holds is written as a literal (``_literal``, ``repr`` with ``float("inf")`` for
the numbers ``repr`` cannot spell), inside an escaped docstring (``_doc``) or
an escaped comment (``_comment``), or as a variable only when it is a plain
identifier (NFKC-stable, not a keyword, not one the module uses).  The module
is parsed and compiled before it is returned, so a bug here is an error
(``emitted-invalid``), never a broken file on disk.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

from taskdsl.explain import Notation, equation_formula, objective_formula
from taskdsl.ir import Name, Objective, Program
from taskdsl.queries import (
    data_requests,
    ema_learners,
    equation_trains,
    fixed_functions,
    metric_names,
    not_trained,
    own_params,
    trained_learners,
)

from ..messages import show
from . import builtins, divergences, errors, values
from .interpret import (
    LOGITS,
    Apply,
    ApplyOf,
    BatchSize,
    DrawOf,
    EquationPlan,
    KeyOf,
    Literal,
    ParamsOf,
    Ref,
    Slot,
    Step,
    plan_equation,
)
from .lower import LoadCall, check_trains, find_objective, fixed_function, load_calls
from .optimizers import optimizer_of, plan_of
from .precision import learners_in, with_precision
from .routing import route
from .step import scheduled, train_step

__all__ = ["compile_objective", "emitted_functions", "loaded_learners", "write_module"]


def _globals_read(code: CodeType) -> set[str]:
    """The global names a function's code reads, its nested functions' included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _globals_read(const)
    return names


def _functions() -> dict[str, Callable[..., Any]]:
    """Every function a module may copy, by name: the builtins, the wire conversions, the
    divergences, routing and the train step, and every function of the lowering that
    they call (a divergence's helpers, ``scheduled``'s state), found from their code."""
    roots = [*(b.fn for b in builtins.BUILTINS.values()), *divergences.FUNCTIONS.values(),
             *divergences.BY_KIND.values(), divergences.input_slope, *values.SQUASH.values(), values.real,
             values.categorical, route, train_step, scheduled, optimizer_of,
             with_precision, learners_in]
    found: dict[str, Any] = {}
    while roots:
        fn = roots.pop()
        if found.setdefault(fn.__name__, fn) is not fn:
            raise errors.emitted_name_clash(fn.__name__)
        code = getattr(fn, "__code__", None)
        for name in () if code is None else sorted(_globals_read(code)):
            callee = fn.__globals__.get(name)
            if (callable(callee) and getattr(callee, "__module__", "").startswith(__package__)
                    and callee.__name__ not in found):
                roots.append(callee)
    return found


FUNCTIONS = _functions()

# Names a task function's locals must not shadow.
RESERVED = frozenset({"jax", "jnp", "optax", "apply", "params", "batch", "key", "batch_size",
                      "annotations", "Any", "Callable", "Collection", "Mapping", "NamedTuple",
                      "Sequence", "check_learners", "loss", "make_train_step", "importlib",
                      "USER_FUNCTIONS", *FUNCTIONS})


def emitted_functions(names: Collection[str]) -> list[str]:
    """``names`` and every emittable function they call, callees first (sorted otherwise,
    so the module is stable)."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:  # done, or being visited (functions that call each other)
            return
        seen.add(name)
        code = getattr(FUNCTIONS[name], "__code__", None)
        callees = () if code is None else (n for n in _globals_read(code) if n in FUNCTIONS)
        for callee in sorted(callees):
            if callee != name:
                visit(callee)
        ordered.append(name)

    for name in sorted(names):
        visit(name)
    return ordered


@dataclass
class _Task:
    """Writes one equation's plan as a function body, naming wires as the user named them."""

    plan: EquationPlan
    function: str
    lines: list[str] = field(default_factory=list)
    calls: set[str] = field(default_factory=lambda: {"route"})
    paths: set[str] = field(default_factory=set)  # the user's divergences it calls
    # The fixed boxes a user's function implements: name -> `module.path:function`.
    functions: Mapping[str, str] = field(default_factory=dict)
    names: dict[Slot, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def var(self, slot: Slot) -> str:
        """The Python name of ``slot``: the wire's user name when free, else ``w<id>``;
        logits are ``<name>_logits``."""
        if slot in self.names:
            return self.names[slot]
        wire, role = slot
        name = self.plan.equation.lhs.wires.get(wire) or self.plan.equation.rhs.wires.get(wire)
        name = name.name if name is not None else None
        if not _plain_identifier(name) or name in self.taken or name.startswith("task_"):
            name = f"w{wire}"
        if role == LOGITS:
            name = f"{name}_logits"
        while name in self.taken or name in RESERVED:  # a user's `w3` beside wire 3
            name = f"{name}_"
        self.taken.add(name)
        self.names[slot] = name
        return name

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def arg(self, arg: Any) -> str:
        match arg:
            case Ref(slot):
                return self.var(slot)
            case KeyOf(box):
                return f"jax.random.fold_in(key, {box})"
            case BatchSize():
                return "batch_size"
            case Literal(value):
                return _literal(value)
            case ParamsOf(name):
                return f"params[{_literal(name)}]"
            case ApplyOf(name):
                return f"apply[{_literal(name)}]"
            case DrawOf(key):
                return f"batch[{_literal(key)}]"
        raise TypeError(f"not a step argument: {arg!r}")

    def step(self, step: Step) -> None:
        args = ", ".join([*map(self.arg, step.args),
                          *(f"{k}={_literal(v)}" for k, v in step.kwargs)])
        if step.fn is None:  # a draw: its raw arrays, the unused ones as `_`
            outs = [self.var(s) if s[0] in self.plan.plan.used else "_" for s in step.outputs]
            self.emit(f"# data: {_comment(step.box.name)}")
            self.emit(f"{_unpack(outs)} = {args}")
            return
        outs = [self.var(s) for s in step.outputs]
        if isinstance(step.fn, Apply) and step.fn.name in self.functions:
            path = self.functions[step.fn.name]  # a fixed box's own function: no params
            self.paths.add(path)
            inputs = ", ".join(map(self.arg, step.args[1:]))
            self.emit(f"# fixed: {_comment(step.box.name)}, the function {_comment(path)}")
            target = outs[0] if len(outs) == 1 else _unpack(outs)
            self.emit(f"{target} = USER_FUNCTIONS[{_literal(path)}]({inputs})")
            if len(outs) == 1:  # one output: an array, or a 1-tuple of one
                self.emit(f"{outs[0]} = {outs[0]}[0] if isinstance({outs[0]}, (tuple, list)) "
                          f"else {outs[0]}")
            return
        if isinstance(step.fn, Apply):
            self.emit(f"# {step.box.kind}: {_comment(step.box.name)}")
            self.emit(f"{_unpack(outs)} = apply[{_literal(step.fn.name)}]({args})")
            return
        if step.box.kind.value not in ("learner", "fixed", "data"):
            self.emit(f"# {step.box.kind}: {_comment(step.box.name)}")
        self.calls.add(step.fn.__name__)
        self.emit(f"{outs[0]} = {step.fn.__name__}({args})")

    def source(self) -> str:
        plan, eq = self.plan, self.plan.equation
        self.emit(_doc(equation_formula(eq, Notation())))
        self.emit(f"params = route(params, {_literal(tuple(plan.trains))})")
        self.emit(f"key = jax.random.fold_in(key, {plan.index})")
        for step in plan.plan.steps:
            self.step(step)
        terms = []
        for term in plan.terms:
            args = [self.var(plan.plan.value(term.lhs)), self.var(plan.plan.value(term.rhs))]
            if term.path is not None:  # the user's own, imported at the module's top
                self.paths.add(term.path)
                terms.append(f"USER_FUNCTIONS[{_literal(term.path)}]({', '.join(args)})")
                continue
            self.calls.add(term.fn.__name__)
            args += [f"{k}={_literal(v)}" for k, v in term.kwargs]
            for side, wire in (("lhs", term.lhs), ("rhs", term.rhs)):
                logits = plan.plan.logits(wire)
                if logits is not None:
                    args.append(f"{side}_logits={self.var(logits)}")
            terms.append(f"{term.fn.__name__}({', '.join(args)})")
        self.emit(f"return jnp.mean({' + '.join(terms)})")
        signature = f"def {self.function}(apply, params, batch, key, batch_size):"
        return "\n".join([signature, *self.lines])


def _plain_identifier(name: str | None) -> bool:
    """Whether a user's name can be a variable as it is: an identifier that Python does not
    normalize into another (NFKC: ``ﬁ`` is ``fi``), no keyword, and no name the module uses."""
    return (bool(name) and name.isidentifier() and unicodedata.normalize("NFKC", name) == name
            and not keyword.iskeyword(name) and name not in ("_", "__debug__")
            and name not in RESERVED)


def _unpack(names: list[str]) -> str:
    """The target of a tuple assignment: ``(x,)`` for one name, ``x, y`` for several."""
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


def _function_name(metric: str) -> str:
    """``task_<metric>`` with every character but ASCII letters, digits and ``_`` as ``_``
    (so it is an identifier whatever the metric's name)."""
    return "task_" + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_"
                             for c in metric)


def _function_names(metrics: Sequence[str]) -> list[str]:
    """Each metric's function name, suffixed ``_`` until it differs from the others'
    (``a-b`` and ``a_b`` would both be ``task_a_b``)."""
    taken: set[str] = set()
    names = []
    for metric in metrics:
        name = _function_name(metric)
        while name in taken:
            name += "_"
        taken.add(name)
        names.append(name)
    return names


def _literal(value: object) -> str:
    """Python source for a plain value read from a file: ``repr``, except that infinite and
    NaN floats (whose ``repr`` is not an expression) become ``float("inf")`` and the like.
    Anything but strings, numbers, booleans, ``None`` and tuples, lists and dicts of them is
    refused, so no object's ``repr`` ends up in the module."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, tuple):
        items = [_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise _invalid(f"cannot write a {type(value).__name__} as a literal")


def _escaped(char: str) -> str:
    """An unprintable character as a string literal's escape (``\\r``, ``\\x00``)."""
    return repr(char)[1:-1]


def _doc(text: str) -> str:
    """``text`` as a triple-quoted string literal whose value is exactly ``text``: readable
    as written, with backslashes, unprintable characters, and any quote that could close
    the literal (one beside another, or the last) escaped."""
    out: list[str] = []
    for i, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\n")
        elif char == '"' and (i + 1 == len(text) or text[i + 1] == '"'
                              or (i > 0 and text[i - 1] == '"')):
            out.append('\\"')
        elif not char.isprintable():
            out.append(_escaped(char))
        else:
            out.append(char)
    return '"""' + "".join(out) + '"""'


def _comment(text: str) -> str:
    """``text`` for a ``#`` comment: on one line, its unprintable characters escaped."""
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _invalid(reason: str) -> errors.LowerError:
    return errors.emitted_invalid(reason)


def _checked(source: str) -> str:
    """``source`` if it parses and compiles as a module; else the internal error saying
    why (a bug in this writer: nothing is written)."""
    try:
        compile(ast.parse(source), "<compiled objective>", "exec")
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        raise _invalid(f"{exc.__class__.__name__} at line {line}: {exc}") from None
    return source


def loaded_learners(program: Program, target: Objective,
                    impls: Mapping[str, object] | None = None) -> dict[str, LoadCall]:
    """The learners and fixed boxes of ``target`` that ``impl ... = load(...)`` implements,
    checked as ``lower`` checks them (``lower.load_calls``, ``lower.check_trains``), without
    reading the runs."""
    calls = load_calls(program, target, impls)
    check_trains(program, target, calls, impls)
    return calls


def _phases(program: Program, target: Objective, frozen: tuple[str, ...],
            phases: Sequence[Collection[str]] | None) -> tuple[tuple[str, ...], ...]:
    """The schedule's phases as sorted tuples, checked against the trained learners; with
    none given, refuse a train block whose schedule would otherwise be dropped."""
    if phases is None:
        spec = program.trainings.get(target.name)
        written = None if spec is None else spec.settings.get("schedule")
        if written is not None and written != Name("simultaneous"):
            raise errors.schedule_not_given(target.name)
        return ()
    trained = trained_learners(target, frozen)
    for phase in phases:
        for name in sorted(phase):
            if name not in trained:
                raise errors.schedule_learner(name, trained)
    return tuple(tuple(sorted(phase)) for phase in phases)


def compile_objective(program: Program, objective: str | None = None,
                      impls: Mapping[str, object] | None = None,
                      phases: Sequence[Collection[str]] | None = None,
                      optimizer: object | None = None, precision: str = "float32",
                      matmul_precision: str = "default") -> str:
    """The source of a standalone module computing ``objective``'s loss and train step.

    ``precision`` and ``matmul_precision`` are the run's settings (``precision.py``):
    other than ``float32`` and ``default``, the module holds them as ``PRECISION`` and
    ``MATMUL_PRECISION`` and its train step computes as the run's does
    (``with_precision`` and ``learners_in``, copied).

    ``optimizer`` is the run's ``optimizer`` setting as resolved (``Settings.optimizer``:
    schedules, ``clip``, ``each(...)``): the module then holds its plan as ``OPTIMIZER``
    and builds it with ``optimizer_of`` (copied from ``optimizers.py``), which its
    ``make_train_step`` uses when given ``optimizer=None``.

    ``impls`` override the file's ``impl`` lines, as in ``lower``; only the
    ``load(...)`` ones matter: those learners are frozen (see the module doc).
    ``phases`` is the update schedule (``Schedule.phases``; ``()`` for
    simultaneous updates); ``None`` refuses a train block that has a schedule.
    """
    target = find_objective(program, objective)
    loaded = loaded_learners(program, target, impls)
    frozen = not_trained(program, target, impls)  # loaded, fixed, and EMA learners
    functions = fixed_functions(program, target, impls)
    for name, path in functions.items():  # imported under the trust policy, or refused
        fixed_function(name, program.declarations[name].signature, path)
    schedule = _phases(program, target, frozen, phases)
    names = metric_names(target)
    functions_named = _function_names(names)
    tasks = [_Task(plan_equation(names[i], i, float(t.weight), t.equation,
                                 equation_trains(t.equation, frozen)),
                   functions_named[i], functions=functions)
             for i, t in enumerate(target.terms)]
    bodies = [task.source() for task in tasks]
    used = {"train_step", *(("scheduled",) if schedule else ())}.union(*(t.calls for t in tasks))
    if optimizer is not None:
        used.add("optimizer_of")
    precise = (precision, matmul_precision) != ("float32", "default")
    if precise:
        used |= {"with_precision", "learners_in"}
    helpers = [inspect.getsource(FUNCTIONS[n]).strip() for n in emitted_functions(used)]
    return _checked("\n\n\n".join([
        _header(program, target, loaded, frozen, schedule, functions),
        *([] if optimizer is None else [_optimizer(optimizer)]),
        *([_precision(precision, matmul_precision)] if precise else []),
        *helpers,
        *_user_functions(set().union(*(t.paths for t in tasks))),
        _check(),
        *bodies,
        _loss(target, names, tasks),
        _train(bool(schedule), optimizer is not None, precise),
    ]) + "\n")


def write_module(program: Program, path: str | Path, objective: str | None = None,
                 impls: Mapping[str, object] | None = None,
                 phases: Sequence[Collection[str]] | None = None,
                 optimizer: object | None = None, precision: str = "float32",
                 matmul_precision: str = "default") -> Path:
    """Write ``compile_objective(program, objective, impls, phases, optimizer, precision,
    matmul_precision)`` to ``path``: the module is made (and checked) in full before the
    file is opened."""
    path = Path(path)
    source = compile_objective(program, objective, impls, phases, optimizer, precision,
                               matmul_precision)
    path.write_text(source, encoding="utf-8")
    return path


def _frozen_doc(loaded: Mapping[str, LoadCall]) -> str:
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

    from taskdsl.backends.jax.training.runs import load_run
    run = load_run({str(first.run)!r})
    apply[{name!r}] = lambda p, *xs: run.lowered.apply({first.learner!r}, {{{first.learner!r}: p}}, *xs)
    params[{name!r}] = run.params[{first.learner!r}]

No task trains them: every task runs them on parameters behind
stop_gradient (so gradient still flows through them into the trained
learners), the train step keeps no optimizer state for them and returns their
params unchanged.  It donates its params argument (donate=True), frozen ones
included: pass copies of arrays you keep using.
'''


def _header(program: Program, target: Objective, loaded: Mapping[str, LoadCall],
            frozen: tuple[str, ...], phases: tuple[tuple[str, ...], ...],
            functions: Mapping[str, str] | None = None) -> str:
    shown_requests = "".join(
        f"    {_literal(r.key)}: {_literal((r.source, tuple(t.structural() for t in r.types)))},\n"
        for r in data_requests(program, target))
    trained = trained_learners(target, frozen)
    # A fixed box's own function is called from USER_FUNCTIONS, with no apply or params.
    learners = tuple(n for n in own_params(program, target) if n not in (functions or {}))
    shown_loaded = "".join(f"    {_literal(n)}: {_literal((str(lr.run), lr.learner))},\n"
                           for n, lr in loaded.items())
    doc = f'''Objective `{target.name}`, compiled by taskdsl from {program.path}.

    {objective_formula(target, Notation())}

Standalone: besides the standard library, this module imports only jax and
optax.  Learners are passed in as `apply`, a mapping from learner name to
`fn(params[name], *arrays) -> tuple`, one array per output wire (logits for
Class, Binary and Tokens outputs); for Flax NNX modules,
`lambda state, *xs: nnx.merge(graphdef, state)(*xs)`.
`params` maps learner names to their parameter pytrees.  `batch` maps each key
of DATA_REQUESTS to the raw arrays of that draw (float images, integer labels).
{_schedule_doc(phases)}{_frozen_doc(loaded)}'''
    return _doc(doc) + f'''

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

LEARNERS = {_literal(learners)}  # every learner needs apply[name] and params[name]
TRAINED = {_literal(tuple(trained))}  # learners some equation trains; the others stay fixed
# the update schedule: step i updates the learners of PHASES[i % len(PHASES)] (and any
# trained learner no phase names); () updates every trained learner at every step
PHASES = {_literal(phases)}
# EMA learners: name -> (the learner it follows, decay); after each optimizer update,
# params[name] = decay * params[name] + (1 - decay) * params[followed]; start it as a copy
EMA = {_literal(ema_learners(program, target))}
# frozen learners: name -> (the run folder `load` names, the learner's name in that run)
LOADED = {{
{shown_loaded}}}
# batch key ("equation index/box id") -> (data source, its output wire types)
DATA_REQUESTS = {{
{shown_requests}}}'''


def _user_functions(paths: set[str]) -> list[str]:
    """The block importing the user's own divergences (``by mypkg.losses:huber``), each by
    its dotted path as a literal: the lowering imported each already, under the trust
    policy (``divergences.resolve_user``), before this module was written."""
    if not paths:
        return []
    lines = ["import importlib",
             "",
             "# The user's own functions, by dotted path: divergences fn(lhs, rhs) -> (batch,),",
             "# and fixed boxes' functions of their input batches (no params).",
             "USER_FUNCTIONS = {"]
    for path in sorted(paths):
        module, _, name = path.partition(":")
        lines.append(f"    {_literal(path)}: getattr(importlib.import_module({_literal(module)}), "
                     f"{_literal(name)}),")
    lines.append("}")
    return ["\n".join(lines)]


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


def _schedule_doc(phases: tuple[tuple[str, ...], ...]) -> str:
    """The module docstring's paragraph on the update schedule, if there is one."""
    if not phases:
        return ""
    cycle = ", ".join("[" + ", ".join(p) + "]" for p in phases)
    return f"""
Update schedule (PHASES): the train step cycles through {cycle};
in each step only that phase's learners change, as `schedule alternate(...)`
asks, and as taskdsl trains it.
"""


def _loss(target: Objective, names: tuple[str, ...], tasks: list[_Task]) -> str:
    calls = "".join(f"        {_literal(n)}: {t.function}(apply, params, batch, key, batch_size),\n"
                     for n, t in zip(names, tasks, strict=True))
    total = "\n        + ".join(f"{_literal(float(term.weight))} * tasks[{_literal(n)}]"
                                  for n, term in zip(names, target.terms, strict=True))
    return f'''def loss(apply, params, batch, key, batch_size):
    """The weighted total, and each task's own (unweighted) value."""
    check_learners(apply, params)
    tasks = {{
{calls}    }}
    total = (
        {total}
    )
    return total, tasks'''


def _optimizer(spec: object) -> str:
    """The ``OPTIMIZER`` line: the plan of the train block's optimizer (``optimizers.py``),
    plain tuples and numbers, with the setting as written in a comment."""
    return (f"# the train block's optimizer, as optimizer_of builds it:\n"
            f"#   {_comment(show(spec))}\n"
            f"OPTIMIZER = {_literal(plan_of(spec))}")


def _precision(precision: str, matmul_precision: str) -> str:
    """The ``PRECISION`` and ``MATMUL_PRECISION`` lines: the run's arithmetic, as literals."""
    return (f"# the run's arithmetic: the objective computes in PRECISION on float32 params\n"
            f"# (loss and gradients float32), under jax.default_matmul_precision\n"
            f"PRECISION = {_literal(precision)}\n"
            f"MATMUL_PRECISION = {_literal(matmul_precision)}")


def _train(schedule: bool, planned: bool = False, precise: bool = False) -> str:
    doc = ("\n    The optimizer runs under PHASES, the update schedule (see `scheduled`),\n"
           "    as taskdsl trains it.\n" if schedule else "")
    if planned:
        doc += ("\n    optimizer=None is the train block's, optimizer_of(OPTIMIZER) (its\n"
                "    schedules, clipping and per-learner optimizers), as taskdsl trains it.\n")
    optimizer = "scheduled(optimizer, PHASES)" if schedule else "optimizer"
    return f'''def make_train_step(apply, optimizer, batch_size, donate=True):
    """(init_opt_state, step); step(params, opt_state, batch, key) is one jax.jit.

    Only TRAINED learners are differentiated and updated; the others (LOADED
    ones included) come back unchanged and report a gradient norm of 0.
{doc}    """
{"""
    apply = learners_in(apply, PRECISION)
""" if precise else ""}
    def objective(params, batch, key):
        return loss(apply, params, batch, key, batch_size)
{"""
    objective = with_precision(objective, PRECISION, MATMUL_PRECISION)
""" if precise else ""}{"""
    if optimizer is None:
        optimizer = optimizer_of(OPTIMIZER)
""" if planned else ""}
    return train_step(objective, LEARNERS, TRAINED, {optimizer}, donate=donate, ema=EMA)'''
