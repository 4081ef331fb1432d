"""The JAX backend's check: what only the backend understands, reported all at once, located.

``taskdsl check`` runs :func:`check_program` after the front end found no error,
and ``taskdsl train`` runs it before anything trains, so a mistake in an
``impl`` line, a data binding, a ``train`` setting or a ``--set`` is a located
diagnostic (``FILE:LINE:COL``, a code, expected/found, a fix), every one of them
at once, never a traceback halfway into a run.

Nothing is validated here: each concern's own module says what is wrong, and the
run-time path raises the first of the same problems (``docs/design.md``, "One
semantics"):

- ``impl`` lines: ``nets.registry.problems`` (names, options, signatures; a
  user's module is imported and traced abstractly, no FLOPs), the lowering's
  ``load_arguments`` and default nets; a ``load(...)`` run folder is looked at
  (its ``config.json``), never restored;
- data bindings: ``feed.binding_problems``, from the data sets' descriptions
  (``data.describe``), without loading a data set;
- settings, schedules and ``--set``: ``settings.collect``.

What the disk lacks rather than what the file says (a data file, a run folder
to load) is a warning for ``taskdsl check`` (the run may simply not be trained
yet) and an error for ``taskdsl train`` (``training=True``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from taskdsl.builtins import is_user_divergence
from taskdsl.diagnostics import Diagnostic
from taskdsl.ir import BoxKind, Call, Declaration, Name, Objective, Program
from taskdsl.queries import (
    data_requests,
    find_objective,
    function_path,
    is_load,
    objective_names,
    with_params,
)
from taskdsl.source import NOWHERE, Source, Span, set_source

from .lowering import divergences
from .lowering.errors import LowerError
from .lowering.lower import DEFAULT_NETS, fixed_function_problems, load_arguments
from .messages import SET_FILE, Problem, listed, problem, show, suggestion
from .nets import NETS
from .nets import registry as nets
from .nets.errors import signature
from .training import feed, memory
from .training.settings import Origin, collect, frozen_reasons
from .training.train import CONFIG

__all__ = ["SET_FILE", "check_program", "set_sources"]


def check_program(program: Program, overrides: Sequence[str] = (), *,
                  objective: str | None = None, training: bool = False) -> list[Diagnostic]:
    """Every problem the JAX backend finds in ``program`` with ``overrides`` (``--set
    KEY=VALUE`` strings), as located diagnostics in file order, ``--set`` ones last.

    Checked: every ``impl`` line; and for each objective with a ``train`` block, and
    ``objective`` (default: the one ``taskdsl train`` would pick, when there are
    ``overrides``), its settings, schedule, data bindings, unbound data sources and
    learners without an implementation.  ``overrides`` apply to that objective.  Call
    it on a program the front end checked clean.  With ``training``, a missing data
    file or run folder that ``objective`` needs is an error; any other is a warning
    (training one objective needs no other's data).
    """
    main = objective
    if main is None and overrides and objective_names(program):
        main = find_objective(program, None).name  # type: ignore[union-attr]
    trained = find_objective(program, main) if main is not None else None
    needed = set(with_params(trained)) if trained is not None else set(program.impls)
    ours: list[Problem] = []  # about what `objective` needs: a missing file is an error
    others: list[Problem] = []  # elsewhere in the file: a missing file only a warning
    for name, impl in program.impls.items():
        found = _impl_problems(program, name, impl, Origin(program.impl_spans.get(name)))
        (ours if name in needed else others).extend(found)
    ours.extend(_user_divergence_problems(program))
    for target in dict.fromkeys([*program.trainings, *([main] if main else [])]):
        if find_objective(program, target) is None:
            continue
        mine = target == main or main is None
        (ours if mine else others).extend(
            _objective_problems(program, target, overrides if target == main else ()))
    return _diagnostics([(p, training) for p in ours] + [(p, False) for p in others],
                        overrides)


def _user_divergence_problems(program: Program) -> list[Problem]:
    """Each divergence a task names by dotted path (``by mypkg.losses:huber``): allowed by the
    trust policy, importable, a function, and of shape ``(batch,)`` when ``jax.eval_shape``
    traces it on the task's two sides; located at the task."""
    found: list[Problem] = []
    for equation in program.tasks.values():
        sides = zip(equation.divergences, equation.lhs.output_types,
                    equation.rhs.output_types, strict=False)
        for name, lhs, rhs in sides:
            if is_user_divergence(name):
                found += [p.at(equation.span)
                          for p in divergences.user_divergence_problems(name, lhs, rhs)]
    return found


def set_sources(overrides: Sequence[str]) -> dict[str, Source]:
    """The ``--set`` pseudo-file (line i is the i-th override), so that a diagnostic there
    quotes the override: add it to the sources a diagnostic is rendered with."""
    return {SET_FILE: set_source(tuple(overrides))} if overrides else {}


# ---------------------------------------------------------------------- one objective


def _objective_problems(program: Program, name: str, overrides: Sequence[str]
                        ) -> list[Problem]:
    """What is wrong with training ``name``: its settings and overrides, the impl overrides,
    its learners without an implementation, its data bindings and unbound sources."""
    resolution = collect(program, name, overrides)
    found = list(resolution.problems)
    origins, settings = resolution.origins, resolution.settings
    target = find_objective(program, name)
    assert target is not None
    for key, origin in origins.items():
        if key.startswith("impl.") and origin.where:  # a `--set impl.NAME=...`
            learner = key.removeprefix("impl.")
            found += _impl_problems(program, learner, settings.impls[learner], origin)
    spec = program.trainings.get(name)
    block = spec.span if spec is not None else None
    found += _unimplemented(program, target, settings.impls, block)
    found += _trains_loaded(program, target, settings.impls)
    drawn = {r.source: r.types for r in data_requests(program, target)}
    bindings = [(s, call, Origin(spec.data_spans.get(s))) for s, call in spec.data.items()
                ] if spec is not None else []  # as written, even where a `--set` replaces one
    bindings += [(key.removeprefix("data."), settings.data[key.removeprefix("data.")], origin)
                 for key, origin in origins.items() if key.startswith("data.") and origin.where]
    for source in drawn:
        if source in settings.data:
            continue
        call = feed.binding_of(source, settings.data)
        span = block or program.declarations[source].span  # no line binds it
        if call is None:
            found.append(feed.unbound(source, name).at(span))
        else:
            bindings.append((source, call, Origin(span)))
    for source, call, origin in bindings:
        wires = drawn.get(source) or program.declarations[source].signature.outputs
        found += [_located(p, call, origin)
                  for p in feed.binding_problems(source, call, wires)]
    if all(p.environment for p in found):  # all as written: will the run fit in memory?
        found += memory.static_problems(program, name, settings, origins)
    return found


def _unimplemented(program: Program, target: Objective, impls: dict[str, Any],
                   block: Span | None) -> list[Problem]:
    """Boxes with parameters that nothing implements: a learner no default net fits, a
    ``fixed`` box (which only ``load(...)`` implements)."""
    found = []
    for name in with_params(target):
        if name in impls:
            continue
        declaration = program.declarations[name]
        sig = declaration.signature
        span = declaration.span if declaration.span != NOWHERE else block
        if declaration.kind is BoxKind.FIXED:
            found.append(problem("fixed-needs-load", name=name, signature=sig).at(span))
        elif not any(NETS[n].accepts(sig.inputs, sig.outputs) for n in DEFAULT_NETS):
            found.append(problem("impl-no-default", name=name, signature=sig).at(span))
    return found


def _trains_loaded(program: Program, target: Objective, impls: dict[str, Any]
                   ) -> list[Problem]:
    """A ``trains`` clause that names a learner a ``load(...)`` implements."""
    frozen = frozen_reasons(program, target, impls)
    found = []
    for term in target.terms:
        equation = term.equation
        if not equation.trains_named:
            continue  # a default `trains` just leaves loaded learners out
        for learner in equation.trains:
            if learner in frozen:
                path = frozen[learner].removeprefix("loaded from ")
                found.append(problem("trains-loaded", name=learner, path=path,
                                     task=equation.name).at(equation.span))
    return found


# ---------------------------------------------------------------------- impl lines


def _impl_problems(program: Program, name: str, impl: Any, origin: Origin) -> list[Problem]:
    """What is wrong with implementing ``name`` by ``impl``, located at its call or line."""
    declaration = program.declarations.get(name)
    if declaration is None:
        return []  # the front end reports `impl` of an undeclared name
    return [_located(p, impl, origin) for p in _impl(declaration, impl)]


def _impl(declaration: Declaration, impl: Any) -> list[Problem]:
    name, sig = declaration.name, declaration.signature
    path = function_path(impl)
    if path is not None:  # `impl edge = mypkg.fns:edge`: a fixed box's pure function
        if declaration.kind is not BoxKind.FIXED:
            return [problem("impl-function-learner", name=name, path=path)]
        return fixed_function_problems(name, sig, path)
    call = Call(impl.name) if isinstance(impl, Name) else impl
    if not isinstance(call, Call):
        return [problem("impl-not-a-net", name=name, value=show(impl))]
    if is_load(call):
        return _load_problems(declaration, call)
    if declaration.kind is BoxKind.FIXED:
        return [problem("fixed-needs-load", name=name, signature=sig)]
    if call.args:
        return [problem("impl-positional", name=name, value=show(call), net=call.name)]
    return nets.problems(call.name, sig.inputs, sig.outputs, dict(call.kwargs))


def _load_problems(declaration: Declaration, call: Call) -> list[Problem]:
    """``load(...)``'s form (the lowering's own reading of it), then what the run folder
    says without restoring it: that it is a run, has the learner, with this signature."""
    name = declaration.name
    try:
        path, learner = load_arguments(name, call)
    except LowerError as error:
        return [problem("load-form", reason=str(error))]
    if not path.is_dir():
        return [problem("load-missing", name=name, path=path, looked=path.absolute())]
    try:
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        learners = list(config["learners"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = f"{path / CONFIG} cannot be read ({type(error).__name__}: {error})"
        return [problem("load-not-a-run", name=name, path=path, reason=reason)]
    if learner not in learners:
        return [problem("load-no-learner", name=name, path=path, learner=learner,
                        known=listed(learners), suggestion=suggestion(learner, learners))]
    found = _run_signature(config, learner)
    if found is not None and found != declaration.signature:
        return [problem("load-signature", name=name, path=path, learner=learner,
                        declared=_spelled(declaration.signature), found=_spelled(found))]
    return []


def _run_signature(config: dict, learner: str) -> Any:
    """The signature the run declared ``learner`` with, from its recorded source (``None``
    when that cannot be read back; loading will then say why)."""
    from taskdsl.loader import check_text

    from .training.files import imported_texts

    source, path = config.get("source"), config.get("file", "<run>")
    if not isinstance(source, str):
        return None
    try:
        imported = imported_texts(config)
    except TypeError:
        return None
    checked = check_text(source, str(path), imported=imported)
    declaration = checked.program.declarations.get(learner) if checked.ok else None
    return declaration.signature if declaration is not None else None


def _spelled(sig: Any) -> str:
    return signature(sig.inputs, sig.outputs)


# ---------------------------------------------------------------------- diagnostics


def _located(found: Problem, value: Any, origin: Origin) -> Problem:
    """``found`` at the call that holds the value, else at the line it was written on."""
    span = value.span if isinstance(value, Call) and value.span != NOWHERE else None
    return found.at(span).at(origin.span)


def _diagnostics(found: Iterable[tuple[Problem, bool]], overrides: Sequence[str]
                 ) -> list[Diagnostic]:
    """The problems as diagnostics, each once, in file order with ``--set`` ones last; a
    ``--set`` one says which ``--set`` it was.  Each problem comes with whether what the
    disk lacks is an error for it (else a warning)."""
    diagnostics: dict[tuple, Diagnostic] = {}
    for p, training in found:
        message = p.message
        span = p.span if p.span != NOWHERE else None
        if span is not None and span.file == SET_FILE and "`--set " not in message:
            index = span.line - 1
            if 0 <= index < len(overrides):
                message = f"{message} (in `--set {overrides[index]}`)"
        severity = "warning" if p.environment and not training else "error"
        diagnostic = Diagnostic(p.code, message, span, severity, p.expected, p.found, p.help)
        diagnostics.setdefault((p.code, message, span), diagnostic)
    return sorted(diagnostics.values(), key=_order)


def _order(d: Diagnostic) -> tuple[bool, str, int, int]:
    if d.span is None:
        return (True, "", 0, 0)
    return (d.span.file == SET_FILE, d.span.file, d.span.line, d.span.column)

