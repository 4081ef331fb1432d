"""Wire types: the types that label the wires of a diagram.

A wire type is a *kind* (``Real``, ``Class``, ``Binary``, ``Gaussian``,
``Tokens``) with a shape.  Shapes are concrete integers once a program is
elaborated; inside a pattern they may hold dimension variables, which ``use``
binds.  The alias a user wrote (``Image``) is kept for messages and pictures but
never takes part in equality: ``Image`` *is* ``Real[28, 28, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS: dict[str, tuple[int, int | None]] = {
    # kind: (least number of dimensions, most number of dimensions or None)
    "Real": (1, None),
    "Class": (1, 1),
    "Binary": (1, None),  # bits of any shape: Binary[40] attributes, Binary[28, 28, 1] images
    "Gaussian": (1, None),
    "Tokens": (2, 2),
}

Dim = int | str  # an int, or the name of a dimension variable inside a pattern


@dataclass(frozen=True)
class WireType:
    """The type of one wire, e.g. ``Real[28, 28, 1]`` or ``Class[10]``."""

    kind: str
    shape: tuple[Dim, ...]
    alias: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.alias or self.structural()

    def structural(self) -> str:
        """The type spelled out, ignoring any alias: ``Real[28, 28, 1]``."""
        if self.kind.startswith("$"):  # a pattern's type parameter
            return self.kind[1:]
        return f"{self.kind}[{', '.join(str(d) for d in self.shape)}]"

    def described(self) -> str:
        """The alias with its meaning, for messages: ``Image (Real[28, 28, 1])``."""
        if self.alias and self.alias != self.structural():
            return f"{self.alias} ({self.structural()})"
        return self.structural()

    def named(self, alias: str | None) -> WireType:
        return WireType(self.kind, self.shape, alias)

    @property
    def is_concrete(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def value_shape(self) -> tuple[int, ...]:
        """The shape of one example's array on this wire (the batch axis excluded).

        ``Class[n]`` carries ``n`` numbers, ``Binary[d...]`` one bit per element (a
        ``Binary[28, 28, 1]`` image is ``(28, 28, 1)``), ``Tokens[v, l]`` carries
        ``(l, v)`` (a distribution over the vocabulary at each position), and
        ``Gaussian[d...]`` carries ``(2, d...)``: mean then log-variance.
        """
        shape = tuple(int(d) for d in self.shape)
        if self.kind == "Tokens":
            return (shape[1], shape[0])
        if self.kind == "Gaussian":
            return (2, *shape)
        return shape


@dataclass(frozen=True)
class Signature:
    """A box's type: its input wires' types and its output wires' types."""

    inputs: tuple[WireType, ...]
    outputs: tuple[WireType, ...]

    def __str__(self) -> str:
        ins = ", ".join(str(t) for t in self.inputs)
        outs = ", ".join(str(t) for t in self.outputs)
        return f"{ins} -> {outs}" if ins else f"-> {outs}"
