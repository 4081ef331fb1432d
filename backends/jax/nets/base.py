"""What every builtin net shares: the signature it can implement, and names for kinds of wires.

The registry checks ``accepts`` before building, so a net's ``__init__`` may
assume a signature it accepts and the user gets one clear message otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from flax import nnx

from taskdsl.types import WireType

Wires = Sequence[WireType]


def is_image(t: WireType) -> bool:
    """A ``Real[H, W, C]`` or ``Binary[H, W, C]`` wire: the wires convolutions run over.

    A Binary image flows as its pixels' probabilities, so it reads like a grey
    image; as an output it is logits (see :func:`outputs.activate`).
    """
    return t.kind in ("Real", "Binary") and len(t.shape) == 3


def is_tokens(t: WireType) -> bool:
    return t.kind == "Tokens"


def is_vector(t: WireType) -> bool:
    """A wire a dense head can produce: a class, binary attributes, or a flat real/Gaussian."""
    return t.kind == "Class" or (t.kind in ("Real", "Binary", "Gaussian") and len(t.shape) == 1)


VECTORS = "vector outputs (Class[n], Binary[n], Real[d] or Gaussian[d])"


def reads_into_vectors(carrier: Callable[[WireType], bool], inputs: Wires, outputs: Wires) -> bool:
    """The signature of a reader with a dense head: some carrier input, only vector outputs."""
    return any(map(carrier, inputs)) and bool(outputs) and all(map(is_vector, outputs))


class Net(nnx.Module):
    """A builtin architecture, built as ``Cls(inputs=..., outputs=..., rngs=..., **options)``.

    Options are the keyword-only parameters of ``__init__`` (with defaults and
    annotations, which the registry validates); ``__call__(*xs)`` takes one
    array per input wire and returns a tuple with one array per output wire.
    """

    expects: ClassVar[str]
    """The signatures the net can implement, in words, for error messages."""

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        raise NotImplementedError
