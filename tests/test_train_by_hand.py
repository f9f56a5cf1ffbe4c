"""``train_on_batch`` takes exactly the gradient step worked out by hand in NumPy.

Every expectation below is written from the formulas in float64, independently of
fcnet's losses, layers and optimizers:

* Dense, linear, mse (Keras: the mean over all N·units elements, no factor ½):
  ``p = x W + b``, ``L = mean((p - y)²)``,
  ``dW = 2/(N·units) · xᵀ (p - y)``, ``db = 2/(N·units) · Σ_batch (p - y)``.
* softmax + categorical crossentropy: ``L = -mean_batch Σ_classes y log p``,
  ``dL/dz = (p - y) / N``, so ``dW = xᵀ (p - y) / N``, ``db = Σ_batch (p - y) / N``.
* SGD: ``θ ← θ - lr · g``.
* Adam (Keras, spec §6.2): ``m ← m + (g - m)(1 - β1)``, ``v ← v + (g² - v)(1 - β2)``,
  ``α = lr · sqrt(1 - β2^t) / (1 - β1^t)``, ``θ ← θ - α · m / (sqrt(v) + ε)``.
"""

import numpy as np
import pytest

import fcnet
from fcnet.layers import Dense

N, IN, UNITS = 5, 3, 2


def make_model(units=UNITS, activation=None):
    model = fcnet.Sequential([fcnet.Input((IN,)), Dense(units, activation=activation)])
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(IN, units)).astype("float32")
    bias = rng.normal(size=(units,)).astype("float32")
    model.set_weights([kernel, bias])
    return model


def data(units=UNITS):
    rng = np.random.default_rng(11)
    return (rng.normal(size=(N, IN)).astype("float32"),
            rng.normal(size=(N, units)).astype("float32"))


def mse_grads(x, y, w, b):
    """(loss, dW, db) of mse for a linear Dense, in float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    p = x @ w + b
    r = p - y
    scale = 2 / r.size  # 2 / (N · units)
    return np.mean(r * r), scale * x.T @ r, scale * r.sum(axis=0)


def test_sgd_step_on_mse_equals_the_formula():
    model = make_model()
    model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = data()
    w0, b0 = (v.astype(np.float64) for v in model.get_weights())
    loss, dw, db = mse_grads(x, y, w0, b0)
    got = model.train_on_batch(x, y)
    assert isinstance(got, float)
    assert got == pytest.approx(loss, rel=1e-5)  # the loss before the update
    w1, b1 = model.get_weights()
    np.testing.assert_allclose(w1, w0 - 0.1 * dw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - 0.1 * db, rtol=1e-5, atol=1e-6)
    assert w1.dtype == b1.dtype == np.float32


def test_rank_1_targets_take_the_same_step_as_a_column():
    # y of shape (N,) against predictions (N, 1): aligned to (N, 1), never broadcast.
    x, y = data(units=1)
    steps = []
    for target in (y, y[:, 0]):
        model = make_model(units=1)
        model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=0.1), loss="mse")
        steps.append((model.train_on_batch(x, target), model.get_weights()))
    w0, b0 = (v.astype(np.float64) for v in make_model(units=1).get_weights())
    loss, dw, db = mse_grads(x, y, w0, b0)
    for value, (w1, b1) in steps:
        assert value == pytest.approx(loss, rel=1e-5)
        np.testing.assert_allclose(w1, w0 - 0.1 * dw, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b1, b0 - 0.1 * db, rtol=1e-5, atol=1e-6)


def test_adam_steps_on_mse_follow_keras_formula():
    lr, beta_1, beta_2, epsilon = 0.01, 0.9, 0.999, 1e-7
    model = make_model()
    model.compile(optimizer=fcnet.optimizers.Adam(learning_rate=lr), loss="mse")
    x, y = data()
    theta = [v.astype(np.float64) for v in model.get_weights()]
    m = [np.zeros_like(v) for v in theta]
    v2 = [np.zeros_like(v) for v in theta]
    for t in (1, 2, 3):
        _, dw, db = mse_grads(x, y, *theta)
        before = model.get_weights()
        model.train_on_batch(x, y)
        if t == 1:  # m / sqrt(v) = sign(g) at t = 1: every weight moves by about lr
            for old, new in zip(before, model.get_weights(), strict=True):
                np.testing.assert_allclose(np.abs(new - old), lr, rtol=1e-3)
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, g in enumerate((dw, db)):
            m[i] = m[i] + (g - m[i]) * (1 - beta_1)
            v2[i] = v2[i] + (g * g - v2[i]) * (1 - beta_2)
            theta[i] = theta[i] - alpha * m[i] / (np.sqrt(v2[i]) + epsilon)
        for got, want in zip(model.get_weights(), theta, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert model.optimizer.iterations == 3


def test_softmax_crossentropy_step_uses_p_minus_y_over_n():
    model = make_model(units=3, activation="softmax")
    model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=0.1),
                  loss="categorical_crossentropy")
    x, _ = data(units=3)
    y = np.eye(3, dtype="float32")[[0, 2, 1, 1, 0]]
    w0, b0 = (v.astype(np.float64) for v in model.get_weights())
    z = x.astype(np.float64) @ w0 + b0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum(y * np.log(p), axis=1))
    dz = (p - y) / N
    got = model.train_on_batch(x, y)
    assert got == pytest.approx(loss, rel=1e-5)
    w1, b1 = model.get_weights()
    np.testing.assert_allclose(w1, w0 - 0.1 * x.T @ dz, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - 0.1 * dz.sum(axis=0), rtol=1e-5, atol=1e-6)


def test_two_sigmoid_layers_step_is_the_chain_rule():
    # Seed 004's 2-4-1 sigmoid network, one SGD step: backprop through both sigmoids.
    fcnet.utils.set_random_seed(3)
    model = fcnet.Sequential([fcnet.Input((2,)), Dense(4, activation="sigmoid"),
                              Dense(1, activation="sigmoid")])
    model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=0.5), loss="mse")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    t = np.array([[0], [0], [0], [1]], dtype="float32")
    w1, b1, w2, b2 = (v.astype(np.float64) for v in model.get_weights())
    h = 1 / (1 + np.exp(-(x @ w1 + b1)))
    y = 1 / (1 + np.exp(-(h @ w2 + b2)))
    dz2 = 2 * (y - t) / y.size * y * (1 - y)
    dz1 = (dz2 @ w2.T) * h * (1 - h)
    want = [w1 - 0.5 * x.T @ dz1, b1 - 0.5 * dz1.sum(0), w2 - 0.5 * h.T @ dz2,
            b2 - 0.5 * dz2.sum(0)]
    assert model.train_on_batch(x, t) == pytest.approx(np.mean((y - t) ** 2), rel=1e-5)
    for got, expected in zip(model.get_weights(), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
