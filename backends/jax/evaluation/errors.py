"""Every message that loading a run, judging, manipulating and the demo show a user.

Kept in one module so the wording stays consistent and the tests can match it.
An :class:`EvalError` is a problem the user can fix (a path, a class name, an
input of the wrong size); the command line prints it and exits 1, never with a
traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path


class EvalError(Exception):
    """A run cannot be evaluated or applied as asked; the message says why and what to do."""


def _listed(names: Iterable[object]) -> str:
    names = [str(n) for n in names]
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


# -- runs --------------------------------------------------------------------


def no_run_dir(path: Path) -> EvalError:
    return EvalError(
        f"no run folder {path}; train one first with `taskdsl train FILE --out {path}`"
    )


def not_a_run(path: Path, why: str) -> EvalError:
    return EvalError(
        f"{path} is not a run folder ({why}); a run folder is what `taskdsl train` writes: "
        "config.json, metrics.jsonl and checkpoints/"
    )


def no_checkpoint(path: Path) -> EvalError:
    return EvalError(
        f"run {path} has no checkpoint yet; let `taskdsl train` save one (or resume it with "
        "--resume) before using it"
    )


def program_broken(path: Path, diagnostics: str) -> EvalError:
    return EvalError(f"the .task source recorded in {path}/config.json no longer checks:\n"
                     f"{diagnostics}")


def no_manipulator(path: Path, learners: Iterable[str]) -> EvalError:
    return EvalError(
        f"run {path} has no manipulator: it needs a learner `get : S -> Class[n]` and a "
        f"learner (or refinement) `put : S, Class[n] -> S`; its learners are {_listed(learners)}"
    )


def no_labels(path: Path, state: str, attribute: str) -> EvalError:
    return EvalError(
        f"run {path} draws no data with both a `{state}` and a `{attribute}` output, so there "
        "are no true attributes to judge its edits against"
    )


def missing_learner(name: str, path: Path, learners: Iterable[str]) -> EvalError:
    return EvalError(
        f"`{name}` uses learner(s) that run {path} did not train; its learners are "
        f"{_listed(learners)}"
    )


def not_a_judge(path: Path, state: str, field: str) -> EvalError:
    return EvalError(
        f"run {path} cannot judge these edits: it needs a learner `{state} -> Class[..], ...` "
        f"trained on data whose outputs include the field `{field}`"
    )


def judge_is_manipulator(path: Path) -> EvalError:
    return EvalError(
        f"the judge {path} is the manipulator's own run; a judge must be trained independently "
        "(leave out --judge to train one)"
    )


# -- inputs and outputs -----------------------------------------------------------


def unknown_class(name: str, classes: Sequence[str]) -> EvalError:
    return EvalError(
        f"unknown class `{name}`{_did_you_mean(name, classes)}; the classes are "
        f"{_listed(classes)} (or their numbers 0..{len(classes) - 1})"
    )


def no_input(path: Path) -> EvalError:
    return EvalError(f"no input file {path}")


def unreadable_input(path: Path, why: str) -> EvalError:
    return EvalError(f"cannot read {path}: {why}")


def unknown_input_kind(path: Path, state: str) -> EvalError:
    return EvalError(
        f"cannot tell what {path} holds: for `{state}` states give a .png image or a .npz file "
        "with an `images` array"
    )


def no_images_array(path: Path, found: Iterable[str]) -> EvalError:
    return EvalError(f"{path} has no `images` array; it holds {_listed(found)}")


def wrong_image_shape(path: Path, found: tuple[int, ...], expected: tuple[int, ...]) -> EvalError:
    shape = ", ".join(map(str, expected))
    return EvalError(
        f"{path} holds images of shape {found}, but the manipulator edits ({shape}) images "
        f"(a .npz `images` array is (N, {shape}) with values in [0, 1])"
    )


def not_text(path: Path, state: str) -> EvalError:
    return EvalError(
        f"the manipulator edits `{state}` sentences: give a text file with one sentence a line, "
        f"not {path}"
    )


def no_tokenizer(path: Path) -> EvalError:
    return EvalError(f"run {path}'s data set has no tokenizer to turn sentences into tokens")


def empty_input(path: Path) -> EvalError:
    return EvalError(f"{path} holds nothing to edit")


def to_or_like() -> EvalError:
    return EvalError("say what to edit toward: either --to CLASS or --like FILE, not both")


def donor_count(path: Path, found: int, inputs: int) -> EvalError:
    return EvalError(
        f"{path} holds {found} inputs to take the attribute from; give one (for every input) "
        f"or {inputs} (one per input)"
    )


def bad_strength(value: float) -> EvalError:
    return EvalError(f"--strength must be between 0 and 1, not {value}")


def bad_count(value: int) -> EvalError:
    return EvalError(f"-n must be at least 1, not {value}")


def unknown_output_kind(path: Path, kinds: Iterable[str]) -> EvalError:
    return EvalError(f"cannot write {path}: the output must end in {_listed(kinds)}")


# -- warnings and notes ----------------------------------------------------------


def adversarial(training: float, judge: float) -> str:
    return (
        f"warning: the manipulator's own classifier labels {training:.0%} of the edits as asked, "
        f"but the independent judge only {judge:.0%}: the edits are adversarial noise that fools "
        "the classifier they were trained against, not real changes of the attribute"
    )


def weak_judge(field: str, accuracy: float) -> str:
    return (
        f"warning: the judge reads `{field}` right on only {accuracy:.0%} of the unedited "
        "inputs, so the figures that rely on it are loose"
    )


def no_render(reason: str) -> str:
    return f"note: the objective's diagram was not drawn ({reason})"
