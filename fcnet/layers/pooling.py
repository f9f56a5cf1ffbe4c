"""Pooling layers: max and average over windows (1-D, 2-D) or over every position.

The math lives in ``fcnet.ops.pooling``; these layers hold the arguments, shapes and
configs, with Keras's names, defaults and config keys. Inputs are channels-last:
``(batch, steps, channels)`` for 1-D layers, ``(batch, height, width, channels)`` for 2-D.
"""

from __future__ import annotations

from fcnet.layers.arguments import standardize_data_format, standardize_tuple
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term
from fcnet.layers.input_spec import InputSpec
from fcnet.ops import pooling as ops


class _Pooling(Layer):
    """Max or average pooling over windows of ``pool_size`` moved by ``strides``."""

    pool_dimensions = 2
    forward_op = staticmethod(ops.max_pool_forward)
    backward_op = staticmethod(ops.max_pool_backward)

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        n = self.pool_dimensions
        self.pool_size = standardize_tuple(pool_size, n, "pool_size")
        self.strides = standardize_tuple(pool_size if strides is None else strides, n,
                                         "strides")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError("Argument `padding` must be either 'valid' or 'same'. "
                             f"Received: padding={padding}")
        self.padding = padding
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.input_spec = InputSpec(ndim=n + 2)

    def forward(self, x, training=False):
        return self.forward_op(x, self.pool_size, self.strides, self.padding.lower())

    def backward(self, ctx, dy):
        return self.backward_op(ctx, dy)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        out, _ = ops.pooling_geometry(input_shape[1:-1], self.pool_size, self.strides,
                                      self.padding.lower())
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                "Computed output size would be zero or negative. Received: "
                f"`inputs.shape={input_shape}`, `pool_size={self.pool_size}`, "
                f"`strides={self.strides}`, `padding={self.padding}`.")
        return (input_shape[0],) + out + (input_shape[-1],)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config

    def _explain(self, e):
        """``y = max`` (or mean) of each window, with this call's shapes."""
        kind = "max" if "Max" in type(self).__name__ else "mean"
        names, taps = (("t",), ("a",)) if self.pool_dimensions == 1 else (("r", "c"), ("a", "b"))
        reads = ", ".join(f"{s}·{o} + {t}" if s > 1 else f"{o} + {t}"
                          for o, t, s in zip(names, taps, self.strides))
        window = "×".join(map(str, self.pool_size)) + ("-step" if len(names) == 1 else "")
        k = 1
        for p in self.pool_size:
            k *= p
        bounds = ", ".join(f"{t} < {p}" for t, p in zip(taps, self.pool_size))
        forward = [f"{e.y} = {kind}-pool({e.x}, window {window}, strides "
                   f"{'×'.join(map(str, self.strides))})",
                   f"y[n, {', '.join(names)}, ch] = {kind}_{{{bounds}}} "
                   f"x[n, {reads}, ch]" + ("   (padding='same': windows cut at the edge)"
                                          if self.padding.lower() == "same" else "")]
        backward = [f"d{e.x} = dy sent to the position of each window's maximum, 0 elsewhere"
                    if kind == "max" else
                    f"d{e.x} = dy / {k} shared by every position of each window"]
        flops = (Term(f"compares: {window} − 1 per window", k - 1, *e.y_shape[1:])
                 if kind == "max" else Term(f"adds and one divide: {window} per window", k,
                                            *e.y_shape[1:]))
        stride = "×".join(map(str, self.strides))
        about = (f"{kind} pooling: each output is the {'largest' if kind == 'max' else 'mean'} "
                 f"of a {window} window of one channel, moved by {stride}")
        return Formula(about, forward, backward, [flops])


class MaxPooling2D(_Pooling):
    """Max pooling over 2-D windows: ``y[n, i, j, c] = max_{a<ph, b<pw} x[n, i·sh+a, j·sw+b, c]``.

    Args:
        pool_size: the window ``(ph, pw)`` (an int for both); ``(2, 2)``.
        strides: the step ``(sh, sw)``; None (the default) means ``pool_size``.
        padding: ``"valid"`` (whole windows only: ``out = floor((in - p) / s) + 1``) or
            ``"same"`` (``out = ceil(in / s)``, padding never chosen as a maximum).
        data_format: ``"channels_last"`` only.

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, out_height, out_width, channels)``.
    Weights: none.

    Math: dL/dx = dy routed to the first maximum of each window (an argmax's choice), 0
    elsewhere; overlapping windows add their shares.

    Example:
        >>> MaxPooling2D((2, 2))(numpy.zeros((1, 26, 26, 32))).shape
        (1, 13, 13, 32)
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling2D(_Pooling):
    """Average pooling over 2-D windows: ``y = mean of each window's unpadded elements``.

    Args:
        pool_size, strides, padding, data_format: as in ``MaxPooling2D``. With
            ``"same"`` the padded positions are left out of each mean (Keras, TensorFlow).

    Input shape: ``(batch, height, width, channels)``.
    Output shape: ``(batch, out_height, out_width, channels)``.
    Weights: none.

    Math: dL/dx[k] = Σ over the windows o holding k of dy[o] / count(o).
    """

    forward_op = staticmethod(ops.average_pool_forward)
    backward_op = staticmethod(ops.average_pool_backward)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling1D(_Pooling):
    """Max pooling over windows of steps: ``y[n, t, c] = max_{a<p} x[n, t·s+a, c]``.

    Args: as ``MaxPooling2D`` with ints: ``pool_size=2``, ``strides=None`` (= pool_size).
    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, out_steps, channels)``.
    Math: dL/dx = dy routed to the first maximum of each window.
    """

    pool_dimensions = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(_Pooling):
    """Average pooling over windows of steps (padding left out of the mean with "same").

    Args: as ``MaxPooling1D``.
    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, out_steps, channels)``.
    Math: dL/dx[k] = Σ over the windows o holding k of dy[o] / count(o).
    """

    pool_dimensions = 1
    forward_op = staticmethod(ops.average_pool_forward)
    backward_op = staticmethod(ops.average_pool_backward)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class _GlobalPooling(Layer):
    """Max or mean over every spatial position, per sample and channel."""

    pool_dimensions = 2
    forward_op = staticmethod(ops.global_max_forward)
    backward_op = staticmethod(ops.global_max_backward)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=self.pool_dimensions + 2)

    def forward(self, x, training=False):
        return self.forward_op(x, self.keepdims)

    def backward(self, ctx, dy):
        return self.backward_op(ctx, dy)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.pool_dimensions + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config

    def _explain(self, e):
        """``y = max`` (or mean) over every position, per channel."""
        kind = "max" if "Max" in type(self).__name__ else "mean"
        axes = "t" if self.pool_dimensions == 1 else "r, c"
        positions = e.size(e.x_shape[:-1])
        over = "steps" if axes == "t" else "rows and columns"
        forward = [f"{e.y} = {kind} of {e.x} over its {over}",
                   f"y[n, ch] = {kind}_{{{axes}}} x[n, {axes}, ch]"]
        backward = [f"d{e.x} = dy at the position of each channel's maximum, 0 elsewhere"
                    if kind == "max" else
                    f"dx[n, {axes}, ch] = dy[n, ch] / {positions}   (dx shaped as x)"]
        flops = Term("compares" if kind == "max" else "adds and one divide",
                     None if positions is None else positions - (kind == "max"),
                     e.x_shape[-1])
        about = (f"global {kind} pooling: one value per channel, the "
                 f"{'largest' if kind == 'max' else 'mean'} over all {positions} positions")
        return Formula(about, forward, backward, [flops])


class GlobalMaxPooling2D(_GlobalPooling):
    """``y[n, c] = max_{i, j} x[n, i, j, c]``.

    Args:
        data_format: ``"channels_last"`` only.
        keepdims: keep the spatial axes as size 1: ``(batch, 1, 1, channels)``.

    Input shape: ``(batch, height, width, channels)``. Output shape: ``(batch, channels)``.
    Math: dL/dx = dy at the first (row-major) maximum of each channel, 0 elsewhere.
    """


class GlobalAveragePooling2D(_GlobalPooling):
    """``y[n, c] = mean_{i, j} x[n, i, j, c]``.

    Args: as ``GlobalMaxPooling2D``.
    Input shape: ``(batch, height, width, channels)``. Output shape: ``(batch, channels)``.
    Math: dL/dx[n, i, j, c] = dy[n, c] / (height · width).
    """

    forward_op = staticmethod(ops.global_average_forward)
    backward_op = staticmethod(ops.global_average_backward)


class GlobalMaxPooling1D(_GlobalPooling):
    """``y[n, c] = max_t x[n, t, c]``.

    Args: as ``GlobalMaxPooling2D`` (``keepdims`` gives ``(batch, 1, channels)``).
    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, channels)``.
    Math: dL/dx = dy at the first maximum over the steps, 0 elsewhere.
    """

    pool_dimensions = 1


class GlobalAveragePooling1D(_GlobalPooling):
    """``y[n, c] = mean_t x[n, t, c]`` (masks are not supported).

    Args: as ``GlobalMaxPooling2D`` (``keepdims`` gives ``(batch, 1, channels)``).
    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, channels)``.
    Math: dL/dx[n, t, c] = dy[n, c] / steps.
    """

    pool_dimensions = 1
    forward_op = staticmethod(ops.global_average_forward)
    backward_op = staticmethod(ops.global_average_backward)
