"""``MonitorCallback``: the "did the monitored value improve?" logic shared by
EarlyStopping and ReduceLROnPlateau (Keras 3's ``MonitorCallback``)."""

from __future__ import annotations

import operator
import warnings

from fcnet.callbacks.callback import Callback

# Names whose larger values are better, for mode="auto" when the model's metric
# objects do not say (Keras 3 reads a `_direction` from them; tf.keras 2 checked
# for "acc" in the name).
_UP = ("acc", "auc", "precision", "recall", "f1_score", "fbeta", "iou", "r2_score",
       "pearson", "concordance", "cosine_similarity", "true_positives", "true_negatives")
_DOWN = ("loss", "error", "crossentropy", "hinge", "divergence", "huber", "log_cosh",
         "logcosh", "poisson", "false_positives", "false_negatives", "mse", "mae",
         "mape", "msle", "kld")


class MonitorCallback(Callback):
    """Base of callbacks that watch one logged quantity for improvement.

    An improvement is ``current - min_delta < best`` in ``"min"`` mode and
    ``current - min_delta > best`` in ``"max"`` mode (``min_delta`` taken with the
    sign that makes it a margin to beat). ``"auto"`` picks ``min`` for ``loss`` and
    ``val_loss``; otherwise it uses the direction of the model's metric of that name
    (a ``_direction`` of ``"up"``/``"down"``), then known metric names (accuracy,
    AUC, precision, ... up; errors, crossentropies, ... down), and raises a
    ``ValueError`` when it cannot tell, as Keras 3 does.

    Args:
        monitor: name of the quantity in the epoch logs (``"val_loss"``).
        mode: ``"auto"``, ``"min"`` or ``"max"``; anything else warns and means auto.
        baseline: initial best value, or ``None``.
        min_delta: smallest change that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=3,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            direction = _direction(self.model, self.monitor.removeprefix("val_"))
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, "
                    "but fcnet isn't able to automatically determine whether that "
                    "metric should be maximized or minimized. Pass `mode='max'` in "
                    "order to monitor based on the highest metric value, or pass "
                    "`mode='min'` in order to use the lowest value."
                )
            self.monitor_op = operator.gt if direction == "up" else operator.lt
        if self.monitor_op is operator.lt:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


def _direction(model, name: str):
    """``"up"``, ``"down"`` or ``None`` for the metric ``name`` of ``model``."""
    if name == "loss":
        return "down"
    pending = list(getattr(model, "metrics", None) or [])
    while pending:
        metric = pending.pop()
        pending.extend(getattr(metric, "metrics", None) or [])  # containers
        if getattr(metric, "name", None) == name:
            direction = getattr(metric, "_direction", None) or getattr(
                metric, "direction", None
            )
            if direction in ("up", "down"):
                return direction
    if any(hint in name for hint in _UP):
        return "up"
    if any(hint in name for hint in _DOWN):
        return "down"
    return None
