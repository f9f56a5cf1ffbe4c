"""Numerically stable element-wise maths shared by the losses (and AUC's logits).

Every function works on ``backend.xp`` arrays and keeps their float dtype.
"""

from __future__ import annotations

from fcnet import backend


def softplus(x):
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)."""
    xp = backend.xp
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid(x):
    """1 / (1 + e^-x) without overflow for any finite x."""
    xp = backend.xp
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(x, axis=-1):
    """x - logsumexp(x): the shift by the max keeps every exponent <= 0."""
    xp = backend.xp
    s = x - xp.max(x, axis=axis, keepdims=True)
    return s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))


def clip(x, low, high):
    """``clip(x, low, high)`` in two ufunc calls (numpy's clip has more overhead)."""
    xp = backend.xp
    return xp.minimum(xp.maximum(x, low), high)


def mean(x, axis=-1):
    """``x.mean(axis)`` as sum / count (the same arithmetic, less call overhead)."""
    return x.sum(axis=axis) / x.shape[axis]


def expand_last(g, ndim: int):
    """Per-sample ``g`` broadcast against arrays with ``ndim`` axes (the reduced
    last axis restored); a scalar ``g`` is returned as is."""
    if getattr(g, "ndim", 0) == 0:
        return g
    return g.reshape(g.shape + (1,) * (ndim - g.ndim))


def sum_to_shape(x, shape):
    """Undoes broadcasting: sums ``x`` down to ``shape`` (the gradient of a broadcast)."""
    if x.shape == tuple(shape):
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1
    )
    return x.sum(axis=axes, keepdims=True).reshape(shape)
