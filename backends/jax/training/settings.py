"""A run's settings: a ``train`` block's values, then ``--set KEY=VALUE`` overrides, checked.

Every value a ``train`` block or ``impl`` line holds can be overridden from the
command line (``docs/design.md``, section 3): plain settings by name (``--set
steps=500``), an ``impl`` line by ``--set impl.get=nets.mlp(width = 64)``, a
data binding by ``--set data.mnist=datasets.digits()``, a task's weight in the
objective by ``--set weight.kl=0.5`` (``weights each(kl: 0.5)`` in the block) and
one learner's optimizer by ``--set optimizer.disc=sgd(0.1)`` (``optimizer
each(adam(1e-3), disc: sgd(0.1))`` in the block; ``lowering/optimizers.py`` reads
optimizers, their learning-rate schedules and ``clip``).  A ``--set`` value is
read by the grammar's own ``config_value`` rule (``taskdsl.loader.config_value``),
so a value is valid on the command line exactly when it is valid in a file, and
means the same.  A typo in a key is an error that lists the valid keys, never a
silently ignored setting.

:func:`collect` finds every problem at once, each located (the setting's line, or
the ``--set`` it came from, as line i of the pseudo-file ``--set``), for
``taskdsl check``; :func:`resolve` raises the first, for a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from taskdsl.ir import BoxKind, Call, Name, Objective, Program, Term
from taskdsl.parser import SyntaxErrors
from taskdsl.queries import frozen_boxes, is_function, is_load, metric_names, trained_learners
from taskdsl.source import NOWHERE, Span

from ..messages import SET_FILE, USAGE_CODES, Problem, listed, phrase, problem, suggestion
from ..messages import show as show
from . import errors
from . import schedule as schedules
from .schedule import SIMULTANEOUS, Schedule

DEFAULT_OPTIMIZER = Call("adam", (), MappingProxyType({"lr": 1e-3}))

OPTIMIZER_OPTIONS: dict[str, tuple[str, ...]] = {
    "adam": ("lr", "b1", "b2", "eps"),
    "adamw": ("lr", "b1", "b2", "eps", "weight_decay"),
    "sgd": ("lr", "momentum", "nesterov"),
}
"""The optimizers a ``train`` block may name and their options (optax's names, ``lr`` the
learning rate, which may also be the one positional argument); each also takes ``clip``."""

CLIP = "clip"
EACH = "each"  # `each(DEFAULT, LEARNER: OPTIMIZER)` and `weights each(TASK: WEIGHT)`
SCHEDULE_OPTIONS: dict[str, tuple[str, ...]] = {
    "constant": ("lr", "warmup", "steps"),
    "cosine": ("lr", "warmup", "steps", "end"),
    "exponential": ("lr", "warmup", "steps", "rate"),
}
"""The learning-rate schedules an optimizer's ``lr`` may be (``lowering/optimizers.py``)."""


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides the program; ``impls`` and ``data`` are merged."""

    batch: int = 64
    steps: int = 1000
    optimizer: Call | Name = DEFAULT_OPTIMIZER
    seed: int = 0
    log_every: int = 50
    # `"auto"`: at multiples of 200 steps, at most one a half-minute of wall time
    # (checkpoint.py, `due`); a whole number: every that many steps, exactly.
    checkpoint_every: int | str = "auto"
    keep: int = 3  # how many of the latest checkpoints stay on disk
    schedule: Schedule = SIMULTANEOUS  # which learners each step updates (schedule.py)
    # Watching a run (watch.py): TensorBoard event files, held-out evaluation every
    # `eval_every` steps (0: never), the best checkpoint by `keep_best` (None: none kept)
    # and an early stop after `patience` evaluations without improvement (0: never).
    tensorboard: bool = True
    eval_every: int = 0
    keep_best: str | None = None
    keep_best_mode: str = "min"
    patience: int = 0
    clip: float | None = None  # each learner's gradient norm at most this (None: no clipping)
    # Steps a jitted call takes (a loop on the device, training/scan.py): `"auto"` picks it from
    # the step's time, a whole number forces it.
    steps_per_call: int | str = "auto"
    weights: Call | None = None  # `each(TASK: WEIGHT, ...)`: task weights replaced (reweighted)
    # Refuse a run that would not fit in memory, before compiling (training/memory.py).
    memory_check: bool = True
    # The step's arithmetic (lowering/precision.py): `float32`, or `bfloat16` compute with
    # float32 parameters and optimizer state; and jax.default_matmul_precision's setting.
    precision: str = "float32"
    matmul_precision: str = "default"
    impls: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The settings as config.json records them: calls and names in the file's spelling."""
        plain = {k: _jsonable(getattr(self, k)) for k in SCALAR_KEYS}
        plain["impls"] = {k: show(v) for k, v in self.impls.items()}
        plain["data"] = {k: show(v) for k, v in self.data.items()}
        return plain


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _call_or_name(value: Any) -> bool:
    return isinstance(value, Call | Name)


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


MODES = ("min", "max")


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _each(value: Any) -> bool:
    return isinstance(value, Call) and value.name == EACH


def _mode(value: Any) -> bool:
    return _spelled(value) in MODES


AUTO = "auto"


def _positive_or_auto(value: Any) -> bool:
    """``steps_per_call`` and ``checkpoint_every``: a whole number, or ``auto``."""
    return _positive(value) or _spelled(value) == AUTO


PRECISIONS = ("float32", "bfloat16")
MATMUL_PRECISIONS = ("default", "high", "highest")


def _precision(value: Any) -> bool:
    return _spelled(value) in PRECISIONS


def _matmul_precision(value: Any) -> bool:
    return _spelled(value) in MATMUL_PRECISIONS


def _spelled(value: Any) -> Any:
    """A word written bare (``min``) or quoted (``"min"``), as a string."""
    return value.name if isinstance(value, Name) else value


# Each plain setting: the check its value must pass, and how the message describes it.
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "batch": (_positive, "a whole number >= 1"),
    "steps": (_positive, "a whole number >= 1"),
    "optimizer": (_call_or_name, "an optimizer such as `adam(lr = 1e-3)`"),
    "seed": (_natural, "a whole number >= 0"),
    "log_every": (_positive, "a whole number >= 1"),
    "checkpoint_every": (_positive_or_auto, "`auto` or a whole number >= 1"),
    "keep": (_positive, "a whole number >= 1"),
    "schedule": (_call_or_name, "`simultaneous` or `alternate(LEARNER: STEPS, ...)`"),
    "tensorboard": (_boolean, "`true` or `false`"),
    "eval_every": (_natural, "a whole number >= 0 (0: never)"),
    "keep_best": (_text, 'a metric in quotes, such as `"eval/total"`'),
    "keep_best_mode": (_mode, '`"min"` (lower is better) or `"max"`'),
    "patience": (_natural, "a whole number >= 0 (0: never stop early)"),
    "clip": (_positive_number, "a number > 0 (each learner's largest gradient norm)"),
    "weights": (_each, "task weights such as `each(kl: 0.5, recon: 1)`"),
    "memory_check": (_boolean, "`true` or `false`"),
    "precision": (_precision, "`float32` or `bfloat16`"),
    "matmul_precision": (_matmul_precision, "`default`, `high` or `highest`"),
    "steps_per_call": (_positive_or_auto, "`auto` or a whole number >= 1"),
}
SCALAR_KEYS = tuple(CHECKS)
WEIGHT, OPTIMIZER = "weight", "optimizer"  # `--set weight.TASK=W`, `--set optimizer.LEARNER=OPT`


@dataclass(frozen=True)
class Origin:
    """Where a value was written: its span (a file's line, or line i of ``--set``), and for
    a ``--set`` the words messages add (`` in `--set KEY=VALUE` ``)."""

    span: Span | None
    where: str = ""


@dataclass(frozen=True)
class Override:
    """One ``--set KEY=VALUE``, read: the key, the value as a file would hold it, and where."""

    key: str
    value: Any
    origin: Origin


@dataclass(frozen=True)
class Resolution:
    """The settings for an objective, every problem found on the way (each located), and
    where each ``impl`` and data binding came from (``impl.NAME``/``data.SOURCE`` keys)."""

    settings: Settings
    problems: tuple[Problem, ...]
    origins: Mapping[str, Origin]


def objective_name(program: Program, objective: str | None) -> str:
    """The objective a run trains: the one named, or the file's last (a lone task counts)."""
    known = [*program.objectives, *program.tasks]
    if objective is None:
        if not known:
            raise errors.nothing_to_train(program.path)
        return program.objective(None).name
    if objective not in known:
        raise errors.unknown_objective(objective, known)
    return objective


def resolve(program: Program, objective: str, overrides: Sequence[str] = ()) -> Settings:
    """The settings for training ``objective``: defaults, its ``train`` block, then ``overrides``.

    ``overrides`` are ``KEY=VALUE`` strings as given to ``--set``; later ones win.  Raises
    the first problem :func:`collect` finds as a ``TrainError``.
    """
    resolution = collect(program, objective, overrides)
    if resolution.problems:
        raise errors.TrainError(resolution.problems[0])
    return resolution.settings


def collect(program: Program, objective: str, overrides: Sequence[str] = ()) -> Resolution:
    """The settings for ``objective`` (what :func:`resolve` returns when nothing is wrong),
    with every problem of its ``train`` block and of ``overrides``, located.  A value with
    a problem is left at its default."""
    spec = program.trainings.get(objective)
    found: list[Problem] = []
    entries: list[tuple[str, Any, Origin]] = []  # plain settings, file first, in order
    origins: dict[str, Origin] = {f"impl.{n}": Origin(program.impl_spans.get(n))
                                  for n in program.impls}
    if spec is not None:
        entries += [(k, v, Origin(spec.setting_spans.get(k))) for k, v in spec.settings.items()]
        origins.update({f"data.{s}": Origin(spec.data_spans.get(s)) for s in spec.data})
    impls = dict(program.impls)
    data = dict(spec.data) if spec is not None else {}
    for index, text in enumerate(overrides):
        override, problems = read_override(index, text)
        found += problems
        if override is None:
            continue
        key, value, origin = override.key, override.value, override.origin
        if key.startswith((f"{WEIGHT}.", f"{OPTIMIZER}.")):
            entries.append((key, value, origin))  # checked, then merged, below
            continue
        if not key.startswith(("impl.", "data.")):
            entries.append((key, value, origin))
            continue
        kind, kinds, into = (("learner", (BoxKind.LEARNER, BoxKind.FIXED), impls)
                             if key.startswith("impl.") else
                             ("data source", (BoxKind.DATA,), data))
        name, bad = _target(program, key, text, kind, kinds)
        if bad is not None:
            found.append(_located(bad, None, origin))  # the key is wrong, not the value
            continue
        into[name] = value
        origins[key] = origin
    target = program.objective(objective)
    frozen = frozen_reasons(program, target, impls)
    checked: dict[str, Any] = {}
    for key, value, origin in entries:
        problems = setting_problems(key, value, origin.where, target, tuple(frozen))
        if key == "schedule" and not problems:
            problems = schedules.problems(value, target, frozen, origin.where)
        found += [_located(p, value, origin) for p in problems]
        if not problems:
            key, value = _merged(key, value, checked)
            checked[key] = value
            origins[key] = origin
    if "optimizer" in checked or "clip" in checked:
        checked["optimizer"] = resolved_optimizer(checked.get("optimizer", DEFAULT_OPTIMIZER),
                                                  checked.get("steps", Settings.steps),
                                                  checked.get("clip"))
        # A schedule's warm-up checked against the run's steps, now that it has them.
        late = optimizer_problems(checked["optimizer"], origins["optimizer"].where
                                  if "optimizer" in origins else "")
        found += [_located(p, checked["optimizer"], origins.get("optimizer", Origin(None)))
                  for p in late]
        if late:
            checked["optimizer"] = DEFAULT_OPTIMIZER
    if "schedule" in checked:
        checked["schedule"] = schedules.parse(checked["schedule"], show(checked["schedule"]),
                                              target, frozen)
    if "keep_best_mode" in checked:
        checked["keep_best_mode"] = _spelled(checked["keep_best_mode"])
    # A word, bare or quoted (`auto` among them).
    for key in ("precision", "matmul_precision", "steps_per_call", "checkpoint_every"):
        if key in checked:
            checked[key] = _spelled(checked[key])
    wheres = {k: origins[k].where for k in checked if k in origins}
    for key, bad in watch_problems(target, checked, wheres).items():
        found.append(_located(bad, None, origins[key]))
        checked.pop(key)
    settings = dataclasses.replace(Settings(), impls=impls, data=data, **checked)
    return Resolution(settings, tuple(found), MappingProxyType(origins))


def from_json(program: Program, objective: str, plain: Mapping[str, Any]) -> Settings:
    """The settings :meth:`Settings.to_json` recorded, read back as they were resolved
    (calls and names re-read by the grammar), without re-reading the ``--set`` texts:
    for reopening a run whose overrides an older parser read."""
    values: dict[str, Any] = {}
    for key in SCALAR_KEYS:
        if key in plain:
            value = plain[key]
            values[key] = (parse_value(value) if key in ("optimizer", "schedule", "weights")
                           and isinstance(value, str) else value)
    impls = {k: impl_value(v) for k, v in plain.get("impls", {}).items()}
    data = {k: parse_value(v) for k, v in plain.get("data", {}).items()}
    if "schedule" in values:
        target = program.objective(objective)
        values["schedule"] = schedules.parse(values["schedule"], show(values["schedule"]),
                                             target, frozen_reasons(program, target, impls))
    return dataclasses.replace(Settings(), impls=impls, data=data, **values)


def setting_problems(key: str, value: Any, where: str = "", objective: Objective | None = None,
                     frozen: Sequence[str] = ()) -> list[Problem]:
    """What is wrong with ``value`` for the plain setting ``key`` (not ``impl.``/``data.``):
    an unknown key, a value of the wrong type, an unknown optimizer or option; with the
    ``objective``, also learners and tasks it does not have (``frozen`` learners are not
    trained).  ``weight.TASK`` and ``optimizer.LEARNER`` are one task's weight and one
    learner's optimizer."""
    if objective is not None and key.startswith((f"{WEIGHT}.", f"{OPTIMIZER}.")):
        kind, _, name = key.partition(".")
        if kind == WEIGHT:
            return weight_problems({name: value}, objective, where, key)
        return (_learner_problems((name,), show(value), objective, frozen, where)
                or optimizer_problems(value, where, objective, frozen))
    if key not in CHECKS:
        return [problem("setting-unknown", key=key, where=where, valid=listed(SCALAR_KEYS),
                        suggestion=suggestion(key, SCALAR_KEYS))]
    check, expected = CHECKS[key]
    if not check(value):
        return [problem("setting-value", key=key, where=where, expected=expected,
                        found=show(value))]
    if key == "optimizer":
        return optimizer_problems(value, where, objective, frozen)
    if key == "weights" and objective is not None:
        return weight_problems(value.kwargs, objective, where, key, value)
    return []


def eval_metrics(objective: Objective) -> tuple[str, ...]:
    """The metrics an evaluation logs (``eval_every``): ``eval/total``, then ``eval/TASK``."""
    return ("eval/total", *(f"eval/{n}" for n in metric_names(objective)))


def watch_problems(objective: Objective, checked: Mapping[str, Any],
                   wheres: Mapping[str, str] = MappingProxyType({})) -> dict[str, Problem]:
    """What is wrong, together, with the watch settings among ``checked`` (each value already
    valid alone), keyed by the setting to blame: a ``keep_best`` metric no evaluation logs,
    ``keep_best`` or ``patience`` without ``eval_every``."""
    found: dict[str, Problem] = {}
    metric = checked.get("keep_best")
    known = eval_metrics(objective)
    if metric is not None and metric not in known:
        found["keep_best"] = problem(
            "setting-value", key="keep_best", where=wheres.get("keep_best", ""),
            found=show(metric),
            expected=phrase("keep-best-metric", valid=listed(known)))
    if not checked.get("eval_every"):
        for key in ("keep_best", "patience"):
            if checked.get(key) and key not in found:
                found[key] = problem("watch-needs-eval", key=key, where=wheres.get(key, ""))
    return found


def optimizer_problems(spec: Call | Name, where: str = "", objective: Objective | None = None,
                       frozen: Sequence[str] = ()) -> list[Problem]:
    """What is wrong with an ``optimizer`` value: its name, its options, their values, its
    learning-rate schedule; for ``each(...)``, its form and (given the ``objective``) the
    learners it names."""
    call = Call(spec.name) if isinstance(spec, Name) else spec
    if call.name != EACH:
        return _one_optimizer_problems(call, where)

    def form(what: str) -> Problem:
        return problem("optimizer-each", value=show(call), where=where, problem=what)

    found = []
    if len(call.args) > 1:
        found.append(form("gives more than one optimizer without a learner's name"))
    if any(not isinstance(v, Call | Name) or _each(v)
           for v in (*call.args, *call.kwargs.values())):
        found.append(form("holds something that is not an optimizer"))
        return found
    if objective is not None:
        found += _learner_problems(tuple(call.kwargs), show(call), objective, frozen, where)
    for inner in (*call.args, *call.kwargs.values()):
        found += _one_optimizer_problems(Call(inner.name) if isinstance(inner, Name) else inner,
                                         where)
    return found


def _one_optimizer_problems(call: Call, where: str) -> list[Problem]:
    known = list(OPTIMIZER_OPTIONS)
    if call.name not in OPTIMIZER_OPTIONS:
        return [problem("optimizer-unknown", name=call.name, where=where, known=listed(known),
                        suggestion=suggestion(call.name, known))]
    valid = (*OPTIMIZER_OPTIONS[call.name], CLIP)
    found = []
    if len(call.args) > 1:
        found.append(problem("optimizer-option", name=call.name, where=where,
                             option=f"#{len(call.args)} (positional)", valid=listed(valid)))
    options = {**dict(zip(["lr"], call.args, strict=False)), **call.kwargs}
    for option, value in options.items():
        if option not in valid:
            found.append(problem("optimizer-option", name=call.name, where=where, option=option,
                                 valid=listed(valid), suggestion=suggestion(option, valid)))
        elif option == "lr" and isinstance(value, Call):
            found += schedule_problems(call.name, value, where)
        elif option == CLIP and not _positive_number(value):
            found.append(problem("setting-value", key=f"{call.name}(clip = ...)", where=where,
                                 expected=CHECKS["clip"][1], found=show(value)))
        elif not isinstance(value, int | float):
            found.append(problem("optimizer-value", name=call.name, where=where, option=option,
                                 found=show(value)))
    return found


def schedule_problems(optimizer: str, value: Call, where: str = "") -> list[Problem]:
    """What is wrong with a learning-rate schedule, ``cosine(1e-3, warmup = 100)``."""
    def bad(what: str, help_text: str = "") -> list[Problem]:
        return [problem("optimizer-schedule", value=show(value), name=optimizer, where=where,
                        problem=what, help=help_text or None)]

    known = list(SCHEDULE_OPTIONS)
    if value.name not in SCHEDULE_OPTIONS:
        return bad(f"is not a schedule (the schedules: {listed(known)})",
                   suggestion(value.name, known) or "")
    names = SCHEDULE_OPTIONS[value.name]
    if len(value.args) > 1:
        return bad("gives more than one value without a name (only `lr` may be positional)")
    options = {**dict(zip(["lr"], value.args, strict=False)), **value.kwargs}
    unknown = [o for o in options if o not in names]
    if unknown:
        return bad(f"has no option `{unknown[0]}` (its options: {listed(names)})",
                   suggestion(unknown[0], names) or "")
    if "lr" not in options:
        return bad("has no peak learning rate `lr`", f"write `{value.name}(1e-3, ...)`")
    if not _positive_number(options["lr"]):
        return bad("needs a peak learning rate `lr` > 0")
    for option in ("warmup", "steps"):
        if option in options and not (_natural(options[option]) if option == "warmup"
                                      else _positive(options[option])):
            return bad(f"needs `{option}` to be a whole number >= {0 if option == 'warmup' else 1}")
    if "steps" in options and options.get("warmup", 0) >= options["steps"]:
        return bad("warms up for as many updates as it has, or more",
                   "make `warmup` smaller than `steps` (the run's `steps` unless given)")
    for option in ("end", "rate"):
        if option in options and not (isinstance(options[option], int | float)
                                      and not isinstance(options[option], bool)
                                      and options[option] >= 0):
            return bad(f"needs `{option}` to be a number >= 0")
    return []


def _learner_problems(names: Sequence[str], value: str, objective: Objective,
                      frozen: Sequence[str], where: str) -> list[Problem]:
    """A problem for each of ``names`` that no equation of ``objective`` trains."""
    trained = trained_learners(objective, tuple(frozen))
    return [problem("optimizer-learner", value=value, where=where, name=n,
                    objective=objective.name, trained=listed(trained),
                    suggestion=suggestion(n, trained))
            for n in names if n not in trained]


def weight_problems(weights: Mapping[str, Any], objective: Objective, where: str = "",
                    key: str = "weights", value: Any = None) -> list[Problem]:
    """What is wrong with task weights: a task ``objective`` does not have (a task is named
    by its metric name, or by its equation's name for every term of it), a weight that is
    not a number >= 0."""
    known = list(dict.fromkeys([*metric_names(objective),
                                *(t.equation.name for t in objective.terms)]))
    found = []
    if value is not None and value.args:
        found.append(problem("setting-value", key=key, where=where, expected=CHECKS[key][1],
                             found=show(value)))
    for name, weight in weights.items():
        if name not in known:
            found.append(problem("weight-task", key=key, where=where, name=name,
                                 objective=objective.name, known=listed(known),
                                 suggestion=suggestion(name, known)))
        elif isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            found.append(problem("weight-value", name=name, where=where, found=show(weight)))
    return found


def _merged(key: str, value: Any, checked: Mapping[str, Any]) -> tuple[str, Any]:
    """``weight.TASK`` and ``optimizer.LEARNER`` merged into the ``weights`` and
    ``optimizer`` values checked so far; any other setting as it is."""
    kind, _, name = key.partition(".")
    if not name or kind not in (WEIGHT, OPTIMIZER):
        return key, value
    whole = "weights" if kind == WEIGHT else "optimizer"
    current = checked.get(whole, DEFAULT_OPTIMIZER if kind == OPTIMIZER else None)
    if _each(current):
        args, kwargs = current.args, current.kwargs
    else:
        args, kwargs = (() if current is None else (current,)), {}
    return whole, Call(EACH, args, MappingProxyType({**kwargs, name: value}))


def resolved_optimizer(spec: Call | Name, steps: int, clip: float | None) -> Call | Name:
    """``spec`` as a run uses it: each schedule given the run's ``steps`` unless it says,
    each optimizer the ``clip`` setting unless it says (what config.json records)."""
    call = Call(spec.name) if isinstance(spec, Name) else spec
    if call.name != EACH:
        return _resolved_one(spec, steps, clip)
    return Call(EACH, tuple(_resolved_one(a, steps, clip) for a in call.args),
                MappingProxyType({k: _resolved_one(v, steps, clip)
                                  for k, v in call.kwargs.items()}), call.span)


def _resolved_one(spec: Call | Name, steps: int, clip: float | None) -> Call | Name:
    call = Call(spec.name) if isinstance(spec, Name) else spec
    kwargs = dict(call.kwargs)
    args = call.args
    if args and "lr" not in kwargs:
        kwargs, args = {"lr": args[0], **kwargs}, args[1:]
    lr = kwargs.get("lr")
    changed = False
    if isinstance(lr, Call) and "steps" not in lr.kwargs:
        kwargs["lr"] = Call(lr.name, lr.args, MappingProxyType({**lr.kwargs, "steps": steps}),
                            lr.span)
        changed = True
    if clip is not None and CLIP not in kwargs:
        kwargs[CLIP] = clip
        changed = True
    if not changed:
        return spec
    return Call(call.name, args, MappingProxyType(kwargs), call.span)


def reweighted(program: Program, objective: str, weights: Call | None) -> Program:
    """``program`` with the tasks of ``objective`` weighted as ``weights`` (``each(kl:
    0.5)``, checked) says; the program itself when it says nothing.  A name is a task's
    metric name, or its equation's name for every term of that equation."""
    if weights is None or not weights.kwargs:
        return program
    target = program.objective(objective)
    names = metric_names(target)
    terms = tuple(
        Term(float(weights.kwargs.get(metric, weights.kwargs.get(term.equation.name,
                                                                 term.weight))),
             term.equation)
        for metric, term in zip(names, target.terms, strict=True))
    changed = dataclasses.replace(target, terms=terms)
    return dataclasses.replace(program, objectives=MappingProxyType(
        {**program.objectives, objective: changed}))


def frozen_reasons(program: Program, objective: Objective,
                   impls: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Each box of ``objective`` with parameters that no step may update, with why, for
    messages: ``loaded from runs/clf`` or ``a fixed box``."""
    chosen = {**program.impls, **(impls or {})}
    reasons = {}
    for name in frozen_boxes(program, objective, impls):
        impl = chosen.get(name)
        if is_load(impl) and isinstance(impl, Call):
            path = impl.args[0] if impl.args else impl.kwargs.get("path")
            reasons[name] = f"loaded from {path if isinstance(path, str) else show(impl)}"
        else:
            reasons[name] = "a fixed box"
    return reasons


def _target(program: Program, key: str, text: str, kind: str, kinds: tuple[BoxKind, ...]
            ) -> tuple[str, Problem | None]:
    """The box named after ``impl.``/``data.`` in ``key``, or the problem if the program
    declares no such box of ``kinds``."""
    name = key.partition(".")[2]
    known = [n for n, d in program.declarations.items() if d.kind in kinds]
    if name in known:
        return name, None
    return name, problem("set-target", text=text, kind=kind, name=name, known=listed(known),
                         suggestion=suggestion(name, known))


def _located(found: Problem, value: Any, origin: Origin) -> Problem:
    """``found`` at the call that holds the value, else at its line; from a ``--set``, a
    malformed one is the command line's mistake (exit code 2)."""
    span = value.span if isinstance(value, Call) and value.span != NOWHERE else None
    located = found.at(span).at(origin.span)
    if origin.where and located.code in USAGE_CODES:
        located = dataclasses.replace(located, usage=True)
    return located


# ---------------------------------------------------------------------- --set


def set_span(index: int, text: str, start: int = 0, end: int | None = None) -> Span:
    """Columns ``start``..``end`` of the ``index``-th ``--set`` (line ``index + 1`` of the
    pseudo-file ``--set``, whose lines are the overrides as given)."""
    end = len(text) if end is None else end
    return Span(SET_FILE, index + 1, start + 1, index + 1, max(end, start + 1) + 1)


def read_override(index: int, text: str) -> tuple[Override | None, list[Problem]]:
    """The ``index``-th ``--set KEY=VALUE``, read as a file would hold its value, with
    its value's calls located in the ``--set`` pseudo-file; or the problems reading it."""
    where = f" in `--set {text}`"
    key, equals, raw = text.partition("=")
    if not equals:
        bad = problem("set-no-equals", text=text).at(set_span(index, text))
        return None, [dataclasses.replace(bad, usage=True)]
    offset = len(key) + 1 + len(raw) - len(raw.lstrip())
    try:
        value = _parse(raw, index, offset)
    except SyntaxErrors as error:
        return None, [dataclasses.replace(
            problem("set-syntax", text=text, reason=d.message, expected=d.expected,
                    found=d.found).at(_shift(d.span, index, offset) if d.span else None),
            usage=True) for d in error.diagnostics.errors]
    span = set_span(index, text, 0, len(text))
    return Override(key.strip(), value, Origin(span, where)), []


def parse_override(text: str) -> tuple[str, Any]:
    """``"steps=500"`` as ``("steps", 500)``; the value as a train block would hold it."""
    override, problems = read_override(0, text)
    if override is None:
        raise errors.TrainError(problems[0])
    return override.key, override.value


def parse_value(text: str) -> Any:
    """A configuration value written as in a ``.task`` file: ``adam(lr = 1e-3)``, ``[1, 2]``.

    Raises :class:`taskdsl.parser.SyntaxErrors` for text the grammar does not accept.
    """
    from taskdsl.loader import config_value

    return config_value(text, SET_FILE)


def impl_value(text: str) -> Any:
    """An ``impl`` value as a run's settings record it (``show``): a user's function by its
    path (``mypkg.fns:edge``) reads back as the name it was, anything else as
    :func:`parse_value` reads it."""
    if is_function(text.strip()):
        return Name(text.strip())
    return parse_value(text)


def _parse(raw: str, index: int, offset: int) -> Any:
    return _relocated(parse_value(raw), index, offset)


def _shift(span: Span, index: int, offset: int) -> Span:
    """A span of a ``--set`` value (line 1 of the value alone) in the ``--set`` pseudo-file."""
    return Span(SET_FILE, index + 1, span.column + offset, index + 1, span.end_column + offset)


def _relocated(value: Any, index: int, offset: int) -> Any:
    """``value`` with every call's span moved from the value alone to its ``--set`` line."""
    if isinstance(value, tuple):
        return tuple(_relocated(v, index, offset) for v in value)
    if isinstance(value, Call):
        return Call(value.name, _relocated(value.args, index, offset),
                    MappingProxyType({k: _relocated(v, index, offset)
                                      for k, v in value.kwargs.items()}),
                    _shift(value.span, index, offset) if value.span != NOWHERE else NOWHERE)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Schedule):
        value = value.spec
    return show(value) if isinstance(value, Call | Name) else value
