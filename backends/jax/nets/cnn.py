"""``nets.cnn``: the classic convolutional classifier (conv, pool, conv, pool, dense)."""

from __future__ import annotations

from .conv import ConvEncoder


class CNN(ConvEncoder):
    """``ConvEncoder`` with max-pooling instead of strides: 3x3 convolutions at full resolution
    see finer strokes, which is what gets MNIST past 98% in a couple of thousand steps.
    """

    pool = True
