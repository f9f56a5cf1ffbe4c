"""Targets between scikit-learn and a model: class labels (strings, integers, one-hot
rows) to one-hot float32 columns and back, regression targets to float32 columns."""

from __future__ import annotations

import numpy


class ClassEncoder:
    """Labels ``y`` ↔ one-hot rows over ``classes_`` (sorted, as ``numpy.unique``).

    ``y`` may be a vector of labels (any sortable values: strings, integers) or one-hot
    rows (an indicator matrix with exactly one 1 a row); ``decode`` returns labels in
    the form ``y`` had.
    """

    def fit(self, y, kind: str):
        self.one_hot = kind == "multilabel-indicator"
        if self.one_hot:
            y = numpy.asarray(y)
            if not numpy.all(y.sum(axis=1) == 1):
                raise ValueError("Only binary, multiclass and one-hot targets are supported: "
                                 "a one-hot row has exactly one 1. Received: a multilabel "
                                 "indicator matrix")
            self.classes_ = numpy.arange(y.shape[1])
            self.dtype = y.dtype
        else:
            self.classes_ = numpy.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("Classifier can't train when only one class is present. "
                             f"Received: classes={list(self.classes_)}")
        return self

    def encode(self, y, kind: str):
        """One-hot float32 ``(n, n_classes)`` (``y``: one-hot rows, or labels ``(n,)``)."""
        if (kind == "multilabel-indicator") != self.one_hot:
            raise ValueError("The target must keep the form it had in fit (one-hot rows or "
                             f"labels). Received: target type {kind}")
        if self.one_hot:
            y = numpy.asarray(y)
            if y.shape[1] != len(self.classes_):
                raise ValueError(f"Expected one-hot rows of {len(self.classes_)} columns. "
                                 f"Received: shape {y.shape}")
            return y.astype("float32")
        y = numpy.asarray(y)
        index = numpy.searchsorted(self.classes_, y)
        index = numpy.minimum(index, len(self.classes_) - 1)
        unseen = self.classes_[index] != y
        if numpy.any(unseen):
            raise ValueError(f"y holds labels not seen in fit: {numpy.unique(y[unseen])[:5]}."
                             f" Known classes: {self.classes_}")
        out = numpy.zeros((len(y), len(self.classes_)), dtype="float32")
        out[numpy.arange(len(y)), index] = 1
        return out

    def decode(self, index):
        """Labels for class indices ``index``: ``classes_[index]``, or one-hot rows."""
        if self.one_hot:
            return numpy.eye(len(self.classes_), dtype=self.dtype)[index]
        return self.classes_[index]


def probabilities(raw, n_classes: int):
    """``(n, n_classes)`` probabilities from a model's outputs: a single sigmoid column
    ``p`` of a binary model becomes ``[1 - p, p]``."""
    raw = numpy.asarray(raw)
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.shape[1] == 1 and n_classes == 2:
        return numpy.concatenate([1 - raw, raw], axis=1)
    if raw.shape[1] != n_classes:
        raise ValueError(f"The model returns {raw.shape[1]} columns for {n_classes} classes: "
                         "its last layer needs one unit per class (softmax), or one sigmoid "
                         "unit for two classes.")
    return raw


def fit_target(model, onehot):
    """The one-hot target in the width the model's output has: the positive column
    alone for a one-unit binary model, else all columns."""
    shape = getattr(model, "output_shape", None)
    if onehot.shape[1] == 2 and isinstance(shape, tuple) and shape and shape[-1] == 1:
        return onehot[:, 1:]
    return onehot
