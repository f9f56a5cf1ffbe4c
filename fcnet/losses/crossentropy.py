"""Crossentropies: binary, categorical, sparse categorical, with fused gradients.

From probabilities Keras clips to ``[1e-7, 1 - 1e-7]`` (categorical ones first
renormalise ``p /= sum(p)``); from logits it uses a log-sigmoid / log-softmax, which
fcnet computes without overflow for any finite logit. ``fused_gradient`` skips the
output activation's Jacobian: softmax + crossentropy gives ``dL/dz = p*sum(y) - y``,
sigmoid + binary crossentropy ``dL/dz = (p - y) / d``, both times the sample weight
over the reduction's divisor.
"""

from __future__ import annotations

import warnings

from fcnet import backend
from fcnet.losses.base import (
    Loss,
    LossFunctionWrapper,
    activation_name,
    apply_kernel,
    clip,
    expand_last,
    log_softmax,
    mean,
    register_kernel,
)

_EPS = 1e-7


def _expand_at(x, axis):
    return x if getattr(x, "ndim", 0) == 0 else backend.xp.expand_dims(x, axis)


# --------------------------------------------------------------- binary
def _bce_forward(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
    xp = backend.xp
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        # -t log s(z) - (1-t) log(1-s(z)) = max(z, 0) - t z + log(1 + e^-|z|)
        e = xp.exp(-xp.abs(p))
        elem = xp.maximum(p, 0) - p * t + xp.log1p(e)
        ctx = (True, t, p, e, axis)
    else:
        pc = clip(p, _EPS, 1.0 - _EPS)
        elem = -(t * xp.log(pc) + (1.0 - t) * xp.log(1.0 - pc))
        ctx = (False, t, pc, (p > _EPS) & (p < 1.0 - _EPS), axis)
    return mean(elem, axis), ctx


def _bce_backward(ctx, g):
    xp = backend.xp
    logits, t, p, aux, axis = ctx
    scale = _expand_at(g * (1.0 / p.shape[axis]), axis)
    if logits:  # d/dz = sigmoid(z) - t, the sigmoid from e = e^-|z|
        return (xp.where(p >= 0, 1.0, aux) / (1.0 + aux) - t) * scale
    # d/dp = (p - t) / (p (1 - p)) inside the clip, 0 where the clip holds p
    return (p - t) / (p * (1.0 - p)) * aux * scale


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample ``mean(-(y log p + (1 - y) log(1 - p)), axis)``; labels smoothed
    towards 0.5: ``y (1 - ls) + 0.5 ls``."""
    return apply_kernel(
        _bce_forward, y_true, y_pred,
        from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
    )


# --------------------------------------------------------------- categorical
def _cce_forward(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
    xp = backend.xp
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis}")
    if p.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be "
            f"(batch_size, num_classes) with num_classes > 1. Received: y_pred.shape={p.shape}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=3,
        )
    if t.shape != p.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={t.shape}, output.shape={p.shape}"
        )
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[-1]
    if from_logits:
        logp = log_softmax(p, axis)
        return -(t * logp).sum(axis=axis), (True, t, logp, None, None, axis)
    s = p.sum(axis=axis, keepdims=True)
    q = p / s
    qc = clip(q, _EPS, 1.0 - _EPS)
    return -(t * xp.log(qc)).sum(axis=axis), (False, t, q, qc, s, axis)


def _cce_backward(ctx, g):
    xp = backend.xp
    logits, t, q, qc, s, axis = ctx
    g = _expand_at(g, axis)
    if logits:  # d/dz = softmax(z) sum(t) - t
        return (xp.exp(q) * t.sum(axis=axis, keepdims=True) - t) * g
    # a = dL/dq (0 where clipped); q = p / s  =>  dL/dp = (a - sum(a q)) / s
    a = -t / qc * ((q > _EPS) & (q < 1.0 - _EPS))
    return (a - (a * q).sum(axis=axis, keepdims=True)) * (g / s)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample ``-sum(y * log(p), axis)`` on renormalised, clipped ``p`` (or a
    log-softmax of logits); labels smoothed ``y (1 - ls) + ls / num_classes``."""
    return apply_kernel(
        _cce_forward, y_true, y_pred,
        from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
    )


# --------------------------------------------------------------- sparse
def _sparse_labels(t, p, ignore_class=None, loss_name="sparse_categorical_crossentropy"):
    """Integer labels shaped like ``p`` without its class axis, a mask of the
    non-ignored ones (or None), with out-of-range labels refused."""
    xp = backend.xp
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = xp.squeeze(t, -1)
    if t.shape != p.shape[:-1]:
        raise ValueError(
            f"In loss {loss_name}, `y_true` must be integer class indices shaped like "
            "y_pred without its last (class) axis, e.g. (batch,) or (batch, 1) for y_pred "
            f"(batch, num_classes). Received: y_true.shape={t.shape}, y_pred.shape={p.shape}"
        )
    labels = t.astype(xp.int64)
    mask = None
    if ignore_class is not None:
        mask = labels != ignore_class
        labels = xp.where(mask, labels, 0)
    k = p.shape[-1]
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= k):
        bad = labels[(labels < 0) | (labels >= k)].ravel()[0]
        raise ValueError(
            f"In loss {loss_name}, received a label value of {int(bad)}, which is outside "
            f"the valid range of [0, {k}): y_pred has {k} classes. Labels must be integers "
            f"in [0, {k}). Received: y_true with min={int(labels.min())}, "
            f"max={int(labels.max())}"
        )
    return labels, mask


def _label_index(labels):
    """(row, label) index pairs into ``x.reshape(-1, num_classes)``: one fancy index
    reads or writes every sample's label entry."""
    return backend.xp.arange(labels.size), labels.reshape(-1)


def _take(x, index, shape):
    """x[..., label] for every sample, shaped like the labels."""
    return x.reshape(-1, x.shape[-1])[index].reshape(shape)


def _add_at_labels(x, index, values):
    """x[..., label] += values, in place, with one fancy-indexing call."""
    x = backend.xp.ascontiguousarray(x)  # so the reshape below is a view
    x.reshape(-1, x.shape[-1])[index] += values
    return x


def _scce_forward(t, p, from_logits=False, ignore_class=None, axis=-1):
    xp = backend.xp
    moved = axis not in (-1, p.ndim - 1)
    if moved:
        p = xp.moveaxis(p, axis, -1)
    labels, mask = _sparse_labels(t, p, ignore_class)
    index = _label_index(labels)
    if from_logits:
        logp = log_softmax(p)
        values, ctx = -_take(logp, index, labels.shape), (True, logp, index, None, None)
    else:
        s = p.sum(axis=-1, keepdims=True)
        q = p / s
        ql = _take(q, index, labels.shape)
        values, ctx = -xp.log(clip(ql, _EPS, 1.0 - _EPS)), (False, q, index, ql, s)
    if mask is not None:
        values = xp.where(mask, values, 0.0).astype(p.dtype, copy=False)
    return values, ctx + (axis if moved else None,)


def _scce_backward(ctx, g):
    xp = backend.xp
    logits, q, index, ql, s, moved_axis = ctx
    if logits:  # d/dz = softmax(z) - onehot(label)
        dp = _add_at_labels(xp.exp(q), index, -1.0) * expand_last(g, q.ndim)
    else:
        # only q_label enters: a = dL/dq_label; dL/dp = a (onehot - q_label) / s
        inside = (ql > _EPS) & (ql < 1.0 - _EPS)
        a = -(inside / clip(ql, _EPS, 1.0 - _EPS)) * g
        coef = a / s[..., 0]
        dp = xp.broadcast_to(-(coef * ql)[..., None], q.shape).astype(q.dtype, copy=True)
        dp = _add_at_labels(dp, index, xp.broadcast_to(coef, ql.shape).reshape(-1))
    return dp if moved_axis is None else xp.moveaxis(dp, -1, moved_axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample ``-log(p[label])`` with integer labels ``(batch,)`` or ``(batch, 1)``;
    entries labelled ``ignore_class`` give 0."""
    return apply_kernel(
        _scce_forward, y_true, y_pred,
        from_logits=from_logits, ignore_class=ignore_class, axis=axis,
    )


register_kernel(binary_crossentropy, _bce_forward, _bce_backward)
register_kernel(categorical_crossentropy, _cce_forward, _cce_backward)
register_kernel(sparse_categorical_crossentropy, _scce_forward, _scce_backward)


# --------------------------------------------------------------- classes
class _Crossentropy(LossFunctionWrapper):
    _fuses_with = None  # the output activation whose Jacobian the fused gradient skips
    _config = ("from_logits",)  # the keyword arguments get_config returns, after Loss's

    def __init__(self, fn, reduction, name, dtype, **kwargs):
        super().__init__(fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():  # from_logits, axis, ... as attributes too
            setattr(self, key, value)

    def fused_gradient(self, activation, y_true, y_pred, sample_weight=None):
        """(value, dL/dz) for ``y_pred = activation(z)``, or None when not fusable.

        The value is Keras's (clipped) formula on ``y_pred``; the gradient is the
        exact one through the activation, finite even where the clip holds.
        """
        if self.from_logits or activation_name(activation) != self._fuses_with:
            return None
        axis = getattr(self, "axis", -1)
        if self._fuses_with == "softmax" and axis not in (-1, backend.xp.ndim(y_pred) - 1):
            return None
        return self._value_and(y_true, y_pred, sample_weight, self._fused_dz)

    def get_config(self):
        return {**Loss.get_config(self), **{key: getattr(self, key) for key in self._config}}


class BinaryCrossentropy(_Crossentropy):
    """Binary crossentropy: ``loss = mean(-(y log p + (1 - y) log(1 - p)))``.

    Args:
        from_logits: Whether ``y_pred`` holds logits (no sigmoid applied). Default False.
        label_smoothing: In [0, 1]; labels become ``y (1 - ls) + 0.5 ls``.
        axis: The axis the mean runs over. Defaults to -1.
        reduction, name, dtype: See `Loss`; the name defaults to ``"binary_crossentropy"``.

    Input shape: ``y_true``, ``y_pred``: ``(batch, ..., d)``, probabilities (or logits).

    Math: from probabilities (clipped to [1e-7, 1 - 1e-7]) ``dL/dp = (p - y)/(p(1 - p) d)``;
    from logits ``dL/dz = (sigmoid(z) - y) / d``; fused with a sigmoid output
    ``dL/dz = (p - y) / d``.

    Example:
        >>> float(BinaryCrossentropy()([[0.0, 1.0]], [[0.4, 0.6]]))  # doctest: +ELLIPSIS
        0.51...
    """

    _fuses_with = "sigmoid"
    _config = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)

    def _fused_dz(self, t, p, ctx, g):
        _, t_smoothed, _, _, axis = ctx
        return (p - t_smoothed) * _expand_at(g * (1.0 / p.shape[axis]), axis)


class CategoricalCrossentropy(_Crossentropy):
    """Categorical crossentropy with one-hot (or soft) labels: ``loss = -sum(y log p)``.

    Args:
        from_logits: Whether ``y_pred`` holds logits. Defaults to False.
        label_smoothing: In [0, 1]; labels become ``y (1 - ls) + ls / num_classes``.
        axis: The class axis. Defaults to -1.
        reduction, name, dtype: See `Loss`; the name defaults to ``"categorical_crossentropy"``.

    Input shape: ``y_true``, ``y_pred``: ``(batch, ..., num_classes)``.

    Math: probabilities are renormalised ``q = p / sum(p)`` and clipped; with
    ``a = -y / q`` (0 where clipped) ``dL/dp = (a - sum(a q)) / sum(p)``; from logits
    ``dL/dz = softmax(z) sum(y) - y``; fused with a softmax output the same on ``p``.
    """

    _fuses_with = "softmax"
    _config = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)

    def _fused_dz(self, t, p, ctx, g):
        t_smoothed = ctx[1]
        total = t_smoothed.sum(axis=-1, keepdims=True)
        return (p * total - t_smoothed) * expand_last(g, p.ndim)


class SparseCategoricalCrossentropy(_Crossentropy):
    """Crossentropy with integer labels: ``loss = -log(p[label])``.

    Args:
        from_logits: Whether ``y_pred`` holds logits. Defaults to False.
        ignore_class: A label value that takes no part in the loss (and in the
            ``sum_over_batch_size`` divisor). Defaults to None.
        axis: The class axis. Defaults to -1.
        reduction, name, dtype: See `Loss`; the name defaults to
            ``"sparse_categorical_crossentropy"``.

    Input shape: ``y_true``: ``(batch, ...)`` or ``(batch, ..., 1)`` integers in
    ``[0, num_classes)`` (others raise ValueError); ``y_pred``: ``(batch, ..., num_classes)``.

    Math: as `CategoricalCrossentropy` with ``y = onehot(label)``; fused with a softmax
    output ``dL/dz = p - onehot(label)``.
    """

    _fuses_with = "softmax"
    _config = ("from_logits", "ignore_class")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction, name, dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)

    def _mask(self, y_true, y_pred):
        if self.ignore_class is None:
            return None
        t = y_true
        if t.ndim == y_pred.ndim and t.shape[-1] == 1:
            t = backend.xp.squeeze(t, -1)
        return t != self.ignore_class

    def _fused_dz(self, t, p, ctx, g):
        return _add_at_labels(p.copy(), ctx[2], -1.0) * expand_last(g, p.ndim)
