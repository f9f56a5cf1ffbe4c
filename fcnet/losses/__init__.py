"""Losses with Keras 3's names, arguments and reductions, each with its gradient.

``get("mse")``, ``get("BinaryCrossentropy")``, ``get({"class_name": ..., "config": ...})``,
``get(MyLoss())`` or ``get(my_function)`` give a `Loss` object; training calls its
``value_and_gradient(y_true, y_pred, sample_weight)`` (or ``fused_gradient`` for a
softmax/sigmoid output) and gets the reduced value and dL/dy_pred.
"""

from __future__ import annotations

from fcnet._registry import WrappingRegistry
from fcnet.losses.base import (
    REDUCTIONS,
    Loss,
    LossFunctionWrapper,
    output_kind,
    reduce_weighted_values,
    serialize_function,
    squeeze_or_expand_to_same_rank,
)
from fcnet.losses.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)
from fcnet.losses.probabilistic import (
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SquaredHinge,
    categorical_hinge,
    hinge,
    kl_divergence,
    poisson,
    squared_hinge,
)
from fcnet.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)

# Keras 3 legacy short names of the functions.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

# Each built-in function and the class that trains with it.
_CLASS_OF_FUNCTION = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    huber: Huber,
    log_cosh: LogCosh,
    cosine_similarity: CosineSimilarity,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    kl_divergence: KLDivergence,
    poisson: Poisson,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
}
_FUNCTIONS = {fn.__name__: fn for fn in _CLASS_OF_FUNCTION}
_FUNCTIONS.update({
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "logcosh": log_cosh, "huber_loss": huber,
})

# Every string get() understands, for error messages and the metrics floor.
ALL_OBJECTS_DICT = {**_FUNCTIONS, **{cls.__name__: cls for cls in _CLASS_OF_FUNCTION.values()}}


def _serialize_other(loss) -> dict:
    if callable(loss):
        return serialize_function(loss)
    raise ValueError(f"Could not serialize loss: {loss!r}. Expected a Loss or a function.")


# Each name gets the class of its function: "mse" and "mean_squared_error" -> MeanSquaredError.
_REGISTRY = WrappingRegistry(
    "loss", "keras.losses", Loss, _CLASS_OF_FUNCTION.values(),
    {name: _CLASS_OF_FUNCTION[fn] for name, fn in _FUNCTIONS.items()},
    wrapper=LossFunctionWrapper, serialize_other=_serialize_other,
    deserializable=(Loss, LossFunctionWrapper), functions=_CLASS_OF_FUNCTION)


def _function_by_name(identifier):
    """A built-in loss function from its name or Keras's serialized function dict."""
    if isinstance(identifier, dict):
        identifier = identifier.get("config")
    fn = _FUNCTIONS.get(identifier)
    if fn is None:
        raise _REGISTRY.unknown(identifier)
    return fn


def get(identifier):
    """A `Loss` object from a name, class, instance, config dict or function.

    Strings take every Keras 3 alias (``"mse"``, ``"MAE"``, ``"bce"``,
    ``"categorical_crossentropy"``, ``"Huber"``, ...) and give a default-configured
    instance. A plain function ``f(y_true, y_pred)`` is wrapped in a
    `LossFunctionWrapper`; it trains if it has ``f.gradient(y_true, y_pred)``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    return _REGISTRY.get(identifier)


def get_for_output(identifier, y_true, y_pred):
    """`get`, plus Keras's ``"crossentropy"``/``"ce"`` resolved from the shapes:
    binary if y_pred's last axis is 1; sparse if y_true has lower rank, or a last
    axis of 1 against more classes; categorical otherwise."""
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        kind = output_kind(y_true, y_pred)
        fn = {"binary": binary_crossentropy, "sparse": sparse_categorical_crossentropy,
              "categorical": categorical_crossentropy}[kind]
        return _CLASS_OF_FUNCTION[fn](name=identifier)
    return get(identifier)


def serialize(loss) -> dict:
    """Keras 3's form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(loss)


def deserialize(config, custom_objects=None):
    """The inverse of `serialize`; also takes a plain name."""
    return _REGISTRY.deserialize(config, custom_objects)


__all__ = [
    "REDUCTIONS", "get", "get_for_output", "serialize", "deserialize", "output_kind",
    "reduce_weighted_values", "squeeze_or_expand_to_same_rank",
    *sorted(_REGISTRY.by_class_name), *sorted(fn.__name__ for fn in _CLASS_OF_FUNCTION),
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
    "kullback_leibler_divergence", "logcosh",
]
