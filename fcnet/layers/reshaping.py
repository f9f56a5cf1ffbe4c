"""``Flatten``, ``Reshape``, ``Permute`` and ``RepeatVector``: move or copy values
without arithmetic (row-major order)."""

from __future__ import annotations

import math

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula
from fcnet.layers.input_spec import InputSpec


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

    def _explain(self, e):
        """``y = flatten(x)``: the values in row-major order, nothing computed."""
        return Formula(f"lays each sample's {e.size(e.x_shape)} values out in one row "
                       "(row-major order); nothing is computed",
                       [f"{e.y} = flatten({e.x})"], [f"d{e.x} = dy reshaped back to x's shape"])


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one axis may be -1).

    ``y[n] = reshape(x[n], target_shape)``: the same values in the same (row-major)
    order, so the gradient only changes shape back.

    Args:
        target_shape: the sample shape, batch axis excluded.

    Input shape: ``(batch, *in_shape)``. Output shape: ``(batch, *target_shape)``.

    Math: ``dx = reshape(dy, x.shape)``.
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

    def _explain(self, e):
        """``y = reshape(x)``, nothing computed."""
        return Formula("gives each sample a new shape, same values in the same order",
                       [f"{e.y} = reshape({e.x}, {tuple(self.target_shape)})"],
                       [f"d{e.x} = dy reshaped back to x's shape"])


class Permute(Layer):
    """Permutes the axes after the batch axis: ``y = transpose(x, (0,) + dims)``.

    Args:
        dims: a permutation of ``1 … rank - 1`` (1-based: the batch axis is 0 and is not
            moved), e.g. ``(2, 1)`` swaps the two axes of ``(batch, steps, features)``.

    Input shape: ``(batch, d_1, …, d_k)``. Output shape: ``(batch, d_dims[0], …)``.
    Math: dx = dy transposed by the inverse permutation.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices "
                f"in `dims` must be consecutive and start from 1. Received dims={dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def forward(self, x, training=False):
        return backend.xp.ascontiguousarray(x.transpose((0,) + self.dims)), None

    def backward(self, ctx, dy):
        inverse = [0] * (len(self.dims) + 1)
        for position, axis in enumerate((0,) + self.dims):
            inverse[axis] = position
        return backend.xp.ascontiguousarray(dy.transpose(inverse))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self) -> dict:
        config = super().get_config()
        config["dims"] = self.dims
        return config

    def _explain(self, e):
        """``y = transpose(x)`` over the non-batch axes."""
        back = tuple(self.dims.index(i) + 1 for i in range(1, len(self.dims) + 1))
        return Formula(f"reorders the axes of each sample as {self.dims}",
                       [f"{e.y} = transpose({e.x}, (0,) + {self.dims})"],
                       [f"d{e.x} = transpose(dy, (0,) + {back})   (the inverse order)"])


class RepeatVector(Layer):
    """Repeats each input vector ``n`` times: ``(batch, features) -> (batch, n, features)``.

    Args:
        n: the number of repetitions, a positive int.

    Math: dx = Σ_t dy[:, t, :].
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = n
        self.input_spec = InputSpec(ndim=2)

    def forward(self, x, training=False):
        xp = backend.xp
        return xp.broadcast_to(x[:, None, :], (x.shape[0], self.n, x.shape[1])).copy(), None

    def backward(self, ctx, dy):
        return dy.sum(axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict:
        config = super().get_config()
        config["n"] = self.n
        return config

    def _explain(self, e):
        """``y[n, t, :] = x[n, :]`` for each of the n steps."""
        return Formula(f"repeats each sample's vector {self.n} times along a new steps axis",
                       [f"{e.y}: y[n, t, :] = x[n, :] for t < {self.n}"],
                       [f"d{e.x} = Σ_t dy[:, t, :]   (each copy's gradient added up)"])
