"""Every loss's gradient, through a whole model and the code `fit` runs, against
central finite differences in float64 (fused softmax/sigmoid cross-entropy included)."""

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense, Input
from fcnet.testing import check_gradients

RNG = np.random.default_rng(7)
X = RNG.normal(size=(6, 4))
ONEHOT = np.eye(3)[RNG.integers(0, 3, 6)]
CASES = {
    "mse": ("linear", 2, RNG.normal(size=(6, 2))),
    "mae": ("linear", 2, RNG.normal(size=(6, 2))),
    "mape": ("linear", 2, RNG.normal(size=(6, 2)) + 3),
    "msle": ("softplus", 2, RNG.random((6, 2))),
    "huber": ("linear", 2, 2 * RNG.normal(size=(6, 2))),
    "log_cosh": ("linear", 2, RNG.normal(size=(6, 2))),
    "binary_crossentropy": ("sigmoid", 1, RNG.integers(0, 2, (6, 1)).astype(float)),
    "categorical_crossentropy": ("softmax", 3, ONEHOT),
    "sparse_categorical_crossentropy": ("softmax", 3, ONEHOT.argmax(1)),
    "hinge": ("tanh", 1, RNG.integers(0, 2, (6, 1)).astype(float)),
    "squared_hinge": ("tanh", 1, RNG.integers(0, 2, (6, 1)).astype(float)),
    "kl_divergence": ("softmax", 3, RNG.dirichlet(np.ones(3), 6)),
    "poisson": ("softplus", 2, RNG.random((6, 2)) * 3),
    "cosine_similarity": ("linear", 3, RNG.normal(size=(6, 3))),
}


@pytest.mark.parametrize("loss", sorted(CASES))
def test_model_gradient_for_each_loss(loss):
    activation, units, y = CASES[loss]
    model = keras.Sequential([Input(shape=(4,)), Dense(5, activation="tanh"),
                              Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    check_gradients(model, X, y)


@pytest.mark.parametrize("loss", [keras.losses.BinaryCrossentropy(from_logits=True,
                                                                    label_smoothing=0.1),
                                  keras.losses.CategoricalCrossentropy(label_smoothing=0.2)])
def test_model_gradient_with_label_smoothing(loss):
    units = 1 if isinstance(loss, keras.losses.BinaryCrossentropy) else 3
    y = ONEHOT if units == 3 else ONEHOT[:, :1]
    model = keras.Sequential([Input(shape=(4,)), Dense(units, activation="softmax"
                                                       if units == 3 else None)])
    model.compile(optimizer="sgd", loss=loss)
    check_gradients(model, X, y)


def test_model_gradient_with_sample_weights_and_regularizers():
    model = keras.Sequential([Input(shape=(4,)),
                              Dense(5, activation="relu", kernel_regularizer="l2",
                                    activity_regularizer="l1"),
                              Dense(3, activation="softmax", bias_regularizer="l1")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", loss_weights=0.5)
    check_gradients(model, X, ONEHOT, sample_weight=RNG.random(6))
