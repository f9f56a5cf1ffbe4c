"""Stateful metrics with Keras 3's names and API, mergeable across processes.

``update_state(y_true, y_pred, sample_weight)`` each batch, ``result()`` for the
value, ``reset_state()`` per epoch; ``state()`` / ``set_state()`` expose additive
arrays, so summing them across processes gives the metric of all the data.
``get_for_output("accuracy", y, y_pred)`` resolves ``"accuracy"``/``"acc"`` (and
``"crossentropy"``/``"ce"``) from the shapes, as ``model.compile`` does in Keras.
"""

from __future__ import annotations

from fcnet import losses as losses_module
from fcnet._registry import WrappingRegistry

# The loss functions are metric functions too (keras.metrics.mean_squared_error ...).
from fcnet.losses import (  # noqa: E402  (re-exported names)
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from fcnet.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    in_top_k,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from fcnet.metrics.auc import AUC
from fcnet.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from fcnet.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from fcnet.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from fcnet.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    cosine_similarity,
)

_CLASSES = [
    Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    RootMeanSquaredError, CosineSimilarity, LogCoshError, Precision, Recall, AUC,
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge,
    SquaredHinge, CategoricalHinge,
]
_BY_SHAPE = ("accuracy", "acc", "crossentropy", "ce")  # resolved per output


def _loss_fallback(identifier: str):
    """Any loss name works as a metric: the running mean of its per-sample values."""
    loss = losses_module.get(identifier)  # raises for unknown names
    return MeanMetricWrapper(loss.fn, name=identifier, **loss._fn_kwargs)


_REGISTRY = WrappingRegistry(
    "metric", "keras.metrics", Metric, _CLASSES, {
        "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
        "mse": MeanSquaredError, "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    },
    wrapper=MeanMetricWrapper, serialize_other=losses_module.serialize,
    deserializable=(MeanMetricWrapper,), fallback=_loss_fallback,
    also_known=(*losses_module.ALL_OBJECTS_DICT, *_BY_SHAPE))
ALL_OBJECTS_DICT = _REGISTRY.by_name


def get(identifier):
    """A `Metric` from a name, class, instance, config dict or function.

    Names are Keras's (``"mse"``, ``"accuracy"``, ``"auc"``, ``"Precision"``, ...) and
    give the class with its default name; any loss name (``"huber"``, ``"kld"``)
    gives the running mean of that loss. A function ``f(y_true, y_pred)`` is wrapped
    in a `MeanMetricWrapper`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    return _REGISTRY.get(identifier)


def check_identifier(identifier) -> None:
    """Raises the error `get` would, without making a metric (for ``compile``)."""
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if isinstance(identifier, str):
        if (identifier.lower() not in _BY_SHAPE and identifier not in ALL_OBJECTS_DICT
                and identifier not in losses_module.ALL_OBJECTS_DICT):
            raise _REGISTRY.unknown(identifier)
    elif not (isinstance(identifier, (Metric, dict)) or callable(identifier)):
        raise _REGISTRY.unknown(identifier)


def get_for_output(identifier, y_true, y_pred, loss=None):
    """The metric ``model.compile(metrics=[identifier])`` gives for one output.

    ``"accuracy"``/``"acc"`` become BinaryAccuracy when y_pred's last axis is 1,
    SparseCategoricalAccuracy when y_true has lower rank than y_pred (or a last axis
    of 1 against more classes), CategoricalAccuracy otherwise; ``"crossentropy"``/
    ``"ce"`` likewise the matching crossentropy (``from_logits`` taken from ``loss``).
    A string keeps the user's spelling as the metric's name. ``y_true``/``y_pred``
    may be arrays or shapes.
    """
    if isinstance(identifier, str) and identifier.lower() in _BY_SHAPE:
        kind = losses_module.output_kind(y_true, y_pred)
        if identifier.lower() in ("accuracy", "acc"):
            cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
                   "categorical": CategoricalAccuracy}[kind]
            return cls(name=identifier)
        cls = {"binary": BinaryCrossentropy, "sparse": SparseCategoricalCrossentropy,
               "categorical": CategoricalCrossentropy}[kind]
        return cls(name=identifier, from_logits=bool(getattr(loss, "from_logits", False)))
    metric = get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def serialize(metric) -> dict:
    """Keras 3's form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(metric)


def deserialize(config, custom_objects=None):
    """The inverse of `serialize`; also takes a plain name."""
    return _REGISTRY.deserialize(config, custom_objects)


__all__ = [
    "Metric", "MeanMetricWrapper", "get", "get_for_output", "check_identifier", "serialize",
    "deserialize", *sorted(cls.__name__ for cls in _CLASSES), "accuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "in_top_k", "cosine_similarity",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "kl_divergence", "poisson", "hinge", "squared_hinge", "categorical_hinge", "huber",
    "log_cosh", "mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
]
