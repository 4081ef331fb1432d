"""The errors the lowering (``lower.py``, ``interpret.py``, ``compile.py``) raises, by code.

A ``LowerError`` is a problem with how a checked program is implemented or
fed: an ``impl`` line, an optimizer spec, a batch that does not match the
objective's data draws.  The words are templates in ``backends/jax/messages.py``
(what ``taskdsl check`` also finds keeps the check's code and words); these
functions fill them in, so call sites name the problem, not its wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from taskdsl.ir import Call
from taskdsl.types import Signature

from ..errors import BackendError
from ..messages import did_you_mean, listed, phrase, show, signature


class LowerError(BackendError):
    """A program cannot be lowered to JAX as written, or a call does not match the lowering."""

    default_code = "lower-failed"


def _error(code: str, **details: object) -> LowerError:
    return LowerError.of(code, **details)


def unknown_objective(name: str, known: Iterable[str]) -> LowerError:
    known = sorted(known)
    return _error("objective-unknown", name=name, suggestion=did_you_mean(name, known),
                  known=listed(known))


def no_default_impl(learner: str, signature: Signature) -> LowerError:
    return _error("impl-no-default", name=learner, signature=signature)


def impl_not_a_net(learner: str, value: object) -> LowerError:
    return _error("impl-not-a-net", name=learner, value=show(value))


def impl_positional(learner: str, impl: Call) -> LowerError:
    return _error("impl-positional", name=learner, net=impl.name, value=show(impl))


def impl_does_not_fit(learner: str, signature: Signature, net: str, reason: str) -> LowerError:
    return _error("impl-does-not-fit", learner=learner, signature=signature, net=net,
                  reason=reason)


def bad_load(learner: str, problem: str) -> LowerError:
    return _error("load-form", reason=phrase("load-form", learner=learner, problem=problem))


def _where(path: Path) -> str:
    """A run folder as the user wrote it, and where that is when it was relative."""
    return str(path) if path.is_absolute() else phrase("relative-path", path=path,
                                                       absolute=path.absolute())


def load_failed(learner: str, path: Path, reason: str) -> LowerError:
    return _error("load-failed", learner=learner, where=_where(path), reason=reason)


def load_no_learner(learner: str, path: Path, wanted: str, known: Iterable[str]) -> LowerError:
    return _error("run-no-learner", learner=learner, path=path, wanted=wanted,
                  known=listed(known, sort=True))


def load_wrong_signature(learner: str, declared: Signature, path: Path, source: str,
                         found: Signature) -> LowerError:
    return _error("load-signature", name=learner, path=path, learner=source,
                  declared=signature(declared.inputs, declared.outputs),
                  found=signature(found.inputs, found.outputs))


def trains_loaded(task: str, learner: str, path: Path) -> LowerError:
    return _error("frozen-in-trains", learner=learner, path=path, task=task)


def fixed_needs_load(box: str, signature: Signature) -> LowerError:
    return _error("fixed-needs-load", name=box, signature=signature)


def unknown_learner(name: str, known: Iterable[str]) -> LowerError:
    return _error("params-unknown-learner", name=name, known=listed(known, sort=True))


def missing_draw(key: str, source: str, given: Iterable[str]) -> LowerError:
    return _error("batch-missing-draw", key=key, source=source, given=listed(given, sort=True))


def wrong_draw_arity(key: str, source: str, expected: int, found: int) -> LowerError:
    return _error("batch-draw-arity", key=key, source=source, expected=expected, found=found)


def no_batch_size() -> LowerError:
    return _error("batch-size-unknown")


def unknown_optimizer(name: str, known: Iterable[str]) -> LowerError:
    return _error("optimizer-spec-unknown", name=name, known=listed(known, sort=True))


def bad_optimizer_spec(spec: object) -> LowerError:
    return _error("optimizer-spec", spec=spec)


def bad_optimizer_option(name: str, option: str, valid: Iterable[str]) -> LowerError:
    return _error("optimizer-spec-option", name=name, option=option,
                  valid=listed(valid, sort=True))


def bad_optimizer_value(name: str, option: str, value: object) -> LowerError:
    return _error("optimizer-spec-value", name=name, option=option, value=value)


def load_unresolved(learner: str, path: Path) -> LowerError:
    return _error("load-unresolved", learner=learner, path=path)


def draw_outside_equation(source: str) -> LowerError:
    return _error("draw-outside-equation", source=source)


def unknown_builtin(name: str, known: Iterable[str]) -> LowerError:
    return _error("builtin-unknown", name=name, known=listed(known, sort=True))


def schedule_learner(learner: str, trained: Iterable[str]) -> LowerError:
    return _error("schedule-untrained", learner=learner, trained=listed(trained, sort=True))


def schedule_not_given(objective: str) -> LowerError:
    return _error("schedule-not-given", objective=objective)


def emitted_name_clash(name: str) -> LowerError:
    return _error("emitted-name-clash", name=name)


def emitted_invalid(reason: str) -> LowerError:
    return _error("emitted-invalid", reason=reason)
