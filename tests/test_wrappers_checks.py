"""scikit-learn's own estimator checks (``parametrize_with_checks``) on fcnet's
SKLearnClassifier and SKLearnRegressor, small models trained for two epochs; and the
same checks on Keras 3's wrappers where Keras trains (JAX), for comparison. Every
check passes or is listed with its reason in ``fcnet.wrappers.expected_failed_checks``
(Keras's in ``KERAS_EXPECTED_FAILURES`` below).

Keras's run takes about a minute (each of its ~100 fits pays JAX's dispatch); it runs
wherever Keras 3 with its wrappers is installed (CI), and ``FCNET_KERAS_CHECKS=0`` leaves
it out. ``python -m pytest tests/test_wrappers_checks.py -rA`` lists both estimators'
results in one session."""

import importlib.util
import os
import warnings

import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fcnet  # noqa: E402
from fcnet.wrappers import (  # noqa: E402
    SKLearnClassifier,
    SKLearnRegressor,
    expected_failed_checks,
)

FIT = {"epochs": 2, "batch_size": 32, "verbose": 0}


def build_classifier(X, y, hidden=8, seed=0):
    fcnet.utils.set_random_seed(seed)  # Keras's way to reproducible fits
    model = fcnet.Sequential([fcnet.Input((X.shape[1],)),
                              fcnet.layers.Dense(hidden, activation="relu"),
                              fcnet.layers.Dense(y.shape[1], activation="softmax")])
    model.compile(fcnet.optimizers.Adam(0.05), "categorical_crossentropy")
    return model


def build_regressor(X, y, hidden=8, seed=0):
    fcnet.utils.set_random_seed(seed)  # initial weights and the fit's shuffling
    model = fcnet.Sequential([fcnet.Input((X.shape[1],)),
                              fcnet.layers.Dense(hidden, activation="relu"),
                              fcnet.layers.Dense(y.shape[1])])
    model.compile(fcnet.optimizers.Adam(0.05), "mse")
    return model


@parametrize_with_checks([SKLearnClassifier(build_classifier, fit_kwargs=FIT),
                          SKLearnRegressor(build_regressor, fit_kwargs=FIT)],
                         expected_failed_checks=expected_failed_checks)
def test_fcnet_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check(estimator)


# ---------------------------------------------------------------- Keras 3's wrappers
def _keras():
    """Keras 3 on JAX with its wrappers, or None (no Keras, no JAX, or another backend
    already chosen that cannot train)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if os.environ["KERAS_BACKEND"] not in ("jax", "torch", "tensorflow") or \
            importlib.util.find_spec(os.environ["KERAS_BACKEND"]) is None or \
            importlib.util.find_spec("keras") is None:
        return None
    import keras

    if keras.backend.backend() == "numpy" or not hasattr(keras, "wrappers") or \
            not hasattr(keras.wrappers, "SKLearnClassifier"):
        return None
    return keras


def keras_classifier(X, y, hidden=8, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((X.shape[1],)),
                              keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(y.shape[1], activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "categorical_crossentropy", run_eagerly=True)
    return model


def keras_regressor(X, y, hidden=8, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((X.shape[1],)),
                              keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(y.shape[1] if y.ndim > 1 else 1)])
    model.compile(keras.optimizers.Adam(0.05), "mse", run_eagerly=True)
    return model


_RAW_DECISION = ("Keras's decision_function returns the model's raw outputs, (n, 2) for two "
                 "classes, where scikit-learn expects decision values of shape (n,)")
KERAS_EXPECTED_FAILURES = {
    "check_classifiers_classes": _RAW_DECISION,
    "check_classifiers_train": _RAW_DECISION,
}
KERAS = _keras() if os.environ.get("FCNET_KERAS_CHECKS", "1") != "0" else None
KERAS_ESTIMATORS = [] if KERAS is None else [
    KERAS.wrappers.SKLearnClassifier(keras_classifier, fit_kwargs=FIT),
    KERAS.wrappers.SKLearnRegressor(keras_regressor, fit_kwargs=FIT)]


@parametrize_with_checks(KERAS_ESTIMATORS,
                         expected_failed_checks=lambda e: KERAS_EXPECTED_FAILURES)
def test_keras_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def test_keras_comparison_runs_on_request():
    if KERAS is None:
        pytest.skip("Keras 3's wrappers are checked where Keras 3 with its wrappers is "
                    "installed on a backend that trains (and FCNET_KERAS_CHECKS is not 0)")
    assert len(KERAS_ESTIMATORS) == 2
