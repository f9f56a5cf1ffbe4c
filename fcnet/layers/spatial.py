"""Layers that resize the spatial axes without weights: ``UpSampling1D/2D`` (repeat),
``ZeroPadding1D/2D`` (add zeros around) and ``Cropping1D/2D`` (cut the borders off).

Inputs are channels-last: ``(batch, steps, channels)`` for 1-D layers,
``(batch, height, width, channels)`` for 2-D ones.
"""

from __future__ import annotations

from fcnet import backend
from fcnet.layers.arguments import standardize_data_format, standardize_tuple
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term
from fcnet.layers.input_spec import InputSpec

_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")


def _positive_int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Expected an integer value for `{name}`, got {type(value)}.")
    if value <= 0:
        raise ValueError(f"Argument `{name}` should be a positive integer. "
                         f"Received: {name}={value}")
    return value


def _pairs(value, name: str, verb: str) -> tuple:
    """An int, a pair of ints (symmetric) or a pair of pairs as ``((top, bottom),
    (left, right))``, checked with Keras's messages."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((value, value), (value, value))
    if hasattr(value, "__len__"):
        if len(value) != 2:
            raise ValueError(f"`{name}` should have two elements. Received: {name}={value}.")
        return (standardize_tuple(value[0], 2, f"1st entry of {name}", allow_zero=True),
                standardize_tuple(value[1], 2, f"2nd entry of {name}", allow_zero=True))
    raise ValueError(
        f"`{name}` should be either an int, a tuple of 2 ints (symmetric_height_{verb}, "
        f"symmetric_width_{verb}), or a tuple of 2 tuples of 2 ints ((top_{verb}, "
        f"bottom_{verb}), (left_{verb}, right_{verb})). Received: {name}={value}.")


def _grow(size, extra):
    return None if size is None else size + extra


class UpSampling2D(Layer):
    """Repeats rows ``size[0]`` times and columns ``size[1]`` times (nearest neighbour).

    ``y[n, i, j, c] = x[n, i // sh, j // sw, c]``.

    Args:
        size: ``(sh, sw)`` (an int for both); ``(2, 2)``.
        data_format: ``"channels_last"`` only.
        interpolation: ``"nearest"``; the other Keras modes raise NotImplementedError.

    Input shape: ``(batch, h, w, c)``. Output shape: ``(batch, h·sh, w·sw, c)``.
    Math: dx[n, i, j, c] = Σ_{a<sh, b<sw} dy[n, i·sh+a, j·sw+b, c].
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "UpSampling2D")
        self.size = standardize_tuple(size, 2, "size")
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                             f"{_INTERPOLATIONS}. Received: interpolation={interpolation}")
        if self.interpolation != "nearest":
            raise NotImplementedError(
                f"UpSampling2D supports interpolation='nearest' only. "
                f"Received: interpolation={interpolation}")
        self.input_spec = InputSpec(ndim=4)

    def forward(self, x, training=False):
        n, h, w, c = x.shape
        sh, sw = self.size
        y = backend.xp.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c))
        return y.reshape(n, h * sh, w * sw, c), None

    def backward(self, ctx, dy):
        n, h, w, c = dy.shape
        sh, sw = self.size
        return dy.reshape(n, h // sh, sh, w // sw, sw, c).sum(axis=(2, 4))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size[0],
                None if w is None else w * self.size[1], c)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format,
                       "interpolation": self.interpolation})
        return config

    def _explain(self, e):
        """Each pixel repeated ``size`` times along rows and columns."""
        sr, sc = self.size
        if self.interpolation != "nearest":
            return Formula(f"enlarges each image {sr}×{sc} by {self.interpolation} "
                           "interpolation", [f"{e.y} = resize({e.x})"],
                           [f"d{e.x} = the interpolation weights' transpose applied to dy"],
                           [Term("interpolation (about 3 per value)", 3, *e.y_shape[1:])])
        return Formula(f"enlarges each image {sr}×{sc}: every pixel repeated as a {sr}×{sc} "
                       "block", [f"{e.y}: y[n, r, c, ch] = x[n, ⌊r / {sr}⌋, ⌊c / {sc}⌋, ch]"],
                       [f"d{e.x} = dy summed over each {sr}×{sc} block"])


class UpSampling1D(Layer):
    """Repeats each step ``size`` times: ``y[n, t, c] = x[n, t // size, c]``.

    Args:
        size: the repetition factor, a positive int; 2.

    Input shape: ``(batch, steps, c)``. Output shape: ``(batch, steps·size, c)``.
    Math: dx[n, t, c] = Σ_{a<size} dy[n, t·size+a, c].
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = _positive_int(size, "size")
        self.input_spec = InputSpec(ndim=3)

    def forward(self, x, training=False):
        return backend.xp.repeat(x, self.size, axis=1), None

    def backward(self, ctx, dy):
        n, t, c = dy.shape
        return dy.reshape(n, t // self.size, self.size, c).sum(axis=2)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] * self.size
        return (input_shape[0], steps, input_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config["size"] = self.size
        return config

    def _explain(self, e):
        """Each step repeated ``size`` times."""
        return Formula(f"repeats every step {self.size} times",
                       [f"{e.y}: y[n, t, ch] = x[n, ⌊t / {self.size}⌋, ch]"],
                       [f"d{e.x} = dy summed over each run of {self.size} steps"])


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros: ``((top, bottom), (left, right))``.

    Args:
        padding: an int (all four sides), a pair ``(rows, cols)`` (symmetric), or a pair of
            pairs ``((top, bottom), (left, right))``; ``(1, 1)``.
        data_format: ``"channels_last"`` only.

    Input shape: ``(batch, h, w, c)``. Output shape: ``(batch, h+top+bottom, w+left+right, c)``.
    Math: dx = dy with the padded border cut off.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "ZeroPadding2D")
        self.padding = _pairs(padding, "padding", "pad")
        self.input_spec = InputSpec(ndim=4)

    def forward(self, x, training=False):
        (top, bottom), (left, right) = self.padding
        return backend.xp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))), None

    def backward(self, ctx, dy):
        (top, bottom), (left, right) = self.padding
        return dy[:, top:dy.shape[1] - bottom, left:dy.shape[2] - right, :].copy()

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, _grow(h, sum(self.padding[0])), _grow(w, sum(self.padding[1])), c)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config

    def _explain(self, e):
        """``y = x`` surrounded by zeros."""
        return Formula(f"adds zeros around each sample: rows (top, bottom) and "
                       f"columns (left, right) {self.padding}",
                       [f"{e.y} = {e.x} surrounded by zeros {self.padding}"],
                       [f"d{e.x} = dy without its padded border"])


class ZeroPadding1D(Layer):
    """Adds zero steps before and after: ``padding = (before, after)`` (an int for both).

    Input shape: ``(batch, steps, c)``. Output shape: ``(batch, before+steps+after, c)``.
    Math: dx = dy with the padded steps cut off.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "ZeroPadding1D")
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def forward(self, x, training=False):
        return backend.xp.pad(x, ((0, 0), self.padding, (0, 0))), None

    def backward(self, ctx, dy):
        before, after = self.padding
        return dy[:, before:dy.shape[1] - after, :].copy()

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _grow(input_shape[1], sum(self.padding)), input_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config

    def _explain(self, e):
        """``y = x`` surrounded by zeros."""
        return Formula(f"adds zeros around each sample: steps (before, after) "
                       f"{self.padding}",
                       [f"{e.y} = {e.x} surrounded by zeros {self.padding}"],
                       [f"d{e.x} = dy without its padded border"])


class Cropping2D(Layer):
    """Cuts ``((top, bottom), (left, right))`` rows and columns off the borders.

    Args:
        cropping: an int, a pair ``(rows, cols)`` (symmetric) or a pair of pairs
            ``((top, bottom), (left, right))``; ``((0, 0), (0, 0))``.
        data_format: ``"channels_last"`` only.

    Input shape: ``(batch, h, w, c)``. Output shape: ``(batch, h-top-bottom, w-left-right, c)``.
    Math: dx = dy placed inside zeros of the input's shape.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "Cropping2D")
        self.cropping = _pairs(cropping, "cropping", "crop")
        self.input_spec = InputSpec(ndim=4)

    def _inside(self, shape):
        (top, bottom), (left, right) = self.cropping
        return (slice(None), slice(top, shape[1] - bottom), slice(left, shape[2] - right),
                slice(None))

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)  # raises where nothing would be left
        return x[self._inside(x.shape)].copy(), x.shape

    def backward(self, ctx, dy):
        dx = backend.xp.zeros(ctx, dtype=dy.dtype)
        dx[self._inside(ctx)] = dy
        return dx

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        rows, cols = sum(self.cropping[0]), sum(self.cropping[1])
        if (h is not None and rows >= h) or (w is not None and cols >= w):
            raise ValueError(
                "Values in `cropping` argument should be smaller than the corresponding "
                f"spatial dimension of the input. Received: input_shape={tuple(input_shape)}, "
                f"cropping={self.cropping}")
        return (n, _grow(h, -rows), _grow(w, -cols), c)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"cropping": self.cropping, "data_format": self.data_format})
        return config

    def _explain(self, e):
        """``y = x`` with its border cut off."""
        return Formula(f"cuts off the border of each sample: rows (top, bottom) and "
                       f"columns (left, right) {self.cropping}",
                       [f"{e.y} = {e.x} without the border {self.cropping}"],
                       [f"d{e.x} = dy put back in place, zeros where x was cut"])


class Cropping1D(Layer):
    """Cuts ``cropping = (before, after)`` steps off (an int for both); ``(1, 1)``.

    Input shape: ``(batch, steps, c)``. Output shape: ``(batch, steps-before-after, c)``.
    Math: dx = dy placed inside zeros of the input's shape.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def forward(self, x, training=False):
        self.compute_output_shape(x.shape)
        before, after = self.cropping
        return x[:, before:x.shape[1] - after, :].copy(), x.shape

    def backward(self, ctx, dy):
        before, after = self.cropping
        dx = backend.xp.zeros(ctx, dtype=dy.dtype)
        dx[:, before:ctx[1] - after, :] = dy
        return dx

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        if steps is not None and steps - sum(self.cropping) <= 0:
            raise ValueError(
                "`cropping` parameter of `Cropping1D` layer must be smaller than the input "
                f"length. Received: input_shape={tuple(input_shape)}, "
                f"cropping={self.cropping}")
        return (input_shape[0], _grow(steps, -sum(self.cropping)), input_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config["cropping"] = self.cropping
        return config

    def _explain(self, e):
        """``y = x`` with its border cut off."""
        return Formula(f"cuts off the border of each sample: steps (start, end) "
                       f"{self.cropping}",
                       [f"{e.y} = {e.x} without the border {self.cropping}"],
                       [f"d{e.x} = dy put back in place, zeros where x was cut"])
