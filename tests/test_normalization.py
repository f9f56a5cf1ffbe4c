"""BatchNormalization and LayerNormalization: formulas, moving statistics, gradients,
freezing, training in a model, summary counts, configs, and parity with real Keras 3."""

import numpy as np
import pytest
from keras_training import WEIGHT_TOL, compiler, fit_both, training_keras

import fcnet
from fcnet.layers import Dense, Input
from fcnet.layers.activation_layers import ReLU
from fcnet.layers.layer_normalization import LayerNormalization
from fcnet.layers.normalization import BatchNormalization
from fcnet.testing import check_gradients

RNG = np.random.default_rng(7)
X2 = RNG.normal(1.0, 2.0, size=(6, 5))
X4 = RNG.normal(-0.5, 1.5, size=(3, 4, 5, 2))
X3 = RNG.normal(0.3, 1.2, size=(4, 3, 5))


@pytest.fixture
def real_keras():
    return training_keras()


def _reference_bn(x, axis, gamma, beta, mean, variance, eps):
    """Per feature, with explicit loops over the features (an independent formula)."""
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    y = np.empty_like(x)
    for c in range(x.shape[-1]):
        y[..., c] = gamma[c] * (x[..., c] - mean[c]) / np.sqrt(variance[c] + eps) + beta[c]
    return np.moveaxis(y, -1, axis)


def _batch_moments(x, axis):
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    flat = x.reshape(-1, x.shape[-1])
    return flat.mean(0), ((flat - flat.mean(0)) ** 2).mean(0)  # biased variance


def _random_weights(layer, rng):
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32")
                       for w in layer.get_weights()])


# ------------------------------------------------------------------ BatchNormalization
def test_batch_norm_hand_worked_numbers():
    layer = BatchNormalization(momentum=0.5)
    x = np.array([[1.0], [5.0]], "float32")  # mean 3, biased variance 4
    y = layer(x, training=True)
    np.testing.assert_allclose(y, [[-2 / np.sqrt(4.001)], [2 / np.sqrt(4.001)]], rtol=1e-6)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [1.5])  # 0·0.5 + 3·0.5
    np.testing.assert_allclose(layer.moving_variance.numpy(), [2.5])  # 1·0.5 + 4·0.5
    # inference: the moving statistics
    np.testing.assert_allclose(layer(x), [[-0.5 / np.sqrt(2.501)], [3.5 / np.sqrt(2.501)]],
                               rtol=1e-6)


@pytest.mark.parametrize("x, axis", [(X2, -1), (X4, -1), (X4, 1), (X3, 1)])
def test_batch_norm_training_and_moving_statistics(x, axis):
    layer = BatchNormalization(axis=axis, momentum=0.8)
    layer.build(x.shape)
    _random_weights(layer, np.random.default_rng(1))
    gamma, beta, mm, mv = [w.astype(np.float64) for w in layer.get_weights()]
    rng = np.random.default_rng(2)
    for _ in range(4):
        batch = (x + rng.normal(size=x.shape)).astype("float32")
        mean, variance = _batch_moments(batch, axis)
        y = layer(batch, training=True)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, _reference_bn(batch, axis, gamma, beta, mean, variance,
                                                    1e-3), rtol=1e-5, atol=1e-5)
        mm, mv = mm * 0.8 + mean * 0.2, mv * 0.8 + variance * 0.2
        np.testing.assert_allclose(layer.moving_mean.numpy(), mm, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.moving_variance.numpy(), mv, rtol=1e-5)
        assert layer.moving_mean.value.dtype == np.float32
    y = layer(x.astype("float32"))  # inference: moving statistics, which stay put
    np.testing.assert_allclose(y, _reference_bn(x, axis, gamma, beta, mm, mv, 1e-3),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mm, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("x, kwargs", [
    (X2, {}), (X4, {}), (X4, {"axis": 1}), (X3, {"axis": -2}),
    (X4, {"center": False}), (X2, {"scale": False}), (X4, {"center": False, "scale": False}),
])
def test_batch_norm_gradients(x, kwargs, training):
    layer = BatchNormalization(**kwargs)
    layer.build(x.shape)
    _random_weights(layer, np.random.default_rng(3))
    before = layer.get_weights()
    report = check_gradients(layer, x, training=training)
    assert set(report) == {"input"} | {v.path for v in layer.trainable_weights}
    for a, b in zip(before, layer.get_weights()):  # the checker restores the moving stats
        np.testing.assert_array_equal(a, b)


def test_batch_norm_backward_formula():
    layer = BatchNormalization()
    x = X2.astype("float32")
    layer.build(x.shape)
    _, ctx = layer.forward(x, training=True)
    dy = np.random.default_rng(4).normal(size=x.shape).astype("float32")
    layer.gamma.grad.fill(0)
    dx = layer.backward(ctx, dy)
    xhat = (X2 - X2.mean(0)) / np.sqrt(X2.var(0) + 1e-3)
    expect = (dy - dy.mean(0) - xhat * (dy * xhat).mean(0)) / np.sqrt(X2.var(0) + 1e-3)
    np.testing.assert_allclose(dx, expect, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, (dy * xhat).sum(0), rtol=1e-4, atol=1e-5)
    assert dx.dtype == np.float32


def test_frozen_batch_norm_runs_in_inference_mode():
    layer = BatchNormalization()
    layer.build(X2.shape)
    _random_weights(layer, np.random.default_rng(5))
    layer.trainable = False
    before = layer.get_weights()
    x = X2.astype("float32")
    np.testing.assert_array_equal(layer(x, training=True), layer(x, training=False))
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    check_gradients(layer, X2, training=True)  # dx = dy γ / sqrt(moving_variance + ε)


def test_frozen_batch_norm_inside_fit_keeps_its_statistics():
    rng = np.random.default_rng(6)
    x = rng.normal(2.0, 3.0, size=(64, 8)).astype("float32")
    y = x[:, :1] - x[:, 1:2]
    model = fcnet.Sequential([Input(shape=(8,)), Dense(8), BatchNormalization(), Dense(1)])
    bn = model.layers[1]
    bn.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype("float32")
                    for w in bn.get_weights()])
    bn.trainable = False
    frozen = bn.get_weights()
    dense_before = model.layers[0].get_weights()[0].copy()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(frozen, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert np.abs(model.layers[0].get_weights()[0] - dense_before).max() > 1e-4
    # the output uses the (frozen) moving statistics, in training mode as in inference
    h = model.layers[0](x)
    gamma, beta, mm, mv = frozen
    np.testing.assert_allclose(bn(h, training=True), _reference_bn(h, -1, gamma, beta, mm, mv,
                                                                    1e-3), rtol=1e-5, atol=1e-5)


def test_dense_batch_norm_relu_trains_and_counts_non_trainable_params():
    rng = np.random.default_rng(8)
    x = rng.normal(1.0, 3.0, size=(256, 10)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 1).astype("float32")
    model = fcnet.Sequential([Input(shape=(10,)), Dense(64), BatchNormalization(), ReLU(),
                              Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.9 * history.history["loss"][0]
    bn = model.layers[1]
    assert bn.count_params() == 256
    assert np.abs(bn.moving_mean.numpy()).max() > 0.01  # the statistics moved
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "batch_normalization (BatchNo (None, 64)                256" in text
    assert "re_lu (ReLU)                 (None, 64)                0" in text
    assert "Trainable params: 897" in text and "Non-trainable params: 128" in text
    assert [v.name for v in bn.weights] == [
        "batch_normalization/gamma:0", "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"]


def test_batch_norm_config_round_trip_and_errors():
    layer = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                               gamma_regularizer="l2")
    config = layer.get_config()
    clone = BatchNormalization.from_config(config)
    assert clone.get_config() == config
    assert config["axis"] == 1 and config["momentum"] == 0.9 and config["renorm"] is False
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=3)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(NotImplementedError, match="renorm"):
        BatchNormalization(renorm=True)
    built = BatchNormalization()
    built(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="batch_normalization"):
        built(np.zeros((2, 4), "float32"))


# ------------------------------------------------------------------ LayerNormalization
def _reference_ln(x, axes, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    others = [i for i in range(x.ndim) if i not in axes]
    y = np.empty_like(x)
    for index in np.ndindex(*[x.shape[i] for i in others]):
        sel = [slice(None)] * x.ndim
        for i, k in zip(others, index):
            sel[i] = k
        part = x[tuple(sel)]
        y[tuple(sel)] = (part - part.mean()) / np.sqrt(part.var() + eps) * gamma + beta
    return y


@pytest.mark.parametrize("axis, axes", [(-1, [2]), ([1, 2], [1, 2]), (1, [1])])
def test_layer_norm_forward_and_gradients(axis, axes):
    layer = LayerNormalization(axis=axis)
    y = layer(X3.astype("float32"))
    assert y.dtype == np.float32
    assert layer.gamma.shape == tuple(X3.shape[a] for a in axes)
    _random_weights(layer, np.random.default_rng(9))
    gamma, beta = layer.get_weights()
    np.testing.assert_allclose(layer(X3.astype("float32")),
                               _reference_ln(X3, axes, gamma, beta, 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer(X3, training=True), layer(X3))  # no training mode
    check_gradients(layer, X3)


def test_layer_norm_hand_worked_numbers_and_options():
    x = np.array([[1.0, 3.0], [0.0, 4.0]], "float32")
    np.testing.assert_allclose(LayerNormalization()(x), [[-1 / np.sqrt(1.001), 1 / np.sqrt(
        1.001)], [-2 / np.sqrt(4.001), 2 / np.sqrt(4.001)]], rtol=1e-6)
    layer = LayerNormalization(center=False, scale=False)
    layer(x)
    assert layer.weights == []
    check_gradients(layer, X3)
    with pytest.warns(UserWarning, match="rms_scaling"):
        rms = LayerNormalization(rms_scaling=True)
    np.testing.assert_allclose(rms(x), x / np.sqrt(np.array([[1.001], [4.001]])), rtol=1e-6)
    assert [v.path for v in rms.weights] == ["layer_normalization_2/gamma"]
    _random_weights(rms, np.random.default_rng(10))
    check_gradients(rms, X2[:, :2])


def test_layer_norm_config_and_errors():
    layer = LayerNormalization(axis=[2, 1], epsilon=1e-5)
    assert layer.get_config()["axis"] == [2, 1]
    layer(X3.astype("float32"))
    config = layer.get_config()
    assert config["axis"] == [1, 2]  # sorted once built, as Keras
    assert LayerNormalization.from_config(config).get_config() == config
    with pytest.raises(TypeError, match="axis"):
        LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="axis"):
        LayerNormalization(axis=3)(X3.astype("float32"))


# ------------------------------------------------------------------ real Keras 3
@pytest.mark.parametrize("x, kwargs", [(X2, {}), (X4, {"momentum": 0.9}), (X4, {"axis": 1}),
                                       (X3, {"center": False, "epsilon": 1e-2})])
def test_batch_norm_matches_keras(real_keras, x, kwargs):
    x = x.astype("float32")
    ours, theirs = BatchNormalization(**kwargs), real_keras.layers.BatchNormalization(**kwargs)
    ours.build(x.shape)
    theirs.build(x.shape)
    _random_weights(ours, np.random.default_rng(11))
    theirs.set_weights(ours.get_weights())
    for step in range(3):
        batch = x + np.float32(step)
        np.testing.assert_allclose(ours(batch, training=True),
                                   np.asarray(theirs(batch, training=True)), **WEIGHT_TOL)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, **WEIGHT_TOL)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), **WEIGHT_TOL)
    assert sorted(ours.get_config()) == sorted(theirs.get_config())
    assert [v.path.split("/")[-1] for v in ours.weights] == [
        v.path.split("/")[-1] for v in theirs.weights]


@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"axis": -2, "scale": False},
                                    {"rms_scaling": True}])
def test_layer_norm_matches_keras(real_keras, kwargs):
    x = X3.astype("float32")
    ours, theirs = LayerNormalization(**kwargs), real_keras.layers.LayerNormalization(**kwargs)
    ours(x)
    theirs(x)
    _random_weights(ours, np.random.default_rng(12))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), **WEIGHT_TOL)
    assert ours.get_config()["axis"] == theirs.get_config()["axis"]
    assert sorted(ours.get_config()) == sorted(theirs.get_config())


def test_dense_batch_norm_fit_matches_keras(real_keras):
    def build(mod):
        if mod is fcnet:
            dense, bn, relu = Dense, BatchNormalization, ReLU
        else:
            dense, bn, relu = (mod.layers.Dense, mod.layers.BatchNormalization,
                               mod.layers.ReLU)
        return mod.Sequential([mod.Input(shape=(5,)), dense(6), bn(momentum=0.8), relu(),
                               dense(2, activation="softmax")])

    rng = np.random.default_rng(13)
    x = rng.normal(1.0, 2.0, size=(24, 5)).astype("float32")
    y = np.eye(2, dtype="float32")[(x[:, 0] > 1).astype(int)]
    fit_both(real_keras, build, compiler(("SGD", {"learning_rate": 0.1}),
                                         loss="categorical_crossentropy"), x, y)
