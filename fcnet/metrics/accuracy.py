"""Accuracy metrics: how often predictions match the labels, as running means."""

from __future__ import annotations

from fcnet import backend
from fcnet.losses import squeeze_or_expand_to_same_rank
from fcnet.metrics.base import MeanMetricWrapper


def _pred(y_pred):
    xp = backend.xp
    p = xp.asarray(y_pred)
    return p if p.dtype.kind == "f" else p.astype(backend.floatx())


def _matches(m):
    return m.astype(backend.floatx())


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` exactly, per element."""
    p = _pred(y_pred)
    t, p = squeeze_or_expand_to_same_rank(backend.xp.asarray(y_true, dtype=p.dtype), p)
    return _matches(t == p)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``(y_pred > threshold) == y_true``, per element."""
    xp = backend.xp
    t, p = squeeze_or_expand_to_same_rank(xp.asarray(y_true), _pred(y_pred))
    return _matches(t == (p > threshold).astype(t.dtype))


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` (one-hot labels), per sample."""
    xp = backend.xp
    p = _pred(y_pred)
    t = xp.argmax(xp.asarray(y_true), axis=-1)
    if t.ndim == p.ndim:  # y_true had an extra trailing axis
        t = xp.squeeze(t, -1)
    return _matches(t == xp.argmax(p, axis=-1))


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals ``argmax(y_pred)``, per sample."""
    xp = backend.xp
    p = _pred(y_pred)
    t = xp.asarray(y_true).astype(p.dtype, copy=False)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = xp.squeeze(t, -1)
    m = t == xp.argmax(p, axis=-1).astype(p.dtype)
    if m.ndim > 1 and m.shape[-1] == 1:
        m = xp.squeeze(m, -1)
    return _matches(m)


def in_top_k(targets, predictions, k):
    """Whether each target's score ranks within the top ``k`` (ties count as in,
    a NaN score as out), as Keras's JAX and TensorFlow backends."""
    xp = backend.xp
    at_label = xp.take_along_axis(predictions, targets[:, None], axis=-1)
    at_label = xp.where(xp.isnan(at_label), -xp.inf, at_label)
    return xp.sum(predictions > at_label, axis=-1) < k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot label's class is among the ``k`` highest scores."""
    xp = backend.xp
    p = _pred(y_pred)
    t = xp.argmax(xp.asarray(y_true), axis=-1)
    shape = t.shape
    hits = in_top_k(t.reshape(-1), p.reshape(-1, p.shape[-1]), k)
    return _matches(hits.reshape(shape))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the ``k`` highest scores (or, with
    ``from_sorted_ids``, among the first ``k`` ids of ``y_pred``)."""
    xp = backend.xp
    p = _pred(y_pred)
    t = xp.asarray(y_true)
    shape = t.shape
    t = t.reshape(-1)
    if p.ndim > 2:
        p = p.reshape(-1, p.shape[-1])
    if from_sorted_ids:
        hits = xp.any(t[:, None].astype(p.dtype) == p[:, :k], axis=1)
    else:
        hits = in_top_k(t.astype(xp.int64), p, k)
    return _matches(hits.reshape(shape))


class _Up(MeanMetricWrapper):
    _direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class Accuracy(_Up):
    """How often ``y_pred`` equals ``y_true`` exactly (for already-discrete predictions).

    Example:
        >>> Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        0.75
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_Up):
    """How often ``y_pred > threshold`` matches 0/1 labels.

    Args:
        threshold: The decision threshold on ``y_pred``. Defaults to 0.5.
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(_Up):
    """How often ``argmax(y_pred)`` matches one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_Up):
    """How often ``argmax(y_pred)`` matches integer labels ``(batch,)`` or ``(batch, 1)``."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_Up):
    """How often the one-hot label is among the top ``k`` predictions.

    Args:
        k: How many of the highest scores count. Defaults to 5.
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(_Up):
    """How often the integer label is among the top ``k`` predictions.

    Args:
        k: How many of the highest scores count. Defaults to 5.
        from_sorted_ids: ``y_pred`` holds class ids sorted by score, not scores.
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {**super().get_config(), "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
