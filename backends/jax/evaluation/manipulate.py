"""Applying a trained manipulator: find its ``get`` and ``put`` in a run, and edit inputs.

A run holds a manipulator when it has a learner ``get : S -> Class[n]`` and a
learner or refined learner ``put : S, Class[n] -> S`` (names are free; when
several pairs fit, the ones called ``get`` and ``put`` win, then the first
declared).  Every use of the pair goes through :class:`Manipulator`, so the
figures, the pictures and ``taskdsl manipulate`` edit the same way.

``strength`` edits part of the way: ``put`` is asked for the class distribution
``(1 - s) · get(x) + s · onehot(a)``, from what the classifier reads at 0 to the
asked-for class at 1.  For a latent-shift refinement ``dec(enc(x) + shift(a))``
with a linear ``shift`` this is exactly the walk from ``enc(x) + shift(get(x))``
to ``enc(x) + shift(a)`` in code space; for any other editor it is the same
interpolation of its conditioning input.

Inputs are images (a PNG, or a ``.npz`` with an ``images`` array (N, H, W, C) in
[0, 1] or uint8) or sentences (a text file, one sentence a line, encoded with
the tokenizer of the run's data set).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from taskdsl.types import WireType

from ..data import ATTRIBUTES, Tokenizer
from ..training.files import write_text
from ..training.runs import Labelled, Run, load_run
from . import errors, pictures

PREFERRED = ("get", "put")
IMAGE_SUFFIXES = (".png", ".npz")
TEXT_SUFFIXES = (".txt",)


@dataclass(frozen=True)
class Manipulator:
    """The ``get``/``put`` pair of a run, the state and attribute types they work on, and the
    data source whose outputs hold true states (``state_output``) and attributes."""

    run: Run
    get: str
    put: str
    state: WireType
    attribute: WireType
    source: str
    state_output: int
    attribute_output: int

    @property
    def classes(self) -> int:
        return self.attribute.value_shape[-1]

    @property
    def refined(self) -> bool:
        """Whether ``put`` is a refinement (a diagram of other learners), e.g. a latent shift."""
        return self.put in self.run.program.refinements

    @property
    def is_image(self) -> bool:
        return self.state.kind == "Real" and len(self.state.shape) == 3

    def read(self, states: np.ndarray) -> np.ndarray:
        """``get``'s class probabilities for each state."""
        return self.run.call(self.get, states)[0]

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray:
        """``put(x, asked)`` for class distributions ``asked`` (N, n)."""
        return self.run.call(self.put, states, asked.astype(np.float32))[0]

    def edit(self, states: np.ndarray, targets: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Each state edited toward its target class index, ``strength`` of the way."""
        return self.toward(states, np.eye(self.classes, dtype=np.float32)[targets], strength)

    def transfer(self, states: np.ndarray, donors: np.ndarray, strength: float = 1.0
                 ) -> np.ndarray:
        """``put(x, get(x'))``: each state given the attribute ``get`` reads on its donor (one
        donor for all, or one per state), ``strength`` of the way."""
        return self.toward(states, np.broadcast_to(self.read(donors), (len(states), self.classes)),
                           strength)

    def toward(self, states: np.ndarray, asked: np.ndarray, strength: float) -> np.ndarray:
        """``put(x, (1 - s) · get(x) + s · asked)`` for class distributions ``asked``."""
        if strength != 1.0:
            asked = (1 - strength) * self.read(states) + strength * asked
        return self.put_distribution(states, asked)

    def labelled(self, split: str, n: int | None = None) -> Labelled:
        return self.run.labelled(self.source, split, n)

    @cached_property
    def sample(self) -> Labelled:
        """One held-out example with every field: what the data set calls things."""
        return self.labelled("test", 1)

    @property
    def fields(self) -> tuple[str, str]:
        """The data set fields of the true states and of the true attribute."""
        fields = self.sample.fields
        return fields[self.state_output], fields[self.attribute_output]

    @cached_property
    def class_names(self) -> tuple[str, ...]:
        """The attribute's class names: the sprites' own names, else the class numbers."""
        names = ATTRIBUTES.get(self.fields[1], ()) if self.sample.dataset.name == "sprites" else ()
        return tuple(names) if len(names) == self.classes else tuple(map(str, range(self.classes)))

    def class_index(self, name: str) -> int:
        """A class given by name or number; ``EvalError`` listing the classes otherwise."""
        if name in self.class_names:
            return self.class_names.index(name)
        if name.isdigit() and int(name) < self.classes:
            return int(name)
        raise errors.unknown_class(name, self.class_names)


def find_manipulator(run: Run) -> Manipulator:
    """The run's ``get``/``put`` pair and the data source that labels its states."""
    boxes = run.callable_boxes()
    pairs = []
    for put in boxes:
        signature = run.signature(put)
        if len(signature.inputs) != 2 or len(signature.outputs) != 1:
            continue
        state, attribute = signature.inputs
        if attribute.kind != "Class" or signature.outputs[0] != state:
            continue
        pairs += [(get, put) for get in boxes
                  if run.signature(get).inputs == (state,)
                  and run.signature(get).outputs == (attribute,)]
    if not pairs:
        raise errors.no_manipulator(run.directory, run.lowered.learner_names)
    get, put = max(pairs, key=lambda pair: (pair[0] == PREFERRED[0]) + (pair[1] == PREFERRED[1]))
    state, attribute = run.signature(put).inputs
    for source in run.data_sources():
        outputs = run.signature(source).outputs
        if state in outputs and attribute in outputs:
            return Manipulator(run, get, put, state, attribute, source,
                               outputs.index(state), outputs.index(attribute))
    raise errors.no_labels(run.directory, str(state), str(attribute))


# -- reading inputs and writing edits ------------------------------------------


def read_images(path: Path, state: WireType) -> np.ndarray:
    """Images (N, H, W, C) float32 in [0, 1] from a PNG or an ``.npz`` ``images`` array."""
    expected = state.value_shape
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path) as archive:
                if "images" not in archive:
                    raise errors.no_images_array(path, archive.files)
                images = archive["images"]
        else:
            with Image.open(path) as picture:
                images = np.asarray(picture.convert("L" if expected[-1] == 1 else "RGB"))[None]
    except (OSError, ValueError, UnidentifiedImageError) as error:
        raise errors.unreadable_input(path, str(error)) from None
    if images.ndim == len(expected) and expected[-1] == 1:
        images = images[..., None]  # (N, H, W) greyscale
    if images.ndim == len(expected):
        images = images[None]
    if images.shape[1:] != expected:
        raise errors.wrong_image_shape(path, images.shape[1:], expected)
    if len(images) == 0:
        raise errors.empty_input(path)
    scale = 255.0 if np.issubdtype(images.dtype, np.integer) else 1.0
    return np.clip(images.astype(np.float32) / scale, 0.0, 1.0)


def tokenizer_of(manipulator: Manipulator) -> Tokenizer:
    tokenizer = manipulator.sample.dataset.extras.get("tokenizer")
    if not isinstance(tokenizer, Tokenizer):
        raise errors.no_tokenizer(manipulator.run.directory)
    return tokenizer


def read_states(manipulator: Manipulator, source: Path) -> np.ndarray:
    """The images or sentences in ``source``, as the states ``manipulator`` edits."""
    if not source.is_file():
        raise errors.no_input(source)
    if manipulator.is_image:
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            raise errors.unknown_input_kind(source, str(manipulator.state))
        return read_images(source, manipulator.state)
    if source.suffix.lower() not in TEXT_SUFFIXES:
        raise errors.not_text(source, str(manipulator.state))
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise errors.empty_input(source)
    return tokenizer_of(manipulator).encode(lines, manipulator.state.value_shape[0])


def write_states(manipulator: Manipulator, edits: np.ndarray, out: Path) -> None:
    """Edits to ``out``: ``.npz`` (an ``images`` array) or ``.png`` (a row), or sentences."""
    if not manipulator.is_image:
        text = "\n".join(tokenizer_of(manipulator).decode(edits.argmax(-1)))
        write_text(out, text + "\n")
    elif out.suffix.lower() == ".npz":
        np.savez_compressed(out, images=edits)
    else:
        pictures.save_row(out, edits)


def manipulate(run_dir: str | Path, input: str | Path, to: str | None = None,
               out: str | Path | None = None, strength: float = 1.0,
               like: str | Path | None = None, seed: int = 0) -> Path:
    """Edit the images or sentences in ``input`` to have class ``to``, or the class ``get``
    reads on ``like`` (attribute transfer, ``put(x, get(x'))``); returns the file written.

    ``like`` holds one input for all, or one per input.  ``out`` defaults to
    ``INPUT_to_CLASS`` (``INPUT_like_LIKE``) with the input's suffix.  Images go to
    ``.npz`` (an ``images`` array) or ``.png`` (one image, or a row of them); sentences to
    text.  ``seed`` seeds the manipulator's random boxes: the same seed, the same edits.
    """
    if (to is None) == (like is None):
        raise errors.to_or_like()
    if not 0.0 <= strength <= 1.0:
        raise errors.bad_strength(strength)
    source = Path(input)
    manipulator = find_manipulator(load_run(run_dir, seed=seed))
    if to is not None:
        target = manipulator.class_index(to)
        suffix = f"to_{manipulator.class_names[target]}"
    else:
        suffix = f"like_{Path(like).stem}"
    out = Path(out) if out is not None else source.with_name(
        f"{source.stem}_{suffix}{source.suffix}")
    states = read_states(manipulator, source)
    if manipulator.is_image and out.suffix.lower() not in IMAGE_SUFFIXES:
        raise errors.unknown_output_kind(out, IMAGE_SUFFIXES)
    if to is not None:
        edits = manipulator.edit(states, np.full(len(states), target), strength)
    else:
        donors = read_states(manipulator, Path(like))
        if len(donors) not in (1, len(states)):
            raise errors.donor_count(Path(like), len(donors), len(states))
        edits = manipulator.transfer(states, donors, strength)
    write_states(manipulator, edits, out)
    return out
