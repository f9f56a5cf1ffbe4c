"""Confusion-matrix metrics: Precision, Recall, AUC and the raw TP/FP/TN/FN counts.

Every update is a histogram: each prediction is mapped to how many thresholds it
exceeds (``searchsorted``, or Keras's bucket formula ``ceil(p (T - 1))`` when the
thresholds are evenly spaced), weighted counts per bucket come from one
``bincount``, and a reversed cumulative sum turns them into true/false positives
at every threshold. O(N + T) per batch, no loop over thresholds or samples.
"""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet.losses import squeeze_or_expand_to_same_rank
from fcnet.metrics.base import Metric

NEG_INF = -1e10
_EPS = 1e-7


def parse_thresholds(thresholds, default=0.5) -> list:
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if t is None or t < 0 or t > 1]
    if bad:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) for t in values]


def is_evenly_distributed(thresholds) -> bool:
    """True for ``[0, 1/(T-1), ..., 1]`` (T >= 3), where Keras uses its bucket formula."""
    n = len(thresholds)
    if n < 3:
        return False
    even = numpy.arange(n, dtype=numpy.float32) / (n - 1)
    return bool(numpy.allclose(thresholds, even, atol=_EPS))


def _filter_top_k(p, k):
    """Keeps the ``k`` largest scores of the last axis (ties at the k-th all kept);
    the others become NEG_INF."""
    xp = backend.xp
    n = p.shape[-1]
    if k >= n:
        return p
    kth = xp.partition(p, n - k, axis=-1)[..., n - k, None]
    return xp.where(p >= kth, p, NEG_INF)


class ThresholdGrid:
    """A list of thresholds, prepared once: maps predictions to how many of the
    thresholds they exceed, and counts back to the thresholds' own order."""

    def __init__(self, thresholds, evenly=False):
        self.size = len(thresholds)
        self.evenly = evenly
        # Keras adds end thresholds -eps and 1 + eps so that p = 0 and p = 1 count.
        self.with_epsilon = evenly and (thresholds[0] < 0 or thresholds[-1] > 1)
        order = numpy.argsort(thresholds, kind="stable")
        self.ordered = numpy.asarray(thresholds, dtype=numpy.float64)[order]
        self.inverse = None if (order == numpy.arange(self.size)).all() else numpy.argsort(order)

    def exceeded(self, p):
        """For each prediction, the number of (sorted) thresholds below it."""
        xp = backend.xp
        if self.evenly:  # Keras's bucket index ceil(p (T-1)) - 1, plus one
            npos = xp.ceil(xp.minimum(xp.maximum(p, 0.0), 1.0) * (self.size - 1))
            npos = npos.astype(xp.int64)
            return xp.maximum(npos, 1) if self.with_epsilon else npos
        return xp.searchsorted(xp.asarray(self.ordered), p.astype(xp.float64), side="left")

    def restore(self, counts):
        """Counts over the sorted thresholds -> the thresholds as the user gave them."""
        return counts if self.inverse is None else counts[..., backend.xp.asarray(self.inverse)]


def confusion_counts(y_true, y_pred, grid, sample_weight=None, top_k=None, class_id=None,
                     multi_label=False, label_weights=None):
    """``(tp, fp, tn, fn)`` at each threshold of ``grid`` (a `ThresholdGrid`), a
    prediction counting as positive where ``y_pred > threshold``; arrays ``(T,)``,
    ``(T, labels)`` when multi_label."""
    xp = backend.xp
    p = xp.asarray(y_pred)
    p = p if p.dtype.kind == "f" else p.astype(backend.floatx())
    p, t = squeeze_or_expand_to_same_rank(p, xp.asarray(y_true))
    w = None
    if sample_weight is not None:
        w = xp.expand_dims(xp.asarray(sample_weight, dtype=xp.float64), -1)
        _, w = squeeze_or_expand_to_same_rank(t, w, expand_rank_1=False)
    if top_k is not None:
        p = _filter_top_k(p, top_k)
    if class_id is not None:
        if p.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes). Received: y_pred.shape={p.shape}")
        t, p = t[..., class_id, None], p[..., class_id, None]
    if label_weights is not None and not multi_label:
        w = (1.0 if w is None else w) * xp.asarray(label_weights, dtype=xp.float64)
    if w is not None:
        w = xp.broadcast_to(w, p.shape).reshape(-1)
    # One histogram for everything: key = thresholds exceeded + (T + 1) * group, the
    # group being (label, negative?) so positives and negatives get their own rows.
    bins = grid.size + 1
    group = (t == 0).astype(xp.int64)
    if multi_label:
        group = group + 2 * xp.arange(p.shape[-1])
    keys = (grid.exceeded(p) + bins * group).reshape(-1)
    groups = 2 * p.shape[-1] if multi_label else 2
    hist = xp.bincount(keys, weights=w, minlength=bins * groups).astype(xp.float64)
    # above[g, j] = weight in group g exceeding at least j thresholds
    above = xp.cumsum(hist.reshape(groups, bins)[:, ::-1], axis=1)[:, ::-1]
    tp, fp = above[0::2, 1:], above[1::2, 1:]
    fn = above[0::2, :1] - tp
    tn = above[1::2, :1] - fp
    return tuple(grid.restore(c.T if multi_label else c[0]) for c in (tp, fp, tn, fn))


def _divide_no_nan(a, b):
    return numpy.divide(a, b, out=numpy.zeros(numpy.broadcast(a, b).shape), where=b != 0)


class _ThresholdMetric(Metric):
    """Holds some of tp/fp/tn/fn at a list of thresholds in [0, 1]."""

    _kinds: tuple = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._grid = ThresholdGrid(self.thresholds, is_evenly_distributed(self.thresholds))
        for kind in self._kinds:
            setattr(self, kind, self.add_variable((len(self.thresholds),), kind))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = dict(zip(
            ("true_positives", "false_positives", "true_negatives", "false_negatives"),
            confusion_counts(y_true, y_pred, self._grid, sample_weight, self.top_k,
                             self.class_id), strict=True))
        for kind in self._kinds:
            getattr(self, kind)[...] += counts[kind]

    def _value(self, x):
        x = numpy.asarray(x, dtype=numpy.float64)
        return float(x[0]) if len(self.thresholds) == 1 else x

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """``TP / (TP + FP)``: of the predictions above the threshold, the fraction that are
    positive.

    Args:
        thresholds: A float or list of floats in [0, 1] (one result per threshold);
            ``y_pred > threshold`` counts as positive. Defaults to 0.5.
        top_k: Only the ``k`` highest scores of each sample count as predictions.
        class_id: Restricts the metric to this column of ``y_pred``.

    State: ``true_positives``, ``false_positives``, one entry per threshold.
    """

    _direction = "up"
    _kinds = ("true_positives", "false_positives")

    def result(self):
        tp, fp = backend.to_numpy(self.true_positives), backend.to_numpy(self.false_positives)
        return self._value(_divide_no_nan(tp, tp + fp))


class Recall(_ThresholdMetric):
    """``TP / (TP + FN)``: the fraction of positives predicted above the threshold.

    Args: as `Precision`. State: ``true_positives``, ``false_negatives``.
    """

    _direction = "up"
    _kinds = ("true_positives", "false_negatives")

    def result(self):
        tp, fn = backend.to_numpy(self.true_positives), backend.to_numpy(self.false_negatives)
        return self._value(_divide_no_nan(tp, tp + fn))


class _Count(_ThresholdMetric):
    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self):
        return self._value(backend.to_numpy(getattr(self, self._kinds[0])))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_Count):
    """The weighted number of positives predicted above the threshold(s)."""

    _kinds = ("true_positives",)


class FalsePositives(_Count):
    """The weighted number of negatives predicted above the threshold(s)."""

    _kinds = ("false_positives",)


class TrueNegatives(_Count):
    """The weighted number of negatives predicted at or below the threshold(s)."""

    _kinds = ("true_negatives",)


class FalseNegatives(_Count):
    """The weighted number of positives predicted at or below the threshold(s)."""

    _kinds = ("false_negatives",)


__all__ = ["Precision", "Recall", "TruePositives", "FalsePositives", "TrueNegatives",
           "FalseNegatives", "ThresholdGrid", "confusion_counts"]
