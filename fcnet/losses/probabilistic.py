"""KL divergence, Poisson, and the hinge losses (Hinge, SquaredHinge, CategoricalHinge)."""

from __future__ import annotations

from fcnet import backend
from fcnet.losses.base import (
    Loss,
    LossFunctionWrapper,
    apply_kernel,
    clip,
    expand_last,
    mean,
    register_kernel,
)

_EPS = 1e-7


# --------------------------------------------------------------- KL divergence
def _kld_forward(t, p):
    xp = backend.xp
    tc = clip(t, _EPS, 1.0)  # Keras clips both to [eps, 1]
    pc = clip(p, _EPS, 1.0)
    return (tc * xp.log(tc / pc)).sum(axis=-1), (tc, pc, (p >= _EPS) & (p <= 1.0))


def _kld_backward(ctx, g):
    tc, pc, inside = ctx
    return -(tc / pc) * inside * expand_last(g, pc.ndim)


def kl_divergence(y_true, y_pred):
    """Per-sample ``sum(y_true * log(y_true / y_pred), axis=-1)``, both clipped to [eps, 1]."""
    return apply_kernel(_kld_forward, y_true, y_pred)


# --------------------------------------------------------------- Poisson
def _poisson_forward(t, p):
    xp = backend.xp
    return mean(p - t * xp.log(p + _EPS)), (t, p)


def _poisson_backward(ctx, g):
    t, p = ctx
    return (1.0 - t / (p + _EPS)) * expand_last(g * (1.0 / p.shape[-1]), p.ndim)


def poisson(y_true, y_pred):
    """Per-sample ``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``."""
    return apply_kernel(_poisson_forward, y_true, y_pred)


# --------------------------------------------------------------- hinges
def _to_signs(t):
    """Keras: labels that are all 0/1 become -1/1; any other labels stay as given."""
    xp = backend.xp
    return 2.0 * t - 1.0 if bool(xp.all((t == 0) | (t == 1))) else t


def _hinge_forward(t, p):
    xp = backend.xp
    t = _to_signs(t)
    m = 1.0 - t * p
    return mean(xp.maximum(m, 0.0)), (t, m)


def _hinge_backward(ctx, g):
    t, m = ctx
    return -t * (m > 0) * expand_last(g * (1.0 / m.shape[-1]), m.ndim)


def hinge(y_true, y_pred):
    """Per-sample ``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels become -1/1."""
    return apply_kernel(_hinge_forward, y_true, y_pred)


def _squared_hinge_forward(t, p):
    xp = backend.xp
    t = _to_signs(t)
    m = xp.maximum(1.0 - t * p, 0.0)
    return mean(m * m), (t, m)


def _squared_hinge_backward(ctx, g):
    t, m = ctx
    return -t * m * expand_last(g * (2.0 / m.shape[-1]), m.ndim)


def squared_hinge(y_true, y_pred):
    """Per-sample ``mean(max(1 - y_true * y_pred, 0)**2, axis=-1)``; 0/1 labels become -1/1."""
    return apply_kernel(_squared_hinge_forward, y_true, y_pred)


def _categorical_hinge_forward(t, p):
    xp = backend.xp
    pos = (t * p).sum(axis=-1)
    neg_all = (1.0 - t) * p
    neg = xp.max(neg_all, axis=-1)
    values = xp.maximum(neg - pos + 1.0, 0.0)
    return values, (t, xp.argmax(neg_all, axis=-1), values > 0)


def _categorical_hinge_backward(ctx, g):
    xp = backend.xp
    t, idx, active = ctx
    # d neg/dp = (1 - t) at the argmax only; d pos/dp = t.
    dneg = xp.zeros(t.shape, dtype=t.dtype)
    flat = dneg.reshape(-1, t.shape[-1])
    flat[xp.arange(flat.shape[0]), idx.reshape(-1)] = 1.0
    return (dneg * (1.0 - t) - t) * expand_last(active * g, t.ndim)


def categorical_hinge(y_true, y_pred):
    """Per-sample ``max(max((1 - y) * p) - sum(y * p) + 1, 0)`` for one-hot ``y``."""
    return apply_kernel(_categorical_hinge_forward, y_true, y_pred)


for _fn, _fw, _bw in [
    (kl_divergence, _kld_forward, _kld_backward),
    (poisson, _poisson_forward, _poisson_backward),
    (hinge, _hinge_forward, _hinge_backward),
    (squared_hinge, _squared_hinge_forward, _squared_hinge_backward),
    (categorical_hinge, _categorical_hinge_forward, _categorical_hinge_backward),
]:
    register_kernel(_fn, _fw, _bw)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence: ``loss = sum(y_true * log(y_true / y_pred))``.

    Both inputs are clipped to ``[1e-7, 1]``. Input shape: ``(batch, ..., d)``.

    Math: ``dL/dy_pred = -y_true / y_pred`` inside the clip, 0 outside.
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class Poisson(LossFunctionWrapper):
    """Poisson loss: ``loss = mean(y_pred - y_true * log(y_pred + 1e-7))``.

    Math: ``dL/dy_pred = (1 - y_true / (y_pred + eps)) / d``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class Hinge(LossFunctionWrapper):
    """Hinge loss: ``loss = mean(max(1 - y_true * y_pred, 0))``, labels -1/1 (0/1 converted).

    Math: ``dL/dy_pred = -y_true / d`` where the margin ``1 - y p`` is positive, else 0.
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss: ``loss = mean(max(1 - y_true * y_pred, 0)**2)``.

    Math: ``dL/dy_pred = -2 y_true max(1 - y p, 0) / d``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge: ``loss = max(neg - pos + 1, 0)`` with ``pos = sum(y p)`` and
    ``neg = max((1 - y) p)``; ``y`` one-hot.

    Math: where the loss is positive, ``dL/dp = (1 - y) e_k - y`` with ``k`` the argmax
    of ``(1 - y) p``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)
