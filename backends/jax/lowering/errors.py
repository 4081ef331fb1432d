"""Every message the lowering (``lower.py``, ``interpret.py``, ``compile.py``) raises, composed in one place.

A ``LowerError`` is a problem with how a checked program is implemented or
fed: an ``impl`` line, an optimizer spec, a batch that does not match the
objective's data draws.  Each message names the learner, net, source or
option involved and says what would have been accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from taskdsl.types import Signature


class LowerError(Exception):
    """A program cannot be lowered to JAX as written, or a call does not match the lowering."""


def _listed(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def unknown_objective(name: str, known: Iterable[str]) -> LowerError:
    return LowerError(f"no objective or task called `{name}`; known: {_listed(known)}")


def no_default_impl(learner: str, signature: Signature) -> LowerError:
    return LowerError(
        f"learner `{learner}` ({signature}) has no `impl` line and no default architecture "
        f"fits its type; add one, e.g. `impl {learner} = nets.mlp(width = 64)` "
        "or a Flax module by its dotted Python path"
    )


def impl_not_a_net(learner: str, value: object) -> LowerError:
    return LowerError(
        f"`impl {learner} = {value!r}` does not name an architecture; "
        f"write e.g. `impl {learner} = nets.mlp(width = 64)`"
    )


def impl_positional(learner: str, net: str) -> LowerError:
    return LowerError(
        f"`impl {learner} = {net}(...)` gives options by position; name them, "
        f"e.g. `{net}(width = 32)`"
    )


def impl_does_not_fit(learner: str, signature: Signature, net: str, reason: str) -> LowerError:
    return LowerError(
        f"learner `{learner}` ({signature}) cannot be implemented by `{net}`: {reason}"
    )


def bad_load(learner: str, problem: str) -> LowerError:
    return LowerError(
        f"`impl {learner} = load(...)`: {problem}; write `load(\"RUN_DIR\")`, or "
        f"`load(path = \"RUN_DIR\", learner = \"NAME\")` when the run calls it otherwise"
    )


def _where(path: Path) -> str:
    """A run folder as the user wrote it, and where that is when it was relative."""
    return str(path) if path.is_absolute() else f"{path} (that is, {path.absolute()})"


def load_failed(learner: str, path: Path, reason: str) -> LowerError:
    return LowerError(f"cannot load `{learner}` from {_where(path)}: {reason}")


def load_no_learner(learner: str, path: Path, wanted: str, known: Iterable[str]) -> LowerError:
    return LowerError(
        f"cannot load `{learner}`: run {path} has no learner `{wanted}`; its learners are "
        f"{_listed(known)} (pick one with `load(\"{path}\", learner = \"NAME\")`)"
    )


def _spelled(signature: Signature) -> str:
    """A signature with every alias spelled out: two files may mean different `Image`s."""
    ins = ", ".join(t.described() for t in signature.inputs)
    outs = ", ".join(t.described() for t in signature.outputs)
    return f"{ins} -> {outs}"


def load_wrong_signature(learner: str, declared: Signature, path: Path, source: str,
                         found: Signature) -> LowerError:
    return LowerError(
        f"cannot load `{learner}` from {path}: it is declared `{learner} : "
        f"{_spelled(declared)}` here, but the run's `{source}` is `{source} : {_spelled(found)}`"
    )


def trains_loaded(task: str, learner: str, path: Path) -> LowerError:
    return LowerError(
        f"`{learner}` is loaded from {path} and frozen; drop it from `trains` in task `{task}` "
        "(or give it a net to train it here)"
    )


def fixed_needs_load(box: str, signature: Signature) -> LowerError:
    return LowerError(
        f"fixed box `{box}` ({signature}) is a trained model the JAX backend loads: write "
        f"`impl {box} = load(\"RUN_DIR\")`, or declare it `learner {box}` to train it here"
    )


def unknown_learner(name: str, known: Iterable[str]) -> LowerError:
    return LowerError(
        f"no learner `{name}` in these params; known: {_listed(known)} "
        "(pass the whole params pytree returned by `init`)"
    )


def missing_draw(key: str, source: str, given: Iterable[str]) -> LowerError:
    return LowerError(
        f"the batch has no arrays for draw `{key}` from data source `{source}`; "
        f"it has {_listed(given)} (see `Lowered.data_requests()`)"
    )


def wrong_draw_arity(key: str, source: str, expected: int, found: int) -> LowerError:
    return LowerError(
        f"draw `{key}` from data source `{source}` needs {expected} arrays "
        f"(one per output wire), the batch gives {found}"
    )


def no_batch_size() -> LowerError:
    return LowerError(
        "the objective draws from no data source, so the batch size cannot be read from the "
        "batch; pass `batch_size=` to `make_train_step`"
    )


def unknown_optimizer(name: str, known: Iterable[str]) -> LowerError:
    return LowerError(f"unknown optimizer `{name}`; known: {_listed(known)}")


def bad_optimizer_spec(spec: object) -> LowerError:
    return LowerError(
        f"`optimizer {spec!r}` is not an optimizer; write e.g. `optimizer adam(lr = 1e-3)`"
    )


def bad_optimizer_option(name: str, option: str, valid: Iterable[str]) -> LowerError:
    return LowerError(
        f"optimizer `{name}` has no option `{option}`; its options are {_listed(valid)}"
    )


def bad_optimizer_value(name: str, option: str, value: object) -> LowerError:
    return LowerError(f"option `{option}` of optimizer `{name}` must be a number, got {value!r}")


def load_unresolved(learner: str, path: Path) -> LowerError:
    return LowerError(
        f"`impl {learner} = load(\"{path}\")` was not resolved: the lowering reads no runs; "
        "lower with `training.runs.lower_loading(...)`, which loads them, or pass "
        "`loaded={...}` to `lower`"
    )


def draw_outside_equation(source: str) -> LowerError:
    return LowerError(
        f"data source `{source}` is drawn outside an equation; only a task's `<-` draws data"
    )


def unknown_builtin(name: str, known: Iterable[str]) -> LowerError:
    return LowerError(
        f"the JAX backend has no builtin `{name}`; it has {_listed(known)} "
        "(a builtin needs its function in `lowering/builtins.py`)"
    )


def schedule_learner(learner: str, trained: Iterable[str]) -> LowerError:
    return LowerError(
        f"the schedule names `{learner}`, which no equation of the objective trains; "
        f"the trained learners are {_listed(trained)}"
    )


def schedule_not_given(objective: str) -> LowerError:
    return LowerError(
        f"the train block of `{objective}` has a `schedule`, and no phases were given to "
        "compile it with; pass `phases=settings.schedule.phases` (as `taskdsl compile` does), "
        "so that the module's train step updates the learners as training does"
    )


def emitted_name_clash(name: str) -> LowerError:
    return LowerError(
        f"two functions the lowering emits are both called `{name}`; rename one, since "
        "`taskdsl compile` copies them into one module"
    )
