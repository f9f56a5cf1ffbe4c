"""``Flatten`` and ``Reshape``: change the shape, keep the values (row-major order)."""

from __future__ import annotations

import math

from fcnet.layers.base import Layer


class Flatten(Layer):
    """Flattens every axis after the batch axis: ``(batch, h, w, c) -> (batch, h*w*c)``.

    The order is channels-last row-major (h, w, c), as Keras's, so weights move
    between fcnet and Keras unchanged. Math: dx = dy reshaped back to x's shape.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, ctx, dy):
        return dy.reshape(ctx)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self) -> dict:
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one axis may be -1).

    Args:
        target_shape: the sample shape, batch axis excluded.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def forward(self, x, training=False):
        return x.reshape((x.shape[0],) + self.target_shape), x.shape

    def backward(self, ctx, dy):
        return dy.reshape(ctx)

    def compute_output_shape(self, input_shape):
        shape = list(self.target_shape)
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            rest = input_shape[1:]
            total = None if any(d is None for d in rest) else math.prod(rest)
            shape[shape.index(-1)] = None if total is None else total // known
        return (input_shape[0],) + tuple(shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config
