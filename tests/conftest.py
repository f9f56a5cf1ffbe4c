"""Every test starts from fresh name counters and a fixed seed; `keras` is real Keras 3."""

import os

import pytest

import fcnet
from fcnet.optimizers import fused


@pytest.fixture(autouse=True)
def fresh_session():
    fcnet.backend.clear_session()
    fcnet.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def keras():
    """Real Keras 3 for parity checks, skipped where unavailable. The TensorFlow backend
    is not installed; NumPy's will do unless KERAS_BACKEND names another."""
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    keras = pytest.importorskip("keras")
    if int(keras.__version__.split(".")[0]) < 3:
        pytest.skip("Keras 3 needed")
    return keras


@pytest.fixture(params=["compiled", "numpy"])
def update_path(request, monkeypatch):
    """The optimizer update path a test runs on: ``fcnet._fused``'s compiled kernels, or the
    NumPy rules (``FCNET_FUSED=0``); optimizers built inside the test take it."""
    if request.param == "numpy":
        monkeypatch.setenv("FCNET_FUSED", "0")
    elif fused.kernels is None:
        pytest.skip("fcnet._fused is not built (no C compiler at install): NumPy path only")
    else:
        monkeypatch.delenv("FCNET_FUSED", raising=False)
    return request.param
