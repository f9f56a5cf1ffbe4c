"""Regression tests for the engine bugs a review found, one per bug, from its reproductions.

Each test failed on the commit before its fix and checks the right behaviour against
values worked by hand or in NumPy, or against the property itself. The fixes: eac43f6
(a Model subclass passing inputs and outputs to ``Model.__init__``; a Sequential given
layers), d063400 (tests 2 to 13 below), 909f98a (a subclassed model ending in softmax
fuses), 12a397d (two models sharing a layer keep their optimizer states) and ff1e0fe
(decay spans given as lists). A case still broken is marked ``xfail(strict=True)``: it
fails once fixed, and the mark comes off then.
"""

import numpy as np
import pytest

import fcnet
from fcnet.models.functional import Functional
from fcnet.testing import check_gradients

L = fcnet.layers

# One SGD(0.1) step of mse on Dense(units, kernel ones, bias zeros) with x = ones((4, 3)),
# y = 0: z = 3 everywhere, dL/dz = 2 * 3 / (4 * units), so dW = 4 * dL/dz and db = dW.
X1 = np.ones((4, 3), np.float32)


def _after_one_step(units: int) -> tuple[float, float]:
    grad = 4 * 2 * 3.0 / (4 * units)
    return 1.0 - 0.1 * grad, -0.1 * grad  # (every kernel entry, every bias entry)


# ---------------------------------------------------------------- 1. Model subclass, Sequential
def test_model_subclass_passing_inputs_and_outputs_is_functional_and_trains():
    class M(fcnet.Model):
        def __init__(self):
            x = fcnet.Input((3,))
            super().__init__(x, L.Dense(2, kernel_initializer="ones")(x))

        def extra(self):
            return "mine"

    model = M()
    assert isinstance(model, M) and isinstance(model, Functional)
    assert model.extra() == "mine"
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    model.fit(X1, np.zeros((4, 2), np.float32), epochs=1, batch_size=4, verbose=0)
    w, b = _after_one_step(2)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, np.full((3, 2), w), rtol=1e-6)
    np.testing.assert_allclose(bias, np.full(2, b), rtol=1e-6)
    np.testing.assert_allclose(model.predict(X1, verbose=0), np.full((4, 2), 3 * w + b),
                               rtol=1e-6)


def test_sequential_given_a_list_of_layers_is_a_sequential_and_trains():
    model = fcnet.Sequential([L.Dense(1, kernel_initializer="ones")])
    assert type(model) is fcnet.Sequential and not isinstance(model, Functional)
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    model.fit(X1, np.zeros((4, 1), np.float32), epochs=1, batch_size=4, verbose=0)
    w, b = _after_one_step(1)
    np.testing.assert_allclose(model.get_weights()[0], np.full((3, 1), w), rtol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], [b], rtol=1e-6)


# ---------------------------------------------------------------- 2. one output in a list or dict
@pytest.mark.parametrize("form", ["list", "dict"])
def test_a_single_output_given_as_a_list_or_dict_fits_evaluates_and_predicts(form):
    inputs = fcnet.Input((3,))
    out = L.Dense(1, kernel_initializer="ones")(inputs)
    model = fcnet.Model(inputs, [out] if form == "list" else {"out": out})
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    zeros = np.zeros((4, 1), np.float32)
    y = [zeros] if form == "list" else {"out": zeros}
    history = model.fit(X1, y, epochs=1, batch_size=4, verbose=0)
    assert history.history["loss"] == [pytest.approx(9.0)]  # (3 - 0)², before the step
    w, b = _after_one_step(1)
    expected = 3 * w + b  # 0.6
    assert model.evaluate(X1, y, verbose=0) == pytest.approx(expected**2, rel=1e-5)
    predicted = model.predict(X1, verbose=0)
    if form == "list":  # Keras 3.15.1 unwraps a one-element output list: an array comes back
        assert isinstance(predicted, np.ndarray)
    else:
        assert isinstance(predicted, dict) and list(predicted) == ["out"]
        predicted = predicted["out"]
    np.testing.assert_allclose(predicted, np.full((4, 1), expected), rtol=1e-5)


# ---------------------------------------------------------------- 3. frozen kernel, trained bias
def test_a_frozen_kernel_leaves_the_bias_training_with_its_regularizer():
    dense = L.Dense(1, kernel_initializer="ones", bias_initializer="ones",
                    bias_regularizer=fcnet.regularizers.L2(0.01))
    model = fcnet.Sequential([fcnet.Input((3,)), dense])
    dense.kernel.trainable = False
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    assert [v.path for v in model.trainable_variables] == [dense.bias.path]
    x = np.zeros((4, 3), np.float32)  # z = b: only the bias and its penalty act
    y = np.full((4, 1), 5.0, np.float32)
    b = 1.0
    for _ in range(3):  # dL/db = 2 (b - 5) + 2 * 0.01 * b, a fresh gradient every step
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
        b -= 0.1 * (2 * (b - 5.0) + 0.02 * b)
        np.testing.assert_allclose(dense.bias.numpy(), [b], rtol=1e-5)
    np.testing.assert_array_equal(dense.kernel.numpy(), np.ones((3, 1)))


# ---------------------------------------------------------------- 4. nested model used in part
def test_a_several_output_nested_model_used_in_part_trains():
    i = fcnet.Input((3,))
    trunk, head, unused = L.Dense(4), L.Dense(1), L.Dense(2)
    h = trunk(i)
    inner = fcnet.Model(i, [head(h), unused(h)])
    j = fcnet.Input((3,))
    outer = fcnet.Model(j, inner(j)[0])
    outer.compile(fcnet.optimizers.SGD(0.1), "mse")

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    w1, b1 = (a.astype(np.float64) for a in trunk.get_weights())
    w2, b2 = (a.astype(np.float64) for a in head.get_weights())
    unused_before = unused.get_weights()
    outer.train_on_batch(x, y)

    hidden = x @ w1 + b1  # by hand: mse through two linear layers
    dz = 2 * (hidden @ w2 + b2 - y) / len(x)
    dh = dz @ w2.T
    np.testing.assert_allclose(head.kernel.numpy(), w2 - 0.1 * hidden.T @ dz, rtol=1e-4)
    np.testing.assert_allclose(head.bias.numpy(), b2 - 0.1 * dz.sum(0), rtol=1e-4)
    np.testing.assert_allclose(trunk.kernel.numpy(), w1 - 0.1 * x.T @ dh, rtol=1e-4)
    np.testing.assert_allclose(trunk.bias.numpy(), b1 - 0.1 * dh.sum(0), rtol=1e-4,
                               atol=1e-7)
    for before, after in zip(unused_before, unused.get_weights()):
        np.testing.assert_array_equal(before, after)


# ---------------------------------------------------------------- 5. checker with dict inputs
@pytest.mark.parametrize("order", ["model order", "reversed"])
def test_gradient_checker_pairs_dict_inputs_by_name(order):
    b, a = fcnet.Input((3,), name="b"), fcnet.Input((3,), name="a")
    h = L.Concatenate()([L.Dense(2, name="db")(b), a])
    model = fcnet.Model([b, a], L.Dense(1, name="out")(h))
    rng = np.random.default_rng(0)
    xb, xa = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    x = {"b": xb, "a": xa} if order == "model order" else {"a": xa, "b": xb}
    report = check_gradients(model, x)  # raised AssertionError for input b before the fix
    assert {"a", "b"} <= set(report)
    assert {"input_0", "input_1"}.isdisjoint(report)


# ---------------------------------------------------------------- 6. keyword args inside call
class _Scale(L.Layer):
    def call(self, x, factor=1.0):
        return x * factor

    def backward(self, ctx, dy):
        return dy


class _KwargsNet(fcnet.Model):
    def __init__(self):
        super().__init__()
        self.s = _Scale(name="scale")
        self.d = L.Dense(1, kernel_initializer="ones")

    def call(self, x, training=None):
        return self.d(self.s(x, factor=10.0))


def test_a_layer_given_keyword_arguments_inside_call_is_named_by_fit():
    # Before the fix, fit and predict dropped `factor` silently (3 instead of model(x)'s 30).
    model = _KwargsNet()
    x = np.ones((2, 3), np.float32)
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="scale"):
        model.fit(x, np.zeros((2, 1), np.float32), verbose=0)


def test_keyword_arguments_inside_call_reach_the_layer_in_predict_and_eager_calls():
    model = _KwargsNet()
    x = np.ones((2, 3), np.float32)
    expected = np.full((2, 1), 30.0, np.float32)  # ones · 10, summed by a ones kernel
    np.testing.assert_array_equal(np.asarray(model(x)), expected)
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)


# ---------------------------------------------------------------- 7. training reaches Dropout
def test_an_eager_training_call_reaches_a_dropout_called_without_training():
    class Net(fcnet.Model):
        def __init__(self):
            super().__init__()
            self.drop = L.Dropout(0.25)

        def call(self, x, training=None):
            return self.drop(x)

    model = Net()
    x = np.ones((8, 64), np.float32)
    y = np.asarray(model(x, training=True))
    dropped, kept = np.isclose(y, 0.0), np.isclose(y, 1 / (1 - 0.25))
    assert (dropped | kept).all() and dropped.any() and kept.any()
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(model(x)), x)


# ---------------------------------------------------------------- 8. in-place op on an output
def test_an_in_place_operation_on_a_layer_output_raises_in_fit_before_any_step():
    class Net(fcnet.Model):
        def __init__(self):
            super().__init__()
            self.d1, self.d2 = L.Dense(4), L.Dense(1)

        def call(self, x, training=None):
            h = self.d1(x)
            h *= 3.0  # no backward pass would see this
            return self.d2(h)

    model = Net()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    model(x)
    weights = model.get_weights()
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    with pytest.raises(ValueError):
        model.fit(x, np.ones((5, 1), np.float32), verbose=0)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


# ---------------------------------------------------------------- 9. subclassed dict outputs
def test_a_subclassed_model_returning_a_dict_trains_with_a_dict_loss():
    class Net(fcnet.Model):
        def __init__(self):
            super().__init__()
            self.a = L.Dense(1, kernel_initializer="zeros")
            self.b = L.Dense(2, kernel_initializer="zeros")

        def call(self, x, training=None):
            return {"reg": self.a(x), "cls": self.b(x)}

    model = Net()
    model.compile(fcnet.optimizers.SGD(0.1), loss={"reg": "mse", "cls": "mse"})
    x = np.ones((8, 3), np.float32)
    y = {"reg": np.ones((8, 1), np.float32), "cls": np.full((8, 2), 2.0, np.float32)}
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    assert set(history) == {"loss", "reg_loss", "cls_loss"}
    # Outputs start at 0: (0 - 1)² and (0 - 2)², before the step.
    assert history["reg_loss"] == [pytest.approx(1.0)]
    assert history["cls_loss"] == [pytest.approx(4.0)]
    assert history["loss"] == [pytest.approx(5.0)]
    assert np.abs(model.a.kernel.numpy()).min() > 0 and np.abs(model.b.kernel.numpy()).min() > 0
    assert set(model.predict(x, verbose=0)) == {"reg", "cls"}


# ---------------------------------------------------------------- 10. dict inputs, shapes
def test_functional_output_shape_follows_dict_inputs_by_name():
    b, a = fcnet.Input((3,), name="b"), fcnet.Input((5,), name="a")
    model = fcnet.Model({"b": b, "a": a}, L.Activation("relu")(b))  # the output is b's width
    for order in (("b", "a"), ("a", "b")):  # a dict's order does not matter, its keys do
        shapes = {"b": (None, 3), "a": (None, 5)}
        assert tuple(model.compute_output_shape({k: shapes[k] for k in order})) == (None, 3)
        symbolic = {"b": fcnet.Input((3,)), "a": fcnet.Input((5,))}
        assert tuple(model({k: symbolic[k] for k in order}).shape) == (None, 3)


def test_a_subclassed_model_called_on_a_dict_of_symbolic_inputs():
    class Net(fcnet.Model):
        def __init__(self):
            super().__init__()
            self.c = L.Concatenate()
            self.d = L.Dense(1)

        def call(self, x, training=None):
            return self.d(self.c([x["a"], x["b"]]))

    y = Net()({"a": fcnet.Input((2,)), "b": fcnet.Input((3,))})
    assert tuple(y.shape) == (None, 1)


# ---------------------------------------------------------------- 11. thawing a variable
def test_thawing_variables_after_a_fit_makes_the_next_fit_train_them():
    dense = L.Dense(1, kernel_initializer="ones")
    model = fcnet.Sequential([fcnet.Input((3,)), dense])
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    y = np.zeros((4, 1), np.float32)
    dense.kernel.trainable = False
    dense.bias.trainable = False
    model.fit(X1, y, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(dense.kernel.numpy(), np.ones((3, 1)))
    np.testing.assert_array_equal(dense.bias.numpy(), [0.0])
    dense.kernel.trainable = True
    dense.bias.trainable = True
    model.fit(X1, y, epochs=1, batch_size=4, verbose=0)
    w, b = _after_one_step(1)
    np.testing.assert_allclose(dense.kernel.numpy(), np.full((3, 1), w), rtol=1e-6)
    np.testing.assert_allclose(dense.bias.numpy(), [b], rtol=1e-6)


# ---------------------------------------------------------------- 12. thawing a layer
def test_a_layer_built_frozen_then_thawed_has_trainable_weights_and_trains():
    dense = L.Dense(2, trainable=False, kernel_initializer="ones")
    model = fcnet.Sequential([fcnet.Input((3,)), dense])
    assert dense.built and dense.trainable_weights == []
    dense.trainable = True
    assert len(dense.trainable_weights) == 2
    assert all(v.trainable for v in dense.trainable_weights)
    model.compile(fcnet.optimizers.SGD(0.1), "mse")
    model.fit(X1, np.zeros((4, 2), np.float32), epochs=1, batch_size=4, verbose=0)
    w, b = _after_one_step(2)
    np.testing.assert_allclose(dense.kernel.numpy(), np.full((3, 2), w), rtol=1e-6)
    np.testing.assert_allclose(dense.bias.numpy(), np.full(2, b), rtol=1e-6)


# ---------------------------------------------------------------- 13. the grad slot's advice
def test_replacing_a_grad_slot_recommends_adding_into_it_only():
    dense = L.Dense(2)
    dense.build((None, 3))
    with pytest.raises(AttributeError) as caught:
        dense.kernel.grad = np.zeros((3, 2), np.float32)
    message = str(caught.value)
    assert "w.grad += dw" in message
    # Overwriting loses the first gradient of a layer called twice in one pass.
    assert "grad[...] = dw" not in message



# ---------------------------------------------------------------- other cases in the review
def _adam(state, param, grad, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One Keras Adam step in float64; ``state`` is {"t": steps, id(param): (m, v)}."""
    t = state["t"] + 1
    m, v = state.get(id(param), (np.zeros_like(param), np.zeros_like(param)))
    m = m + (grad - m) * (1 - beta_1)
    v = v + (grad**2 - v) * (1 - beta_2)
    state[id(param)] = (m, v)
    alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    param -= alpha * m / (np.sqrt(v) + epsilon)


def test_two_models_sharing_a_layer_keep_their_own_optimizer_states():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = np.ones((8, 1), np.float32)
    w1 = rng.normal(size=(3, 1)).astype(np.float32)
    w2 = rng.normal(size=(3, 3)).astype(np.float32)
    shared, first = L.Dense(1), L.Dense(3)
    i = fcnet.Input((3,))
    a = fcnet.Model(i, shared(i))
    j = fcnet.Input((3,))
    b = fcnet.Model(j, shared(first(j)))
    shared.set_weights([w1, np.zeros(1, np.float32)])
    first.set_weights([w2, np.zeros(3, np.float32)])
    for model in (a, b):
        model.compile(optimizer=fcnet.optimizers.Adam(0.01), loss="mse")

    W1, B1 = w1.astype(np.float64), np.zeros(1)  # by hand: each model's own Adam state
    W2, B2 = w2.astype(np.float64), np.zeros(3)
    state_a, state_b = {"t": 0}, {"t": 0}
    for _ in range(3):
        a.train_on_batch(x, y)
        dz = 2 * (x @ W1 + B1 - y) / len(x)
        for param, grad in ((W1, x.T @ dz), (B1, dz.sum(0))):
            _adam(state_a, param, grad)
        state_a["t"] += 1
        b.train_on_batch(x, y)
        h = x @ W2 + B2
        dz = 2 * (h @ W1 + B1 - y) / len(x)
        dh = dz @ W1.T
        grads = ((W2, x.T @ dh), (B2, dh.sum(0)), (W1, h.T @ dz), (B1, dz.sum(0)))
        for param, grad in grads:
            _adam(state_b, param, grad)
        state_b["t"] += 1
    np.testing.assert_allclose(shared.kernel.numpy(), W1, rtol=1e-4)
    np.testing.assert_allclose(shared.bias.numpy(), B1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(first.kernel.numpy(), W2, rtol=1e-4)
    np.testing.assert_allclose(first.bias.numpy(), B2, rtol=1e-4, atol=1e-6)


def _saturated_softmax_case():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(4, 3)) * 30).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    w = (rng.normal(size=(3, 3)) * 3).astype(np.float32)
    z = x.astype(np.float64) @ w
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = w - 0.1 * x.T @ ((p - y) / len(x))  # one SGD(0.1) step with dL/dz = p - y
    return x, y, w, expected


class _SoftmaxNet(fcnet.Model):
    def __init__(self):
        super().__init__()
        self.d = L.Dense(3, activation="softmax")

    def call(self, x, training=None):
        return self.d(x)


def test_a_saturated_softmax_ending_a_subclassed_model_takes_the_fused_gradient():
    x, y, w, expected = _saturated_softmax_case()
    model = _SoftmaxNet()
    model(x[:1])
    model.d.set_weights([w, np.zeros(3, np.float32)])
    model.compile(fcnet.optimizers.SGD(0.1), "categorical_crossentropy")
    model.train_on_batch(x, y)
    assert np.abs(expected - w).max() > 0.5  # the exact gradient does not vanish here
    np.testing.assert_allclose(model.d.kernel.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_a_saturated_softmax_ending_a_subclassed_model_inside_a_sequential_is_fused():
    x, y, w, expected = _saturated_softmax_case()
    net = _SoftmaxNet()
    net(x[:1])
    model = fcnet.Sequential([fcnet.Input((3,)), net])
    net.d.set_weights([w, np.zeros(3, np.float32)])
    model.compile(fcnet.optimizers.SGD(0.1), "categorical_crossentropy")
    model.train_on_batch(x, y)
    np.testing.assert_allclose(net.d.kernel.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_the_fused_kernels_take_decay_spans_as_lists():
    fused = pytest.importorskip("fcnet._fused")  # optional: built where a C compiler is
    p, g = np.ones(8, np.float32), np.zeros(8, np.float32)
    fused.sgd(p, g, None, 0.1, 0.0, False, 0.1, [[0, 4]])  # was a SystemError
    np.testing.assert_array_equal(p, np.float32([0.9] * 4 + [1.0] * 4))  # θ − θ·decay
