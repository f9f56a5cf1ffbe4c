"""What the Keras-parity test modules share: real Keras 3 on a backend that trains, and
the comparison of two fits (histories, weights, evaluate) at float32 tolerance."""

import os

import numpy as np
import pytest

LOSS_TOL = dict(rtol=1e-4, atol=1e-6)
WEIGHT_TOL = dict(rtol=1e-4, atol=1e-5)


def training_keras():
    """Keras 3 on JAX (or the backend KERAS_BACKEND names); skips the calling module
    where it is missing or its backend (NumPy's) cannot train."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if os.environ["KERAS_BACKEND"] == "jax":
        pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() not in ("jax", "tensorflow", "torch"):
        pytest.skip("Keras's numpy backend cannot train", allow_module_level=True)
    return keras


def assert_same_fit(fc: dict, ke: dict) -> None:
    """fcnet's ``{"history", "weights", "evaluate"}`` equal Keras's, key by key."""
    assert sorted(fc["history"]) == sorted(ke["history"])
    for key, values in ke["history"].items():
        np.testing.assert_allclose(fc["history"][key], values, err_msg=f"history[{key!r}]",
                                   **LOSS_TOL)
    assert len(fc["weights"]) == len(ke["weights"])
    for i, (a, b) in enumerate(zip(fc["weights"], ke["weights"])):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, err_msg=f"weight {i}", **WEIGHT_TOL)
    assert sorted(fc["evaluate"]) == sorted(ke["evaluate"])
    for key, value in ke["evaluate"].items():
        np.testing.assert_allclose(fc["evaluate"][key], value, err_msg=f"evaluate[{key!r}]",
                                   **LOSS_TOL)
