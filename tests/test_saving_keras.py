"""Whole models through `.keras` files, both ways, with the installed Keras 3.

fcnet saves, ``keras.models.load_model`` loads: the same predictions, the same optimizer
state, and one more epoch of ``fit`` reaches the loss that fcnet reaches from where it
saved. Keras saves, ``fcnet.models.load_model`` loads: the same, the other way. The
models (an MLP, a CNN with BatchNormalization, a two-input functional model with Add and
Concatenate, a functional model with a Sequential inside) are tests/saving_models.py's,
each with its own optimizer (Adam, RMSprop, SGD with momentum, AdamW); more optimizers
go through the MLP. Training needs a Keras backend that trains (JAX here); on Keras's
NumPy backend only the predictions are compared.
"""

import numpy as np
import pytest
from keras_saving import (
    as_arrays,
    assert_same_optimizer,
    fitted,
    load,
    next_loss,
    predictions,
    saving_keras,
)
from saving_models import BUILDERS, FIT, LOSS_TOL, PREDICT_TOL

import fcnet

keras, TRAINS = saving_keras()
needs_training = pytest.mark.skipif(not TRAINS, reason="Keras's numpy backend cannot train")

MODELS = sorted(BUILDERS)
OPTIMIZERS = {
    "sgd_momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.5, "nesterov": True}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop_centered": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5,
                                     "centered": True}),
    "adam_amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    "adamw": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05}),
}


def check_round_trip(source, target, name, tmp_path, optimizer=None):
    """``source`` fits one epoch and saves; ``target`` loads; both go on one epoch."""
    model = fitted(source, name, optimizer, epochs=1 if TRAINS or source is fcnet else 0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = load(target, path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(predictions(loaded, name), predictions(model, name),
                               **PREDICT_TOL)
    if not TRAINS:
        return
    assert_same_optimizer(loaded, model)
    np.testing.assert_allclose(next_loss(loaded, name), next_loss(model, name), **LOSS_TOL)
    # and the weights after that epoch agree too
    for a, b in zip(as_arrays(loaded.weights), as_arrays(model.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_fcnet_model_loads_in_keras(name, tmp_path):
    check_round_trip(fcnet, keras, name, tmp_path)


@pytest.mark.parametrize("name", MODELS)
def test_keras_model_loads_in_fcnet(name, tmp_path):
    check_round_trip(keras, fcnet, name, tmp_path)


@needs_training
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("source", ["fcnet", "keras"])
def test_optimizer_state_round_trip(source, optimizer, tmp_path):
    source, target = (fcnet, keras) if source == "fcnet" else (keras, fcnet)
    check_round_trip(source, target, "mlp", tmp_path, OPTIMIZERS[optimizer])


@needs_training
def test_optimizer_state_survives_two_round_trips(tmp_path):
    """fcnet → Keras → fcnet: the second fcnet resumes where the first would have."""
    model = fitted(fcnet, "mlp", epochs=2)
    model.save(tmp_path / "first.keras")
    through_keras = load(keras, tmp_path / "first.keras")
    through_keras.save(tmp_path / "second.keras")
    back = fcnet.models.load_model(tmp_path / "second.keras")
    assert_same_optimizer(back, model)
    assert int(as_arrays(back.optimizer.variables)[0]) == 2 * 32 // FIT["batch_size"]
    np.testing.assert_allclose(next_loss(back, "mlp"), next_loss(model, "mlp"), **LOSS_TOL)


def test_uncompiled_fcnet_model_loads_in_keras(tmp_path):
    model = BUILDERS["cnn"](fcnet)
    model.save(tmp_path / "plain.keras")
    loaded = load(keras, tmp_path / "plain.keras")
    assert getattr(loaded, "optimizer", None) is None
    np.testing.assert_allclose(predictions(loaded, "cnn"), predictions(model, "cnn"),
                               **PREDICT_TOL)


def test_compile_false_keeps_weights_only(tmp_path):
    model = fitted(keras, "mlp", epochs=1 if TRAINS else 0)
    model.save(tmp_path / "m.keras")
    loaded = fcnet.models.load_model(tmp_path / "m.keras", compile=False)
    assert getattr(loaded, "optimizer", None) is None
    np.testing.assert_allclose(predictions(loaded, "mlp"), predictions(model, "mlp"),
                               **PREDICT_TOL)
