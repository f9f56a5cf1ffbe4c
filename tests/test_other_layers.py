"""Activation, Flatten, Reshape, Dropout, InputLayer: shapes, configs, gradients."""

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Activation, Dense, Dropout, Flatten, Input, Reshape
from fcnet.testing import check_gradients

X = np.random.default_rng(0).normal(size=(2, 3, 4))


@pytest.mark.parametrize("layer, shape", [
    (lambda: Activation("tanh"), (2, 3, 4)),
    (lambda: Activation("softmax"), (2, 3, 4)),
    (lambda: Flatten(), (2, 12)),
    (lambda: Reshape((4, 3)), (2, 4, 3)),
    (lambda: Reshape((-1,)), (2, 12)),
    (lambda: Dropout(0.5), (2, 3, 4)),
])
def test_shapes_configs_and_gradients(layer, shape):
    made = layer()
    y = made(X)
    assert y.shape == shape and y.dtype == np.float32
    assert made.compute_output_shape((None, 3, 4)) == (None,) + shape[1:]
    clone = type(made).from_config(made.get_config())
    assert clone.get_config() == made.get_config()
    check_gradients(made, X)


def test_flatten_keeps_channels_last_row_major_order():
    x = np.arange(24, dtype="float32").reshape(2, 2, 3, 2)
    np.testing.assert_array_equal(Flatten()(x), x.reshape(2, 12))


def test_dropout_scales_kept_units_and_trains():
    layer = Dropout(0.25, seed=1)
    x = np.ones((200, 50), "float32")
    y, mask = layer.forward(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    dx = layer.backward(mask, np.ones_like(x))
    np.testing.assert_array_equal(dx != 0, kept)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)


def test_cnn_head_of_seed_003_trains_end_to_end():
    model = keras.Sequential([Input(shape=(3, 3, 4)), Flatten(), Dense(8, activation="relu"),
                              Dropout(0.1), Dense(10)])
    assert model.output_shape == (None, 10)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3, 3, 4)).astype("float32")
    y = (x.reshape(64, -1).sum(1) > 0).astype("int64")
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[4].startswith("flatten (Flatten)            (None, 36)")
