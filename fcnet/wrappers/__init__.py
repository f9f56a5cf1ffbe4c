"""``fcnet.wrappers``: fcnet models as scikit-learn estimators (``SKLearnClassifier``,
``SKLearnRegressor``, ``SKLearnTransformer``, Keras 3's names), and ``from_sklearn``,
which turns a fitted ``MLPClassifier`` / ``MLPRegressor`` into an fcnet model.
scikit-learn is imported when one of them is first used."""

import importlib

_NAMES = {"SKLearnClassifier": "sklearn_wrapper", "SKLearnRegressor": "sklearn_wrapper",
          "SKLearnTransformer": "sklearn_wrapper", "from_sklearn": "mlp_import",
          "expected_failed_checks": "_tags"}

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer", "from_sklearn"]


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
