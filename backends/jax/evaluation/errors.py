"""The errors and notes of loading a run, judging, manipulating and the demo, by code.

An :class:`EvalError` is a problem the user can fix (a path, a class name, an
input of the wrong size); the command line prints it and exits 1, never with a
traceback.  The words are templates in ``backends/jax/messages.py``; these
functions fill them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import BackendError
from ..messages import did_you_mean, listed, note


class EvalError(BackendError):
    """A run cannot be evaluated or applied as asked; the message says why and what to do."""

    default_code = "eval-failed"


# -- runs --------------------------------------------------------------------


def no_run_dir(path: Path) -> EvalError:
    return EvalError.of("run-missing", path=path)


def out_not_a_folder(path: Path) -> EvalError:
    return EvalError.of("eval-out-not-folder", path=path)


def not_a_run(path: Path, why: str) -> EvalError:
    return EvalError.of("not-a-run", path=path, why=why)


def no_checkpoint(path: Path) -> EvalError:
    return EvalError.of("run-no-checkpoint", path=path)


def program_broken(path: Path, diagnostics: str) -> EvalError:
    return EvalError.of("run-source-broken", path=path, diagnostics=diagnostics)


def no_manipulator(path: Path, learners: Iterable[str]) -> EvalError:
    return EvalError.of("no-manipulator", path=path, learners=listed(learners))


def no_labels(path: Path, state: str, attribute: str) -> EvalError:
    return EvalError.of("no-labels", path=path, state=state, attribute=attribute)


def missing_learner(name: str, path: Path, learners: Iterable[str]) -> EvalError:
    return EvalError.of("run-missing-learner", name=name, path=path, learners=listed(learners))


def not_a_judge(path: Path, state: str, field: str) -> EvalError:
    return EvalError.of("not-a-judge", path=path, state=state, field=field)


def judge_is_manipulator(path: Path) -> EvalError:
    return EvalError.of("judge-is-manipulator", path=path)


# -- inputs and outputs -----------------------------------------------------------


def unknown_class(name: str, classes: Sequence[str]) -> EvalError:
    return EvalError.of("class-unknown", name=name, suggestion=did_you_mean(name, classes),
                        classes=listed(classes), last=len(classes) - 1)


def no_input(path: Path) -> EvalError:
    return EvalError.of("input-missing", path=path)


def unreadable_input(path: Path, why: str) -> EvalError:
    return EvalError.of("input-unreadable", path=path, why=why)


def unknown_input_kind(path: Path, state: str) -> EvalError:
    return EvalError.of("input-kind-unknown", path=path, state=state)


def no_images_array(path: Path, found: Iterable[str]) -> EvalError:
    return EvalError.of("input-no-images", path=path, found=listed(found))


def wrong_image_shape(path: Path, found: tuple[int, ...], expected: tuple[int, ...]) -> EvalError:
    return EvalError.of("input-image-shape", path=path, found=found,
                        shape=", ".join(map(str, expected)))


def not_text(path: Path, state: str) -> EvalError:
    return EvalError.of("input-not-text", path=path, state=state)


def no_tokenizer(path: Path) -> EvalError:
    return EvalError.of("no-tokenizer", path=path)


def empty_input(path: Path) -> EvalError:
    return EvalError.of("input-empty", path=path)


def to_or_like() -> EvalError:
    return EvalError.of("to-or-like")


def donor_count(path: Path, found: int, inputs: int) -> EvalError:
    return EvalError.of("donor-count", path=path, found=found, inputs=inputs)


def bad_strength(value: float) -> EvalError:
    return EvalError.of("strength-range", value=value)


def bad_count(value: int) -> EvalError:
    return EvalError.of("count-range", value=value)


def unknown_output_kind(path: Path, kinds: Iterable[str]) -> EvalError:
    return EvalError.of("output-kind-unknown", path=path, kinds=listed(kinds))


# -- predict and sample -------------------------------------------------------------


def not_npz(path: Path, name: str, names: Iterable[str]) -> EvalError:
    return EvalError.of("predict-not-npz", path=path, name=name,
                        names=", ".join(f"{n}=..." for n in names))


def input_missing(path: Path, name: str, position: int, wire: str, names: Iterable[str],
                  found: Iterable[str]) -> EvalError:
    return EvalError.of("predict-input-missing", path=path, name=name, position=position,
                        wire=wire, names=listed(names), found=listed(found))


def input_shape(path: Path, key: str, found: tuple[int, ...], dtype: str, name: str,
                position: int, wire: str, expected: str) -> EvalError:
    return EvalError.of("predict-input-shape", path=path, key=key, found=found, dtype=dtype,
                        name=name, position=position, wire=wire, expected=expected)


def input_count(path: Path, name: str, counts: Iterable[str]) -> EvalError:
    return EvalError.of("predict-input-count", path=path, name=name, counts=", ".join(counts))


def no_generator(path: Path, boxes: Iterable[str]) -> EvalError:
    return EvalError.of("no-generator", path=path, boxes=listed(boxes))


def many_generators(path: Path, boxes: Iterable[str]) -> EvalError:
    return EvalError.of("many-generators", path=path, boxes=listed(boxes))


def not_a_generator(name: str, path: Path, position: int, wire: str,
                    boxes: Iterable[str]) -> EvalError:
    return EvalError.of("not-a-generator", name=name, path=path, position=position, wire=wire,
                        boxes=listed(boxes))


# -- warnings and notes ----------------------------------------------------------


def adversarial(training: float, judge: float) -> str:
    return note("eval-adversarial", training=training, judge=judge)


def weak_judge(field: str, accuracy: float) -> str:
    return note("eval-weak-judge", field=field, accuracy=accuracy)


def no_render(reason: str) -> str:
    return note("eval-no-render", reason=reason)


def not_held_out(source: str, binding: str) -> str:
    return note("eval-not-held-out", source=source, binding=binding)
