"""GaussianNoise, GaussianDropout, SpatialDropout1D and SpatialDropout2D: identity in
inference, the noise's distribution and shape in training, backward through the same
noise, seeds, configs, errors, and Keras 3's config keys and inference outputs."""

import numpy as np
import pytest
from keras_training import training_keras

import fcnet
from fcnet.layers import Dense, Flatten, Input
from fcnet.layers.noise import GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from fcnet.testing import check_gradients

RNG = np.random.default_rng(0)
X3 = RNG.normal(size=(4, 5, 3))
X4 = RNG.normal(size=(3, 4, 5, 2))


@pytest.fixture
def real_keras():
    return training_keras()


LAYERS = [
    (lambda m: m.GaussianNoise(0.3, seed=1), X3),
    (lambda m: m.GaussianDropout(0.4, seed=1), X3),
    (lambda m: m.SpatialDropout1D(0.5, seed=1), X3),
    (lambda m: m.SpatialDropout2D(0.5, seed=1), X4),
    (lambda m: m.SpatialDropout2D(0.5, data_format="channels_first", seed=1), X4),
]


class _Ours:
    GaussianNoise, GaussianDropout = GaussianNoise, GaussianDropout
    SpatialDropout1D, SpatialDropout2D = SpatialDropout1D, SpatialDropout2D


@pytest.mark.parametrize("make, x", LAYERS)
def test_identity_in_inference_gradients_and_config(make, x):
    layer = make(_Ours)
    x32 = x.astype("float32")
    np.testing.assert_array_equal(layer(x32), x32)
    y = layer(x32, training=True)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert not np.array_equal(y, x32)
    check_gradients(layer, x, training=True)
    check_gradients(layer, x, training=False)
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("make, x", LAYERS)
def test_configs_and_inference_match_keras(real_keras, make, x):
    real_keras.backend.clear_session()
    ours, theirs = make(_Ours), make(real_keras.layers)
    x32 = x.astype("float32")
    np.testing.assert_array_equal(ours(x32), np.asarray(theirs(x32)))
    assert ours.name == theirs.name
    assert sorted(ours.get_config()) == sorted(theirs.get_config())
    for key, value in theirs.get_config().items():
        if key != "dtype":
            assert ours.get_config()[key] == value, key
    assert type(theirs).from_config(ours.get_config()).get_config() == theirs.get_config() | {
        "name": ours.name}


def test_gaussian_noise_is_additive_with_the_given_spread():
    layer = GaussianNoise(0.2, seed=3)
    x = np.full((400, 50), 2.0, "float32")
    y, ctx = layer.forward(x, training=True)
    noise = y - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.2) < 0.01
    dy = RNG.normal(size=x.shape).astype("float32")
    np.testing.assert_array_equal(layer.backward(ctx, dy), dy)  # dx = dy
    np.testing.assert_array_equal(GaussianNoise(0.0).forward(x, True)[0], x)


def test_gaussian_dropout_multiplies_by_noise_of_mean_one():
    rate = 0.2
    layer = GaussianDropout(rate, seed=4)
    x = np.full((400, 50), 3.0, "float32")
    y, noise = layer.forward(x, training=True)
    np.testing.assert_allclose(y, x * noise)
    assert abs(noise.mean() - 1) < 0.01
    assert abs(noise.std() - np.sqrt(rate / (1 - rate))) < 0.01
    dy = RNG.normal(size=x.shape).astype("float32")
    np.testing.assert_allclose(layer.backward(noise, dy), dy * noise)


@pytest.mark.parametrize("layer, shape, spatial_axes, channel_axis", [
    (lambda: SpatialDropout1D(0.4, seed=5), (64, 7, 30), (1,), 2),
    (lambda: SpatialDropout2D(0.4, seed=5), (64, 3, 4, 30), (1, 2), 3),
    (lambda: SpatialDropout2D(0.4, data_format="channels_first", seed=5), (64, 30, 3, 4),
     (2, 3), 1),
])
def test_spatial_dropout_drops_whole_channels(layer, shape, spatial_axes, channel_axis):
    made = layer()
    x = np.ones(shape, "float32")
    y, scale = made.forward(x, training=True)
    # constant over the spatial axes: one draw per sample and channel
    np.testing.assert_array_equal(y, np.broadcast_to(y.max(axis=spatial_axes, keepdims=True),
                                                     shape))
    kept = y.max(axis=spatial_axes) > 0
    assert kept.shape == (shape[0], shape[channel_axis])
    assert abs(kept.mean() - 0.6) < 0.05
    np.testing.assert_allclose(y[y != 0], 1 / 0.6, rtol=1e-6)
    dy = RNG.normal(size=shape).astype("float32")
    np.testing.assert_allclose(made.backward(scale, dy), dy * y)


def test_seeds_make_the_noise_reproducible_and_successive_draws_differ():
    x = np.ones((8, 6, 5), "float32")
    for make in (lambda: GaussianNoise(0.5, seed=9), lambda: GaussianDropout(0.5, seed=9),
                 lambda: SpatialDropout1D(0.5, seed=9)):
        a, b = make(), make()
        first = a(x, training=True)
        np.testing.assert_array_equal(first, b(x, training=True))
        assert not np.array_equal(first, a(x, training=True))


def test_noise_layers_train_in_a_model():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 6, 4)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    model = fcnet.Sequential([Input(shape=(6, 4)), GaussianNoise(0.1, seed=1),
                              SpatialDropout1D(0.2, seed=2), Flatten(),
                              GaussianDropout(0.1, seed=3), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_errors():
    with pytest.raises(ValueError, match="stddev"):
        GaussianNoise(1.5)
    with pytest.raises(ValueError, match="rate"):
        GaussianDropout(-0.1)
    with pytest.raises(ValueError, match="rate"):
        SpatialDropout1D(1.0)
    with pytest.raises(ValueError, match="data_format"):
        SpatialDropout2D(0.5, data_format="channels_middle")
    with pytest.raises(ValueError, match="ndim=3"):
        SpatialDropout1D(0.5)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="ndim=4"):
        SpatialDropout2D(0.5)(np.zeros((2, 3, 4), "float32"))
