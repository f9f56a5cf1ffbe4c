"""Regression losses: MSE, MAE, MAPE, MSLE, Huber, LogCosh, CosineSimilarity.

Each per-sample value is a mean over the last axis (cosine similarity: a sum over
``axis``), so each backward divides by that axis's size D.
"""

from __future__ import annotations

import math

from fcnet import backend
from fcnet.losses.base import (
    Loss,
    LossFunctionWrapper,
    apply_kernel,
    clip,
    expand_last,
    mean,
    register_kernel,
    softplus,
)

_EPS = 1e-7  # backend.epsilon(), Keras's fuzz factor


def _expand_at(x, axis):
    return x if getattr(x, "ndim", 0) == 0 else backend.xp.expand_dims(x, axis)


# --------------------------------------------------------------- MSE
def _mse_forward(t, p):
    d = p - t
    return mean(d * d), d


def _mse_backward(d, g):
    return d * expand_last(g * (2.0 / d.shape[-1]), d.ndim)


def mean_squared_error(y_true, y_pred):
    """Per-sample ``mean((y_true - y_pred)**2, axis=-1)``."""
    return apply_kernel(_mse_forward, y_true, y_pred)


# --------------------------------------------------------------- MAE
def _mae_forward(t, p):
    d = p - t
    return mean(backend.xp.abs(d)), d


def _mae_backward(d, g):
    return backend.xp.sign(d) * expand_last(g * (1.0 / d.shape[-1]), d.ndim)


def mean_absolute_error(y_true, y_pred):
    """Per-sample ``mean(abs(y_true - y_pred), axis=-1)``."""
    return apply_kernel(_mae_forward, y_true, y_pred)


# --------------------------------------------------------------- MAPE
def _mape_forward(t, p):
    xp = backend.xp
    den = xp.maximum(xp.abs(t), _EPS)  # Keras: divide by max(|y_true|, eps)
    d = p - t
    return 100.0 * mean(xp.abs(d) / den), (d, den)


def _mape_backward(ctx, g):
    d, den = ctx
    return backend.xp.sign(d) / den * expand_last(g * (100.0 / d.shape[-1]), d.ndim)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample ``100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)``."""
    return apply_kernel(_mape_forward, y_true, y_pred)


# --------------------------------------------------------------- MSLE
def _msle_forward(t, p):
    xp = backend.xp
    p1 = xp.maximum(p, _EPS) + 1.0
    d = xp.log(p1) - xp.log(xp.maximum(t, _EPS) + 1.0)
    return mean(d * d), (d, p1, p > _EPS)


def _msle_backward(ctx, g):
    d, p1, inside = ctx  # d/dp log(max(p, eps) + 1) = [p > eps] / (p + 1)
    return d * inside / p1 * expand_last(g * (2.0 / d.shape[-1]), d.ndim)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample ``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)``."""
    return apply_kernel(_msle_forward, y_true, y_pred)


# --------------------------------------------------------------- Huber
def _huber_forward(t, p, delta=1.0):
    xp = backend.xp
    e = p - t
    a = xp.abs(e)
    quad = xp.minimum(a, delta)  # 0.5 e^2 inside delta, delta*|e| - 0.5 delta^2 outside
    values = mean(quad * (a - 0.5 * quad))
    return values, (e, delta)


def _huber_backward(ctx, g):
    e, delta = ctx
    return clip(e, -delta, delta) * expand_last(g * (1.0 / e.shape[-1]), e.ndim)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample mean of ``0.5 e**2`` where ``|e| <= delta``, else ``delta*|e| - 0.5*delta**2``."""
    return apply_kernel(_huber_forward, y_true, y_pred, delta=delta)


# --------------------------------------------------------------- LogCosh
def _log_cosh_forward(t, p):
    e = p - t
    # log(cosh(e)) = e + softplus(-2e) - log 2: no overflow for large |e|.
    return mean(e + softplus(-2.0 * e) - math.log(2.0)), e


def _log_cosh_backward(e, g):
    return backend.xp.tanh(e) * expand_last(g * (1.0 / e.shape[-1]), e.ndim)


def log_cosh(y_true, y_pred):
    """Per-sample ``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed stably."""
    return apply_kernel(_log_cosh_forward, y_true, y_pred)


# --------------------------------------------------------------- cosine
def _cosine_forward(t, p, axis=-1):
    xp = backend.xp
    # Keras's l2 normalisation: x * min(rsqrt(sum x^2), 1/eps).
    sp = (p * p).sum(axis=axis, keepdims=True)
    bp = 1.0 / xp.sqrt(xp.maximum(sp, _EPS * _EPS))
    u = t / xp.sqrt(xp.maximum((t * t).sum(axis=axis, keepdims=True), _EPS * _EPS))
    v = p * bp
    values = -(u * v).sum(axis=axis)
    return values, (u, v, bp, sp > _EPS * _EPS, values, axis)


def _cosine_backward(ctx, g):
    u, v, bp, active, values, axis = ctx
    # dv/dp = b (I - v v^T) while |p| > eps, b I below: dL/dp = -b (u + v * L * active).
    dp = -bp * (u + v * (_expand_at(values, axis) * active))
    return dp * _expand_at(g, axis)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample ``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``."""
    return apply_kernel(_cosine_forward, y_true, y_pred, axis=axis)


for _fn, _fw, _bw in [
    (mean_squared_error, _mse_forward, _mse_backward),
    (mean_absolute_error, _mae_forward, _mae_backward),
    (mean_absolute_percentage_error, _mape_forward, _mape_backward),
    (mean_squared_logarithmic_error, _msle_forward, _msle_backward),
    (huber, _huber_forward, _huber_backward),
    (log_cosh, _log_cosh_forward, _log_cosh_backward),
    (cosine_similarity, _cosine_forward, _cosine_backward),
]:
    register_kernel(_fn, _fw, _bw)


# --------------------------------------------------------------- classes
class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors: ``loss = mean((y_true - y_pred)**2)``.

    Args:
        reduction: See `Loss`. Defaults to ``"sum_over_batch_size"``.
        name: Defaults to ``"mean_squared_error"``.
        dtype: Compute dtype; by default y_pred's float dtype.

    Input shape: ``y_true``, ``y_pred``: ``(batch, ..., d)``; a ``(batch,)`` target
    against ``(batch, 1)`` predictions is expanded to ``(batch, 1)``.

    Math: ``dL/dy_pred = 2 (y_pred - y_true) / d`` times the weight over the divisor.

    Example:
        >>> float(MeanSquaredError()([1.0, 0.0, 1.0], [0.9, 0.1, 0.8]))  # doctest: +ELLIPSIS
        0.02...
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        # The training hot path: same shapes and dtype, no weights, batch mean.
        # value = Σd²/n and dL/dy_pred = 2d/n with d = y_pred - y_true, n = d.size.
        if (sample_weight is None and self.reduction == "sum_over_batch_size"
                and getattr(y_true, "shape", None) == y_pred.shape
                and getattr(y_true, "dtype", None) == y_pred.dtype and self.dtype is None):
            d = (y_pred - y_true).reshape(-1)
            value = float(d @ d) / d.size
            d *= d.dtype.type(2.0 / d.size)
            return value, d.reshape(y_pred.shape)
        return super().value_and_gradient(y_true, y_pred, sample_weight)

    def get_config(self):
        return Loss.get_config(self)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors: ``loss = mean(abs(y_true - y_pred))``.

    Math: ``dL/dy_pred = sign(y_pred - y_true) / d`` (0 at a tie).
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """``loss = 100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))``.

    Math: ``dL/dy_pred = 100 sign(y_pred - y_true) / (d max(|y_true|, eps))``.
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None
    ):
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )

    def get_config(self):
        return Loss.get_config(self)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """``loss = mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2)``.

    Math: ``dL/dy_pred = 2 (log(p+1) - log(t+1)) / ((p + 1) d)`` where ``p > eps``, else 0.
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None
    ):
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )

    def get_config(self):
        return Loss.get_config(self)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for ``|e| <= delta``, linear beyond; ``e = y_pred - y_true``.

    Args:
        delta: Where the loss changes from quadratic to linear. Defaults to 1.0.

    Math: ``dL/dy_pred = clip(e, -delta, delta) / d``.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self):
        # Keras 3 drops `delta` from the config; keeping it makes from_config faithful.
        return {**Loss.get_config(self), "delta": self.delta}


class LogCosh(LossFunctionWrapper):
    """``loss = mean(log(cosh(y_pred - y_true)))``: like MSE/2 near 0, like MAE far out.

    Math: ``dL/dy_pred = tanh(y_pred - y_true) / d``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class CosineSimilarity(LossFunctionWrapper):
    """``loss = -sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 is best.

    Args:
        axis: The axis along which the similarity is computed. Defaults to -1.

    Math: with ``v = y_pred / |y_pred|``, ``u`` the normalised target and ``L`` the
    per-sample loss: ``dL/dy_pred = -(u + L v) / |y_pred|``.
    """

    def __init__(
        self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None
    ):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "axis": self.axis}
