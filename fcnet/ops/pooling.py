"""Max and average pooling over the spatial axes of a channels-last batch.

The input is ``x: (batch, *spatial, channels)`` with one spatial axis (1-D pooling) or
two (2-D). A window of ``pool_size`` moves by ``strides``; with ``padding="valid"`` only
whole windows count (``out = floor((in - pool) / stride) + 1``, the last rows that no
window reaches are dropped); with ``"same"`` the input is padded so that
``out = ceil(in / stride)``, ``pad = max((out - 1) * stride + pool - in, 0)``, the
smaller half before and the larger after (TensorFlow's and Keras's arithmetic).

Forward:   max:      y[o] = max_{k in window(o)} x[k]        (padding never wins)
           average:  y[o] = Σ_{k in window(o)} x[k] / count(o)
                     count(o) = the window's unpadded elements (padding is not averaged)
Backward:  max:      dx[k] = Σ_o dy[o] · [k = the first argmax of window(o)]
           average:  dx[k] = Σ_{o : k in window(o)} dy[o] / count(o)

Each pass loops over the ``prod(pool_size)`` offsets of a window, never over samples or
pixels: offset ``(i, j)`` of every window is one strided slice of the (padded) input,
``x[:, i::stride_h, j::stride_w, :]`` cut to the output's extent.
"""

from __future__ import annotations

import itertools
import math

from fcnet import backend
from fcnet.ops import compiled


def pooling_geometry(spatial, pool_size, strides, padding: str):
    """``(out_shape, pads)`` for the spatial shape ``spatial``; ``pads`` holds one
    ``(before, after)`` pair per axis. Sizes may be None (unknown): their output is None."""
    out, pads = [], []
    for size, pool, stride in zip(spatial, pool_size, strides):
        if size is None:
            out.append(None)
            pads.append((0, 0))
        elif padding == "same":
            n = -(-size // stride)
            total = max((n - 1) * stride + pool - size, 0)
            out.append(n)
            pads.append((total // 2, total - total // 2))
        else:
            out.append((size - pool) // stride + 1)
            pads.append((0, 0))
    return tuple(out), tuple(pads)


def _pad(x, pads, value):
    """``x`` with ``pads`` added around its spatial axes, filled with ``value``."""
    if not any(before or after for before, after in pads):
        return x
    xp = backend.xp
    shape = (x.shape[0],) + tuple(s + b + a for s, (b, a) in zip(x.shape[1:-1], pads)) + (
        x.shape[-1],)
    padded = xp.full(shape, value, dtype=x.dtype)
    padded[_inner(x.shape, pads)] = x
    return padded


def _inner(shape, pads):
    """The slice of a padded array that holds the original ``shape``."""
    return (slice(None),) + tuple(slice(b, b + s) for s, (b, _) in zip(shape[1:-1], pads)) + (
        slice(None),)


def _window_slices(out_shape, pool_size, strides):
    """For each window offset, the slice of the padded input that offset covers."""
    for offset in itertools.product(*(range(p) for p in pool_size)):
        yield (slice(None),) + tuple(
            slice(k, k + s * (o - 1) + 1, s) for k, o, s in zip(offset, out_shape, strides)
        ) + (slice(None),)


def _check_output(x_shape, out_shape, pool_size, strides, padding):
    if any(o <= 0 for o in out_shape):
        raise ValueError(
            "Computed output size would be zero or negative. Received: "
            f"`inputs.shape={tuple(x_shape)}`, `pool_size={tuple(pool_size)}`, "
            f"`strides={tuple(strides)}`, `padding={padding}`.")


def max_pool_forward(x, pool_size, strides, padding: str = "valid"):
    """``(y, ctx)``: the max of each window; ``ctx`` is what ``max_pool_backward`` needs.

    With the compiled kernels (``fcnet.ops.compiled``: 1-D and 2-D float32 pooling),
    ``ctx`` keeps each window's argmax instead of the padded input and ``y``."""
    out_shape, pads = pooling_geometry(x.shape[1:-1], pool_size, strides, padding)
    _check_output(x.shape, out_shape, pool_size, strides, padding)
    xp = backend.xp
    padded = _pad(x, pads, -xp.inf)
    geometry = (x.shape, pads, tuple(pool_size), tuple(strides))
    fast = compiled.max_pool_forward(padded, out_shape, pool_size, strides)
    if fast is not None:
        y, arg = fast
        return y, (None, arg, padded.shape) + geometry
    slices = _window_slices(out_shape, pool_size, strides)
    y = padded[next(slices)].copy()
    for window in slices:
        xp.maximum(y, padded[window], out=y)
    return y, (padded, y, padded.shape) + geometry


def max_pool_backward(ctx, dy):
    """``dx``: each ``dy`` goes to the first maximum of its window (an argmax's choice)."""
    padded, y_or_arg, padded_shape, x_shape, pads, pool_size, strides = ctx
    if padded is None:  # the compiled forward kept the argmax
        dx = compiled.max_pool_backward(dy, y_or_arg, padded_shape, pool_size, strides)
        if dx is None:
            dx = _route_to_argmax(dy, y_or_arg, padded_shape, pool_size, strides)
    else:
        dx = _route_to_first_max(dy, padded, y_or_arg, pool_size, strides)
    return dx[_inner(x_shape, pads)]


def _route_to_first_max(dy, padded, y, pool_size, strides):
    """The padded ``dx`` from the padded input and ``y``: offsets are visited in window
    order; ``rest`` holds the dy not yet routed, so a tie later in the window finds it
    already taken."""
    xp = backend.xp
    dx = xp.zeros(padded.shape, dtype=dy.dtype)
    overlap = any(p > s for p, s in zip(pool_size, strides))
    rest = dy.copy()
    hit = xp.empty(y.shape, dtype=bool)
    routed = xp.empty_like(rest) if overlap else None
    windows = list(_window_slices(y.shape[1:-1], pool_size, strides))
    for k, window in enumerate(windows):
        xp.equal(padded[window], y, out=hit)
        if overlap:  # windows share inputs: add
            xp.multiply(rest, hit, out=routed)
            dx[window] += routed
        else:  # each input is in one window at most: write
            routed = dx[window]
            xp.multiply(rest, hit, out=routed)
        if k + 1 < len(windows):
            rest -= routed
    return dx


def _route_to_argmax(dy, arg, padded_shape, pool_size, strides):
    """The padded ``dx`` from the argmax offsets ``arg`` the compiled forward kept (where
    the compiled backward may not run: another dtype or layout of ``dy``)."""
    xp = backend.xp
    dx = xp.zeros(padded_shape, dtype=dy.dtype)
    for k, window in enumerate(_window_slices(arg.shape[1:-1], pool_size, strides)):
        dx[window] += dy * (arg == k)
    return dx


def _window_counts(x_shape, out_shape, pads, pool_size, strides, dtype):
    """The number of unpadded elements in each window, broadcastable against ``y``."""
    xp = backend.xp
    counts = None
    for axis, (size, n, (before, _), pool, stride) in enumerate(
            zip(x_shape[1:-1], out_shape, pads, pool_size, strides)):
        start = xp.arange(n) * stride - before
        count = xp.minimum(start + pool, size) - xp.maximum(start, 0)
        shape = [1] * (len(x_shape))
        shape[axis + 1] = n
        count = count.reshape(shape)
        counts = count if counts is None else counts * count
    return counts.astype(dtype)


def average_pool_forward(x, pool_size, strides, padding: str = "valid"):
    """``(y, ctx)``: the mean of each window's unpadded elements."""
    out_shape, pads = pooling_geometry(x.shape[1:-1], pool_size, strides, padding)
    _check_output(x.shape, out_shape, pool_size, strides, padding)
    xp = backend.xp
    padded = _pad(x, pads, 0)
    slices = _window_slices(out_shape, pool_size, strides)
    y = padded[next(slices)].copy()
    for window in slices:
        xp.add(y, padded[window], out=y)
    if any(before or after for before, after in pads):
        scale = 1 / _window_counts(x.shape, out_shape, pads, pool_size, strides, x.dtype)
    else:
        scale = x.dtype.type(1 / math.prod(pool_size))
    y *= scale
    return y, (x.shape, padded.shape, pads, tuple(pool_size), tuple(strides), scale)


def average_pool_backward(ctx, dy):
    """``dx``: each ``dy / count`` spread over its window's elements."""
    x_shape, padded_shape, pads, pool_size, strides, scale = ctx
    xp = backend.xp
    dx = xp.zeros(padded_shape, dtype=dy.dtype)
    share = dy * scale
    overlap = any(p > s for p, s in zip(pool_size, strides))
    for window in _window_slices(dy.shape[1:-1], pool_size, strides):
        if overlap:
            dx[window] += share
        else:
            dx[window] = share
    return dx[_inner(x_shape, pads)]


def global_max_forward(x, keepdims: bool = False):
    """``(y, ctx)``: the max over every spatial axis, per sample and channel."""
    axes = tuple(range(1, x.ndim - 1))
    return x.max(axis=axes, keepdims=keepdims), x


def global_max_backward(x, dy):
    """``dx``: each ``dy`` goes to the first maximum (row-major) of its channel."""
    xp = backend.xp
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    first = flat.argmax(axis=1)[:, None, :]
    hit = xp.arange(flat.shape[1])[None, :, None] == first
    return (hit * dy.reshape(x.shape[0], 1, x.shape[-1])).reshape(x.shape)


def global_average_forward(x, keepdims: bool = False):
    """``(y, ctx)``: the mean over every spatial axis, per sample and channel."""
    axes = tuple(range(1, x.ndim - 1))
    return x.mean(axis=axes, keepdims=keepdims, dtype=x.dtype), x.shape


def global_average_backward(x_shape, dy):
    """``dx = dy / (number of spatial positions)``, broadcast over them."""
    xp = backend.xp
    count = math.prod(x_shape[1:-1])
    share = (dy / dy.dtype.type(count)).reshape(x_shape[0], *([1] * (len(x_shape) - 2)),
                                                 x_shape[-1])
    return xp.broadcast_to(share, x_shape).copy()
