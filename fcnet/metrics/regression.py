"""Regression metrics: running means of per-sample errors, and their root."""

from __future__ import annotations

import math

from fcnet import backend, losses
from fcnet.losses import squeeze_or_expand_to_same_rank
from fcnet.metrics.base import Mean, MeanMetricWrapper


class _Down(MeanMetricWrapper):
    _direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanSquaredError(_Down):
    """The running mean of ``mean((y_true - y_pred)**2, axis=-1)``."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_Down):
    """The running mean of ``mean(abs(y_true - y_pred), axis=-1)``."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_Down):
    """The running mean of ``100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)))``."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_Down):
    """The running mean of ``mean((log(y_pred + 1) - log(y_true + 1))**2)``."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(_Down):
    """The running mean of ``mean(log(cosh(y_pred - y_true)), axis=-1)``."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample ``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: 1 is best."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(MeanMetricWrapper):
    """The running mean of the cosine similarity of ``y_true`` and ``y_pred`` (1 is best).

    Args:
        axis: The axis along which the similarity is computed. Defaults to -1.
    """

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running mean of squared errors (per-sample means first).

    State: ``total``, ``count`` (additive, so merging is exact; the root is taken last).
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        xp = backend.xp
        p = xp.asarray(y_pred)
        if p.dtype.kind != "f":
            p = p.astype(backend.floatx())
        t, p = squeeze_or_expand_to_same_rank(xp.asarray(y_true, dtype=p.dtype), p)
        d = p - t
        super().update_state(d * d, sample_weight=sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())
