"""What the Keras-file test modules share: Keras 3 on a backend, the models of
saving_models.py fitted in either package, and the comparisons of a saved model with
the same model loaded (predictions, optimizer state, the next epoch's loss)."""

import os

import numpy as np
import pytest
from saving_models import BUILDERS, FIT, compile_kwargs, data, model_inputs


def saving_keras():
    """Keras 3 on JAX (or the backend KERAS_BACKEND names), and whether it trains;
    skips the calling module where Keras is missing."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if os.environ["KERAS_BACKEND"] == "jax":
        pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    return keras, keras.backend.backend() in ("jax", "tensorflow", "torch")


def is_keras(mod):
    return mod.__name__ == "keras"


def as_arrays(variables):
    """Variables (fcnet's or Keras's) as NumPy arrays."""
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in variables]


def fitted(mod, name, optimizer=None, epochs=1):
    """Model ``name`` in ``mod``, compiled and fitted (Keras eagerly, for speed)."""
    if is_keras(mod):
        mod.backend.clear_session()
        mod.utils.set_random_seed(0)
    model = BUILDERS[name](mod)
    model.compile(**compile_kwargs(name, mod, optimizer))
    if is_keras(mod):
        model.run_eagerly = True
    if epochs:
        inputs, y = data(name)
        model.fit(model_inputs(inputs), y, epochs=epochs, **FIT)
    return model


def load(mod, path):
    """``mod.models.load_model(path)``; Keras's model then runs eagerly."""
    model = mod.models.load_model(path)
    if is_keras(mod):
        model.run_eagerly = True  # same arithmetic as jit, without compiling
    return model


def predictions(model, name):
    """predict() on model ``name``'s data, batch 8."""
    inputs, _ = data(name)
    return np.asarray(model.predict(model_inputs(inputs), batch_size=8, verbose=0))


def next_loss(model, name):
    """The loss of one more epoch of ``fit`` from the model's current state."""
    inputs, y = data(name)
    return model.fit(model_inputs(inputs), y, epochs=1, **FIT).history["loss"][0]


def assert_same_optimizer(got, want):
    """Same class, hyperparameters and variables (iterations, learning rate, slots)."""
    assert type(got.optimizer).__name__ == type(want.optimizer).__name__
    got_config, want_config = got.optimizer.get_config(), want.optimizer.get_config()
    for key in ("learning_rate", "momentum", "nesterov", "rho", "centered", "beta_1",
                "beta_2", "epsilon", "amsgrad", "weight_decay"):
        want_value = want_config.get(key)
        if isinstance(want_value, float):
            np.testing.assert_allclose(got_config[key], want_value, rtol=1e-6, err_msg=key)
        elif key in want_config:
            assert got_config[key] == want_value, key
    got_vars, want_vars = as_arrays(got.optimizer.variables), as_arrays(want.optimizer.variables)
    assert [v.shape for v in got_vars] == [v.shape for v in want_vars]
    for i, (a, b) in enumerate(zip(got_vars, want_vars)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"optimizer var {i}")
