"""ReLU, LeakyReLU, PReLU, ELU and Softmax layers: Keras's formulas, gradients, names,
configs, errors, and parity with real Keras 3."""

import numpy as np
import pytest
from keras_training import training_keras

import fcnet
from fcnet.layers import Activation, Dense, Input
from fcnet.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from fcnet.testing import check_gradients

# Inputs kept away from the kinks (0, thresholds, caps) so finite differences are smooth.
X = np.array([-2.9, -2.3, -1.7, -1.2, -0.8, -0.3, -0.1, 0.1, 0.3, 0.7, 0.9, 1.3,
              1.6, 2.4, 2.8, 3.1, -2.6, -1.4, -0.6, 0.2, 0.8, 1.1, 1.8, 2.2])
X3 = np.random.default_rng(0).permutation(X).reshape(2, 3, 4)


@pytest.fixture
def real_keras():
    return training_keras()


def _relu_reference(x, max_value, negative_slope, threshold):
    """Keras's ReLU, one scalar at a time."""
    out = np.empty_like(x, dtype=np.float64)
    for i, v in np.ndenumerate(x):
        if max_value is not None and v >= max_value:
            out[i] = max_value
        elif v >= threshold:
            out[i] = v if v > threshold else 0.0
        else:
            out[i] = negative_slope * (v - threshold)
    return out


CASES = [
    (lambda m: m.ReLU(), {}),
    (lambda m: m.ReLU(max_value=2.0), {}),
    (lambda m: m.ReLU(negative_slope=0.1), {}),
    (lambda m: m.ReLU(threshold=0.5), {}),
    (lambda m: m.ReLU(max_value=2.0, negative_slope=0.2, threshold=0.5), {}),
    (lambda m: m.LeakyReLU(), {}),
    (lambda m: m.LeakyReLU(negative_slope=0.05), {}),
    (lambda m: m.ELU(), {}),
    (lambda m: m.ELU(alpha=0.5), {}),
    (lambda m: m.Softmax(), {}),
    (lambda m: m.Softmax(axis=1), {}),
    (lambda m: m.Softmax(axis=[1, 2]), {}),
    (lambda m: m.PReLU(alpha_initializer="random_uniform"), {}),
    (lambda m: m.PReLU(alpha_initializer="random_uniform", shared_axes=[1]), {}),
    (lambda m: m.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]), {}),
]


class _Ours:
    ReLU, LeakyReLU, PReLU, ELU, Softmax = ReLU, LeakyReLU, PReLU, ELU, Softmax


@pytest.mark.parametrize("make, _", CASES)
def test_gradients_and_config_round_trip(make, _):
    layer = make(_Ours)
    y = layer(X3.astype("float32"))
    assert y.dtype == np.float32 and y.shape == X3.shape
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 4)
    check_gradients(layer, X3)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("make, _", CASES)
def test_outputs_names_and_configs_match_keras(real_keras, make, _):
    real_keras.backend.clear_session()
    x = X3.astype("float32")
    ours, theirs = make(_Ours), make(real_keras.layers)
    ours(x)
    theirs(x)
    if ours.weights:
        theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6, atol=1e-6)
    assert ours.name == theirs.name
    ours_config, their_config = ours.get_config(), theirs.get_config()
    assert sorted(ours_config) == sorted(their_config)
    for key, value in their_config.items():
        if key not in ("dtype", "alpha_initializer"):
            assert ours_config[key] == value, key
    # a config crosses over: Keras builds the same layer from ours
    assert type(theirs).from_config(ours_config).get_config() == {
        **their_config, "name": ours_config["name"]}


@pytest.mark.parametrize("kwargs", [
    {}, {"max_value": 2.0}, {"negative_slope": 0.1}, {"threshold": 0.5},
    {"max_value": 2.0, "negative_slope": 0.2, "threshold": 0.5},
])
def test_relu_piecewise_definition(kwargs):
    full = {"max_value": None, "negative_slope": 0.0, "threshold": 0.0, **kwargs}
    np.testing.assert_allclose(ReLU(**kwargs)(X3), _relu_reference(X3, **full), rtol=1e-6)


def test_hand_worked_numbers():
    x = np.array([[-10.0, -5.0, 0.0, 5.0, 10.0]], "float32")
    np.testing.assert_array_equal(ReLU()(x), [[0, 0, 0, 5, 10]])
    np.testing.assert_array_equal(ReLU(negative_slope=0.5)(x), [[-5, -2.5, 0, 5, 10]])
    np.testing.assert_array_equal(ReLU(max_value=5.0)(x), [[0, 0, 0, 5, 5]])
    np.testing.assert_array_equal(ReLU(threshold=5.0)(x), [[0, 0, 0, 0, 10]])
    np.testing.assert_allclose(LeakyReLU()(x), [[-3, -1.5, 0, 5, 10]])  # slope 0.3
    np.testing.assert_allclose(ELU(alpha=2.0)(np.array([[-1.0, 0.0, 2.0]], "float32")),
                               [[2 * (np.exp(-1) - 1), 0, 2]], rtol=1e-6)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(Softmax()(np.array([[1.0, 2.0, 3.0]], "float32")),
                               [e / e.sum()], rtol=1e-6)


def test_softmax_over_several_axes_and_its_backward():
    y = Softmax(axis=[1, 2])(X3)
    e = np.exp(X3 - X3.max(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=(1, 2), keepdims=True), rtol=1e-5)
    layer = Softmax(axis=1)
    out, ctx = layer.forward(X3, False)
    dy = np.random.default_rng(1).normal(size=X3.shape)
    dx = layer.backward(ctx, dy)
    for b in range(2):  # the Jacobian diag(y) - y yᵀ along axis 1, one column at a time
        for k in range(4):
            s = out[b, :, k]
            np.testing.assert_allclose(dx[b, :, k], (np.diag(s) - np.outer(s, s)) @ dy[b, :, k],
                                       rtol=1e-6, atol=1e-12)


def test_prelu_weight_shape_and_gradient():
    layer = PReLU(alpha_initializer="random_uniform", shared_axes=[1])
    x = X3.astype("float32")
    y = layer(x)
    assert layer.alpha.shape == (1, 4) and [v.path for v in layer.weights] == ["p_re_lu/alpha"]
    alpha = layer.alpha.numpy()
    np.testing.assert_allclose(y, np.where(x > 0, x, alpha * x), rtol=1e-6)
    layer.alpha.grad.fill(0)
    dy = np.ones_like(x)
    layer.backward(layer.forward(x)[1], dy)
    np.testing.assert_allclose(layer.alpha.grad, np.minimum(x, 0).sum(axis=(0, 1))[None],
                               rtol=1e-6)
    full = PReLU()
    full(x)
    assert full.alpha.shape == (3, 4) and np.all(full.alpha.numpy() == 0)  # zeros default


def test_prelu_trains_in_a_model():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = np.abs(x).sum(1, keepdims=True)
    model = fcnet.Sequential([Input(shape=(4,)), PReLU(alpha_initializer="zeros"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert np.abs(model.layers[0].alpha.numpy()).max() > 1e-3
    lines = []
    model.summary(print_fn=lines.append)
    assert any(line.startswith("p_re_lu (PReLU)              (None, 4)                 4")
               for line in lines)


def test_softmax_layer_trains_like_activation_softmax():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 32)]
    losses, weights = [], []
    for head in (Softmax(), Activation("softmax")):
        fcnet.utils.set_random_seed(4)
        model = fcnet.Sequential([Input(shape=(5,)), Dense(3), head])
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        losses.append(model.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"])
        weights.append(model.get_weights())
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_names_legacy_alpha_and_errors():
    assert [ReLU().name, LeakyReLU().name, PReLU().name, ELU().name, Softmax().name] == [
        "re_lu", "leaky_re_lu", "p_re_lu", "elu", "softmax"]
    with pytest.warns(UserWarning, match="alpha"):
        layer = LeakyReLU(alpha=0.1)  # tf.keras 2's name
    assert layer.negative_slope == 0.1 and "alpha" not in layer.get_config()
    with pytest.raises(ValueError, match="max_value"):
        ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope"):
        ReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="threshold"):
        ReLU(threshold=None)
    with pytest.raises(ValueError, match="negative_slope"):
        LeakyReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="axis"):
        Softmax(axis="last")
    with pytest.raises(ValueError, match="shared_axes"):
        PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="shared_axes"):
        PReLU(shared_axes=[3])(X3.astype("float32"))
    prelu = PReLU()
    prelu(X3.astype("float32"))
    with pytest.raises(ValueError, match="p_re_lu"):
        prelu(np.zeros((2, 3, 5), "float32"))
