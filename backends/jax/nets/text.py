"""``nets.text_encoder``, ``nets.text_decoder`` and ``nets.text_editor``: nets over ``Tokens``.

Tokens arrive as a distribution over the vocabulary at each position (one-hot
from data, softmax from a learner), and are embedded by multiplying that
distribution with the embedding table.  For one-hot tokens that is the usual
lookup; for soft tokens it is their expected embedding, and it is
differentiable, so an editor upstream of a text classifier gets a gradient.

Two options serve text manipulators (docs/experiments/sentences.md tells how they
were found):

* ``hard = true`` on a reader (``text_encoder``) makes it read the *most
  probable* word at each position, with the gradient passed straight through
  to the word logits (Bengio et al., 2013).  A classifier so built sees exactly
  the sentence an editor's output decodes to, so the editor cannot fool it with
  a blend of words that no decoded sentence holds;
* ``copy = c`` on ``text_editor`` adds ``c`` times the input sentence to the
  output logits (``c`` is learned from there), with the net's own logits
  starting at zero: changing nothing is where the editor starts, and an edit is
  a few positions where the net outvotes the copy.
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from taskdsl.types import WireType

from .base import VECTORS, Net, Wires, is_tokens, reads_into_vectors
from .inputs import attach, layout
from .outputs import Heads

Cell = Literal["gru", "transformer"]
_TINY = 1e-30  # probabilities below this pass no gradient back through a straight-through read


class Block(nnx.Module):
    """A pre-norm transformer block: self-attention over all positions, then an MLP."""

    def __init__(self, width: int, *, rngs: nnx.Rngs) -> None:
        self.norm_attend = nnx.LayerNorm(width, rngs=rngs)
        # Up to 4 heads, as many as divide the width, so any width is a valid option.
        self.attend = nnx.MultiHeadAttention(
            math.gcd(width, 4), width, decode=False, keep_rngs=False, rngs=rngs
        )
        self.norm_mlp = nnx.LayerNorm(width, rngs=rngs)
        self.up = nnx.Linear(width, 2 * width, rngs=rngs)
        self.down = nnx.Linear(2 * width, width, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x + self.attend(self.norm_attend(x))
        return x + self.down(jax.nn.gelu(self.up(self.norm_mlp(x))))


class BiGRU(nnx.Module):
    """GRUs reading forwards and backwards, their states concatenated at each position.

    A plain ``jax.lax.scan`` from an explicit zero state rather than ``nnx.RNN``:
    the net then keeps no random state and contains no NNX transform, so it can
    be called on a closed-over module inside any JAX transform (``jax.grad``,
    ``jax.eval_shape``), like every other net here.
    """

    def __init__(self, features: int, width: int, *, rngs: nnx.Rngs) -> None:
        self.forward = nnx.GRUCell(features, width, rngs=rngs)
        self.backward = nnx.GRUCell(features, width, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        steps = jnp.swapaxes(x, 0, 1)  # (L, B, F): scan runs over the leading axis
        zeros = jnp.zeros((x.shape[0], self.forward.hidden_features), x.dtype)

        def run(cell: nnx.GRUCell, steps: jax.Array) -> jax.Array:
            return jax.lax.scan(lambda h, x_t: cell(h, x_t), zeros, steps)[1]

        both = [run(self.forward, steps), run(self.backward, steps[::-1])[::-1]]
        return jnp.swapaxes(jnp.concatenate(both, axis=-1), 0, 1)


class PositionBias(nnx.Module):
    """A learned vector added at each position: attention alone cannot tell positions apart."""

    def __init__(self, length: int, width: int, *, rngs: nnx.Rngs) -> None:
        self.bias = nnx.Param(0.02 * jax.random.normal(rngs.params(), (length, width)))

    def __call__(self, x: jax.Array) -> jax.Array:
        return x + self.bias[...]


class Reader(nnx.Module):
    """Inputs to features at each position, following the package's input rule.

    The first ``Tokens`` input is soft-embedded; without one (a decoder from a
    vector alone) a learned embedding per position stands in.  Every other input
    is concatenated to each position, then a bidirectional GRU or a transformer
    block mixes positions; ``features`` is the width of what comes out.
    """

    def __init__(self, inputs: Wires, length: int, *, rngs: nnx.Rngs, embed: int, width: int,
                 cell: Cell, hard: bool = False) -> None:
        self.layout = layout(inputs, is_tokens)
        self.hard = hard
        if self.layout.carrier is None:
            self.start = PositionBias(length, embed, rngs=rngs)
        else:
            vocab = inputs[self.layout.carrier].value_shape[-1]
            self.table = nnx.Embed(vocab, embed, rngs=rngs)
        features = embed + self.layout.extra
        if cell == "gru":
            self.mix = BiGRU(features, width, rngs=rngs)
            self.features = 2 * width
        else:
            self.mix = nnx.Sequential(
                nnx.Linear(features, width, rngs=rngs),
                PositionBias(length, width, rngs=rngs),
                Block(width, rngs=rngs),
                nnx.LayerNorm(width, rngs=rngs),
            )
            self.features = width

    def __call__(self, xs: tuple[jax.Array, ...]) -> jax.Array:
        tokens, extras = self.layout.split(xs)
        if tokens is None:
            e = self.start(jnp.zeros((xs[0].shape[0], *self.start.bias.shape)))
        else:
            if self.hard:
                tokens = straight_through(tokens)
            e = jnp.einsum("blv,ve->ble", tokens, self.table.embedding[...])
        return self.mix(attach(e, extras))


def straight_through(tokens: jax.Array) -> jax.Array:
    """The one-hot of the most probable word at each position, its gradient passed straight
    through to the *logits* of ``tokens`` (a softmax upstream).

    Passing it to the probabilities instead would go through the softmax's Jacobian,
    ``p_v (1 - p_v)``, which is all but zero at a confident editor's output: a word the
    editor does not yet propose would never get the gradient that could make it proposed.
    The derivative of ``log p`` undoes that factor, so the gradient of word ``v`` at a
    position is what the reader would gain from it, as in the straight-through estimator.
    """
    present = tokens.sum(-1, keepdims=True) > 0  # a dropped word (drop[p]) stays no word
    hard = jax.nn.one_hot(tokens.argmax(-1), tokens.shape[-1], dtype=tokens.dtype) * present
    log = jnp.log(jnp.maximum(tokens, _TINY))
    return hard + log - jax.lax.stop_gradient(log)


class TextEncoder(Net):
    """Read the tokens (``Reader``), average over positions, dense heads to vector outputs."""

    expects = f"a Tokens[v, l] input plus optional conditioning inputs -> {VECTORS}"

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        return reads_into_vectors(is_tokens, inputs, outputs)

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs, embed: int = 64,
                 width: int = 128, cell: Cell = "gru", hard: bool = False) -> None:
        length = next(filter(is_tokens, inputs)).value_shape[0]
        self.reader = Reader(inputs, length, embed=embed, width=width, cell=cell, hard=hard,
                             rngs=rngs)
        self.heads = Heads(self.reader.features, outputs, rngs=rngs)

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        return self.heads(self.reader(xs).mean(axis=1))


def _same_length(tokens: WireType, output: WireType) -> bool:
    return tokens.value_shape[0] == output.value_shape[0]


class TextDecoder(Net):
    """Read the inputs (``Reader``) and give vocabulary logits at each output position.

    With a ``Tokens`` input it rewrites that sentence position by position (the
    output has its length); without one it writes a sentence from the other
    inputs alone, e.g. a VAE's latent vector.
    """

    expects = ("one or more inputs, of which the first Tokens input (if any) has the output's "
               "length, plus conditioning -> one Tokens[v, l] output")

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        if not inputs or len(outputs) != 1 or not is_tokens(outputs[0]):
            return False
        tokens = next(filter(is_tokens, inputs), None)
        return tokens is None or _same_length(tokens, outputs[0])

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs, embed: int = 64,
                 width: int = 128, cell: Cell = "gru") -> None:
        length, vocab = outputs[0].value_shape
        self.reader = Reader(inputs, length, embed=embed, width=width, cell=cell, rngs=rngs)
        self.logits = nnx.Linear(self.reader.features, vocab, rngs=rngs)

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        return (self.logits(self.reader(xs)),)


class TextEditor(TextDecoder):
    """``TextDecoder`` that must rewrite a given sentence: it insists on a ``Tokens`` input."""

    expects = ("a Tokens[v, l] input plus optional conditioning inputs -> "
               "one Tokens[v', l] output of the same length")

    @classmethod
    def accepts(cls, inputs: Wires, outputs: Wires) -> bool:
        return any(map(is_tokens, inputs)) and super().accepts(inputs, outputs)

    def __init__(self, inputs: Wires, outputs: Wires, *, rngs: nnx.Rngs, embed: int = 64,
                 width: int = 128, cell: Cell = "gru", copy: float = 0.0) -> None:
        super().__init__(inputs, outputs, rngs=rngs, embed=embed, width=width, cell=cell)
        carrier = inputs[self.reader.layout.carrier]
        same_vocab = carrier.value_shape[-1] == outputs[0].value_shape[-1]
        self.copy = nnx.Param(jnp.asarray(copy, jnp.float32)) if copy and same_vocab else None
        if self.copy is not None:  # the net's own logits start at zero: no edit at first
            self.logits.kernel[...] = jnp.zeros_like(self.logits.kernel[...])
            self.logits.bias[...] = jnp.zeros_like(self.logits.bias[...])

    def __call__(self, *xs: jax.Array) -> tuple[jax.Array, ...]:
        (logits,) = super().__call__(*xs)
        if self.copy is None:
            return (logits,)
        tokens, _ = self.reader.layout.split(xs)
        return (logits + self.copy[...] * tokens,)
