"""AUC: the area under the ROC or precision-recall curve, Keras's way.

The curve is sampled at ``num_thresholds`` thresholds (by default ``-eps``, then
``i / (T - 1)`` for ``i = 1 .. T-2``, then ``1 + eps``), TP/FP/TN/FN are accumulated at
each, and the area is a Riemann sum; for PR with interpolation, Davis & Goadrich's
closed form, as Keras computes it.
"""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet.losses.base import sigmoid
from fcnet.metrics.base import Metric
from fcnet.metrics.confusion import (
    ThresholdGrid,
    _divide_no_nan,
    confusion_counts,
    is_evenly_distributed,
)

_EPS = 1e-7
_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Approximate area under the ROC (or PR) curve of a binary classifier.

    Args:
        num_thresholds: Number of thresholds (> 1) to sample the curve. Defaults to 200.
        curve: ``"ROC"`` (default), ``"PR"`` or ``"PRGAIN"``.
        summation_method: ``"interpolation"`` (default; trapezoids, or for PR Davis &
            Goadrich's interpolation), ``"minoring"`` or ``"majoring"``.
        thresholds: Explicit thresholds in [0, 1] instead of the evenly spaced ones
            (``num_thresholds`` becomes ``len(thresholds) + 2``).
        multi_label: Treat each column of ``y_pred`` as its own label, and average the
            per-label AUCs (weighted by ``label_weights``), instead of flattening.
        num_labels: The number of labels with ``multi_label`` (else taken at first update).
        label_weights: Per-label weights for the average (or for the counts when not
            ``multi_label``).
        from_logits: Apply a sigmoid to ``y_pred`` first.

    State: ``true_positives``, ``false_positives``, ``true_negatives``,
    ``false_negatives``, each ``(num_thresholds,)`` (``(num_thresholds, labels)``).

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> round(m.result(), 4)
        0.75
    """

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            thresholds = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(thresholds) + 2
            evenly = is_evenly_distributed([0.0] + thresholds + [1.0])
        else:
            if not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        # End points just outside [0, 1] catch predictions of exactly 0 and 1.
        self._thresholds = [0.0 - _EPS] + thresholds + [1.0 + _EPS]
        self._grid = ThresholdGrid(self._thresholds, evenly)
        key = str(curve).lower()
        if key not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             '["PR", "ROC", "PRGAIN"]')
        self.curve = _CURVES[key]
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError("Invalid AUC summation method value: "
                             f'"{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else list(label_weights)
        self._from_logits = from_logits
        self._built = False
        if not multi_label or num_labels:
            self._build(num_labels)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, num_labels):
        shape = (self.num_thresholds, num_labels) if self.multi_label else (self.num_thresholds,)
        for kind in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, kind, self.add_variable(shape, kind))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = backend.xp.asarray(y_pred)
        if not self._built:
            if p.ndim != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. "
                                 f"Found rank {p.ndim}. Full shape received for `y_pred`: "
                                 f"{p.shape}")
            self._build(p.shape[1])
        if self._from_logits:
            p = sigmoid(p if p.dtype.kind == "f" else p.astype(backend.floatx()))
        tp, fp, tn, fn = confusion_counts(
            y_true, p, self._grid, sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def reset_state(self):
        if self._built:
            super().reset_state()

    def _average(self, by_label):
        """Per-label areas -> one number (plain or label-weighted mean)."""
        if not self.multi_label:
            return float(numpy.sum(by_label))
        by_label = numpy.sum(by_label, axis=0)
        if self.label_weights is None:
            return float(numpy.mean(by_label))
        w = numpy.asarray(self.label_weights, dtype=numpy.float64)
        return float(_divide_no_nan(numpy.sum(by_label * w), numpy.sum(w)))

    def _counts(self):
        return [numpy.asarray(backend.to_numpy(v), dtype=numpy.float64) for v in
                (self.true_positives, self.false_positives, self.true_negatives,
                 self.false_negatives)]

    def interpolate_pr_auc(self) -> float:
        """PR area by Davis & Goadrich's interpolation between thresholds: precision
        varies as TP/P with TP and P linear within each interval."""
        tp, fp, _, fn = self._counts()
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, numpy.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = numpy.where(both, _divide_no_nan(p[:-1], numpy.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(slope * (dtp + intercept * numpy.log(ratio)),
                                    numpy.maximum(tp[1:] + fn[1:], 0))
        return self._average(increments)

    def result(self) -> float:
        if not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = self._counts()
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN: gains relative to the positive rate, clamped as Keras does
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * _divide_no_nan(fp, tp)
            recall_gain = numpy.maximum(numpy.where(tp == 0, 0.0, recall_gain), 0.0)
            precision_gain = numpy.where(tp == 0, 1.0, precision_gain)
            x, y = recall_gain, precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = numpy.minimum(y[:-1], y[1:])
        else:
            heights = numpy.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
