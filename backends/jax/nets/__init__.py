"""The architectures an ``impl`` line names: ``impl get = nets.cnn(width = 32)``.

``build(name, inputs, outputs, options, rngs)`` returns a Flax NNX module whose
``__call__(*xs)`` takes one batch per input wire (wire values: probabilities
for ``Class``/``Binary``/``Tokens``) and returns a tuple with one batch per
output wire in the learner representation (logits for ``Class``/``Binary``/
``Tokens``, stacked mean and log-variance for ``Gaussian``).  A dotted name
that is not a builtin (``mypkg.models.MyNet``) is a user's module class, built
as ``MyNet(inputs=..., outputs=..., rngs=..., **options)``.

How several input wires reach a net (one rule for every family):

* A net reads at most one *carrier*: an input with positions.  Image nets
  (``cnn``, ``conv_encoder``, ``unet``) carry the first ``Real[H, W, C]``
  input; text nets carry the first ``Tokens`` input (soft-embedded).
* Every other input, in declared order, is flattened (a ``Gaussian[d]`` gives
  its ``2d`` means and log-variances, ``Tokens[v, l]`` its ``l*v`` numbers) and
  concatenated to the carrier's features at every position: for an image, a
  ``Class[10]`` becomes 10 constant channels after the image's own; for text,
  10 more numbers in each token's embedding.  ``unet`` attaches them again at
  its bottleneck.
* A net without a carrier (``mlp``, ``conv_decoder``, ``text_decoder`` given
  no ``Tokens``) flattens and concatenates all inputs in declared order.

``inputs.attach`` and ``inputs.flatten_concat`` implement this rule, and every
family calls them.  ``docs/nets.md`` lists the nets and their options.
"""

from .base import Net
from .errors import NetError
from .inputs import attach, flatten_concat
from .registry import NETS, build

__all__ = ["NETS", "Net", "NetError", "attach", "build", "flatten_concat"]
