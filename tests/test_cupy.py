"""The CuPy backend: the same model trained on the GPU gives the CPU's numbers.

Skipped where CuPy or a GPU is missing (CI has neither); run on a GPU machine with
``python3 -m pytest tests/test_cupy.py``.
"""

import numpy as np
import pytest

import fcnet
from fcnet import backend
from tests.gpu import cupy, needs_gpu

pytestmark = needs_gpu

CASES = {
    "adam-sparse-softmax": ("adam", "sparse_categorical_crossentropy", "softmax", 4),
    "sgd-mse-linear": (lambda: fcnet.optimizers.SGD(0.05, momentum=0.9), "mse", None, 3),
    "rmsprop-bce-sigmoid": ("rmsprop", "binary_crossentropy", "sigmoid", 1),
    "adamw-clipnorm-cce": (lambda: fcnet.optimizers.AdamW(clipnorm=1.0),
                           "categorical_crossentropy", "softmax", 4),
}


def _data(loss, units):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 12)).astype(np.float32)
    labels = (x[:, :units].argmax(axis=1) if units > 1 else (x[:, 0] > 0)).astype(int)
    if loss == "sparse_categorical_crossentropy":
        return x, labels
    if loss == "categorical_crossentropy":
        return x, np.eye(units, dtype=np.float32)[labels]
    if loss == "binary_crossentropy":
        return x, labels.astype(np.float32)
    return x, x[:, :units] * 2.0


def _train(name, weights, case):
    optimizer, loss, activation, units = case
    backend.set_backend(name)
    try:
        fcnet.backend.clear_session()
        model = fcnet.Sequential([fcnet.Input(shape=(12,)),
                                  fcnet.layers.Dense(32, activation="relu"),
                                  fcnet.layers.Dense(units, activation=activation)])
        if weights is not None:
            model.set_weights(weights)
        start = model.get_weights()
        model.compile(optimizer=optimizer() if callable(optimizer) else optimizer, loss=loss,
                      metrics=["mae" if loss == "mse" else "accuracy"])
        x, y = _data(loss, units)
        history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False,
                            validation_split=0.25, verbose=0)
        return (start, history.history, model.get_weights(), model.predict(x[:5], verbose=0),
                model.evaluate(x, y, verbose=0))
    finally:
        backend.set_backend("numpy")


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_gpu_training_gives_the_cpu_numbers(case):
    start, cpu_history, cpu_weights, cpu_pred, cpu_eval = _train("numpy", None, CASES[case])
    _, gpu_history, gpu_weights, gpu_pred, gpu_eval = _train("cupy", start, CASES[case])
    assert gpu_history.keys() == cpu_history.keys()
    for key in cpu_history:
        np.testing.assert_allclose(gpu_history[key], cpu_history[key], rtol=1e-4, err_msg=key)
    for gpu, cpu in zip(gpu_weights, cpu_weights):
        assert type(gpu) is np.ndarray
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-6)
    assert type(gpu_pred) is np.ndarray
    np.testing.assert_allclose(gpu_pred, cpu_pred, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gpu_eval, cpu_eval, rtol=1e-4)


def test_gpu_variables_live_on_the_device():
    backend.set_backend("cupy")
    try:
        layer = fcnet.layers.Dense(3)
        y = layer(np.ones((2, 4), np.float32))
        assert isinstance(layer.kernel.value, cupy.ndarray)
        assert isinstance(y, cupy.ndarray)
        assert isinstance(layer.kernel.numpy(), np.ndarray)
    finally:
        backend.set_backend("numpy")
