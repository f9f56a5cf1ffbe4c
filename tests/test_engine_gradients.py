"""The engine's backward passes through whole graphs, against central finite differences.

``fcnet.testing.check_gradients`` perturbs every input entry and every trainable variable
in float64 and compares ``(L(θ + ε) − L(θ − ε)) / 2ε`` with what the engine's backward pass
wrote: for a layer or an uncompiled model ``L = Σ r ⊙ y``, for a compiled model with
targets the training loss through the very code ``fit`` runs. Here it runs on every merge
layer and on the graph shapes the engine must get right: shared layers (gradients add up),
branches and fan-out, residual blocks with Dropout in training mode (one fixed mask per
check), nested and subclassed models, several inputs and outputs (with fused
softmax/sigmoid cross-entropy), frozen layers. The negative tests make sure the checker
and the engine catch a wrong or missing backward pass.
"""

import numpy as np
import pytest

import fcnet
from fcnet import layers
from fcnet.losses import crossentropy
from fcnet.testing import check_gradients

TOL = 1e-5  # the checker's own rtol; every report entry must be below it


def _rng(seed=0):
    return np.random.default_rng(seed)


def _passes(report, names):
    """The report covers exactly ``names`` and every entry is within tolerance."""
    assert sorted(report) == sorted(names)
    for name, error in report.items():
        assert error < TOL, (name, error)


def _paths(model):
    return [v.path for v in model.trainable_variables]


# ---------------------------------------------------------------------- merge layers
MERGES = {
    "add": (lambda: layers.Add(), [(4, 5), (4, 5)]),
    "add_broadcast": (lambda: layers.Add(), [(4, 5), (4, 1)]),
    "add_three": (lambda: layers.Add(), [(4, 5), (4, 5), (4, 5)]),
    "subtract": (lambda: layers.Subtract(), [(4, 5), (4, 5)]),
    "multiply": (lambda: layers.Multiply(), [(4, 5), (4, 5)]),
    "multiply_three": (lambda: layers.Multiply(), [(4, 5), (4, 5), (4, 5)]),
    "average": (lambda: layers.Average(), [(4, 5), (4, 5)]),
    "average_three": (lambda: layers.Average(), [(4, 5), (4, 5), (4, 5)]),
    "maximum": (lambda: layers.Maximum(), [(4, 5), (4, 5)]),
    "maximum_three": (lambda: layers.Maximum(), [(4, 5), (4, 5), (4, 5)]),
    "minimum": (lambda: layers.Minimum(), [(4, 5), (4, 5)]),
    "minimum_three": (lambda: layers.Minimum(), [(4, 5), (4, 5), (4, 5)]),
    "concatenate_axis_1": (lambda: layers.Concatenate(axis=1), [(3, 2, 4), (3, 5, 4)]),
    "concatenate_axis_-1": (lambda: layers.Concatenate(axis=-1), [(3, 2, 4), (3, 2, 6)]),
    "concatenate_three": (lambda: layers.Concatenate(), [(3, 2), (3, 4), (3, 1)]),
    "dot_axes_1": (lambda: layers.Dot(axes=1), [(4, 5), (4, 5)]),
    "dot_axes_1_normalize": (lambda: layers.Dot(axes=1, normalize=True), [(4, 5), (4, 5)]),
    "dot_axes_1_rank_3": (lambda: layers.Dot(axes=1), [(3, 4, 2), (3, 4, 5)]),
    "dot_axes_2_normalize_rank_3": (lambda: layers.Dot(axes=2, normalize=True),
                                    [(3, 2, 4), (3, 5, 4)]),
}


@pytest.mark.parametrize("case", sorted(MERGES))
def test_merge_layer_gradients(case):
    make, shapes = MERGES[case]
    rng = _rng(len(case))
    x = [rng.normal(size=shape) for shape in shapes]
    report = check_gradients(make(), x)
    _passes(report, [f"input_{i}" for i in range(len(shapes))])


def test_merge_layer_in_a_graph_with_weights():
    """A Dot(normalize=True) and a Multiply between trained Dense branches: the merge
    gradients reach the kernels of both branches."""
    a = fcnet.Input(shape=(4,))
    b = fcnet.Input(shape=(3,))
    ha = layers.Dense(5, activation="tanh")(a)
    hb = layers.Dense(5)(b)
    cos = layers.Dot(axes=1, normalize=True)([ha, hb])
    prod = layers.Multiply()([ha, hb])
    model = fcnet.Model([a, b], layers.Concatenate()([cos, layers.Dense(2)(prod)]))
    rng = _rng(3)
    report = check_gradients(model, [rng.normal(size=(5, 4)), rng.normal(size=(5, 3))])
    _passes(report, ["input_0", "input_1"] + _paths(model))
    assert len(_paths(model)) == 6


# ---------------------------------------------------------------------- graphs
def test_shared_layer_gradients_add_up():
    """One Dense applied to two inputs and, again, to its own output: three calls whose
    kernel gradients must be summed (a slot overwritten per call would fail)."""
    left = fcnet.Input(shape=(4,))
    right = fcnet.Input(shape=(4,))
    shared = layers.Dense(4, activation="tanh", name="shared")
    h = layers.Subtract()([shared(left), shared(shared(right))])
    model = fcnet.Model([left, right], layers.Dense(2, name="head")(h))
    rng = _rng(1)
    report = check_gradients(model, [rng.normal(size=(5, 4)), rng.normal(size=(5, 4))])
    _passes(report, ["input_0", "input_1", "shared/kernel", "shared/bias", "head/kernel",
                     "head/bias"])


def test_two_branch_graph_with_concatenate_and_fan_out():
    """The input fans out to two branches and to the concatenation itself."""
    x = fcnet.Input(shape=(4,))
    a = layers.Dense(3, activation="relu")(x)
    b = layers.Dense(5, activation="sigmoid")(x)
    h = layers.Concatenate()([a, x, b])
    model = fcnet.Model(x, layers.Dense(2, activation="tanh")(h))
    report = check_gradients(model, _rng(2).normal(size=(6, 4)))
    _passes(report, ["input"] + _paths(model))


def _residual_with_dropout():
    x = fcnet.Input(shape=(4,))
    h = layers.Dense(6, activation="tanh")(x)
    branch = layers.Dropout(0.5)(layers.Dense(6, activation="tanh")(h))
    return fcnet.Model(x, layers.Dense(3)(layers.Add()([h, branch])))


def test_residual_graph_with_dropout_in_training_mode():
    model = _residual_with_dropout()
    x = _rng(4).normal(size=(8, 4))
    # the mask really is random: two forward passes in training mode differ …
    first = model(x.astype("float32"), training=True)
    second = model(x.astype("float32"), training=True)
    assert np.abs(first - second).max() > 1e-3
    # … and inference is deterministic and differs from training
    np.testing.assert_array_equal(model(x.astype("float32")), model(x.astype("float32")))
    # finite differences only agree with backprop if every evaluation reuses one mask
    report = check_gradients(model, x, training=True)
    _passes(report, ["input"] + _paths(model))


def test_nested_sequential_inside_functional():
    inner = fcnet.Sequential([layers.Dense(5, activation="tanh"), layers.Dense(4)],
                             name="inner")
    x = fcnet.Input(shape=(3,))
    skip = layers.Dense(4, name="skip")(x)
    model = fcnet.Model(x, layers.Dense(2, name="head")(layers.Add()([inner(x), skip])))
    report = check_gradients(model, _rng(6).normal(size=(5, 3)))
    _passes(report, ["input"] + _paths(model))
    assert len(report) == 1 + 8


def test_functional_model_called_twice_and_as_first_layer_of_a_sequential():
    """A functional block shared twice in a graph, and a functional model as the first
    layer of a Sequential: the block's kernel gradient sums over both calls."""
    x = fcnet.Input(shape=(3,))
    block = fcnet.Model(x, layers.Add()([x, layers.Dense(3, activation="tanh")(x)]),
                        name="block")
    outer_in = fcnet.Input(shape=(3,))
    outer = fcnet.Model(outer_in, layers.Dense(2)(block(block(outer_in))))
    data = _rng(7).normal(size=(4, 3))
    report = check_gradients(outer, data)
    _passes(report, ["input"] + _paths(outer))
    assert len(_paths(outer)) == 4  # the block's Dense once, though called twice
    stacked = fcnet.Sequential([outer, layers.Dense(1)])
    report = check_gradients(stacked, data)
    _passes(report, ["input"] + _paths(stacked))
    assert len(_paths(stacked)) == 6


class _Subclassed(fcnet.Model):
    """Layers as attributes and in a list; a gate made with a Multiply layer."""

    def __init__(self, dtype=None):
        super().__init__(dtype=dtype)
        self.hidden = layers.Dense(5, activation="tanh", dtype=dtype)
        self.gate = layers.Dense(5, activation="sigmoid", dtype=dtype)
        self.multiply = layers.Multiply(dtype=dtype)
        self.blocks = [layers.Dense(5, activation="relu", dtype=dtype),
                       layers.Dense(2, dtype=dtype)]

    def call(self, inputs, training=None):
        h = self.multiply([self.hidden(inputs), self.gate(inputs)])
        for block in self.blocks:
            h = block(h)
        return h


def test_subclassed_model_with_float64_layers():
    """float64 layers throughout (the recording of a float64 model)."""
    model = _Subclassed(dtype="float64")
    report = check_gradients(model, _rng(8).normal(size=(6, 4)))
    _passes(report, ["input"] + _paths(model))
    assert len(report) == 1 + 8


def test_subclassed_model():
    model = _Subclassed()
    report = check_gradients(model, _rng(8).normal(size=(6, 4)))
    _passes(report, ["input"] + _paths(model))
    assert len(report) == 1 + 8


def test_subclassed_model_nested_in_functional_with_dropout_float64():
    sub = _Subclassed(dtype="float64")
    x = fcnet.Input(shape=(4,), dtype="float64")
    model = fcnet.Model(x, layers.Dense(1, dtype="float64")(
        layers.Dropout(0.3, dtype="float64")(sub(x))))
    report = check_gradients(model, _rng(9).normal(size=(6, 4)), training=True)
    _passes(report, ["input"] + _paths(model))
    assert len(report) == 1 + 10


def test_subclassed_model_nested_in_functional_with_dropout():
    sub = _Subclassed()
    x = fcnet.Input(shape=(4,))
    model = fcnet.Model(x, layers.Dense(1)(layers.Dropout(0.3)(sub(x))))
    report = check_gradients(model, _rng(9).normal(size=(6, 4)), training=True)
    _passes(report, ["input"] + _paths(model))


def _two_in_two_out():
    a = fcnet.Input(shape=(4,), name="a")
    b = fcnet.Input(shape=(3,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    hb = layers.Dense(5, activation="relu", name="db")(b)
    cls = layers.Dense(3, activation="softmax", name="cls")(
        layers.Concatenate(name="cat")([shared(a), hb]))
    # ``shared`` called on ``a`` a second time: a second node of the same layer
    binary = layers.Dense(1, activation="sigmoid", name="bin")(layers.Add()([shared(a), hb]))
    return a, b, cls, binary


def _two_input_data(seed=10, n=6):
    rng = _rng(seed)
    xa, xb = rng.normal(size=(n, 4)), rng.normal(size=(n, 3))
    y_cls = np.eye(3)[rng.integers(0, 3, n)]
    y_bin = rng.integers(0, 2, (n, 1)).astype(float)
    return xa, xb, y_cls, y_bin


def test_two_inputs_two_outputs_as_a_layer():
    a, b, cls, binary = _two_in_two_out()
    model = fcnet.Model([a, b], [cls, binary])
    xa, xb, _, _ = _two_input_data()
    report = check_gradients(model, [xa, xb])
    _passes(report, ["input_0", "input_1"] + _paths(model))


def test_two_inputs_two_outputs_as_a_layer_with_dicts():
    a, b, cls, binary = _two_in_two_out()
    model = fcnet.Model({"a": a, "b": b}, {"cls": cls, "bin": binary})
    xa, xb, _, _ = _two_input_data()
    report = check_gradients(model, {"a": xa, "b": xb})
    _passes(report, ["a", "b"] + _paths(model))


@pytest.fixture
def fused_calls(monkeypatch):
    """Records, per fused_gradient call, the activation and whether it fused."""
    calls = []
    original = crossentropy._Crossentropy.fused_gradient

    def spy(self, activation, *args, **kwargs):
        result = original(self, activation, *args, **kwargs)
        calls.append((type(self).__name__, result is not None))
        return result

    monkeypatch.setattr(crossentropy._Crossentropy, "fused_gradient", spy)
    return calls


def test_two_inputs_two_outputs_compiled_with_two_losses(fused_calls):
    """Loss 0.7 · CCE(softmax) + 1.9 · BCE(sigmoid): both losses take the fused dL/dz path,
    and the gradients of the weighted training loss still match finite differences."""
    a, b, cls, binary = _two_in_two_out()
    model = fcnet.Model([a, b], [cls, binary])
    model.compile(optimizer="sgd", loss=["categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[0.7, 1.9])
    xa, xb, y_cls, y_bin = _two_input_data()
    report = check_gradients(model, [xa, xb], [y_cls, y_bin])
    _passes(report, ["input_0", "input_1"] + _paths(model))
    fused = {name for name, did in fused_calls if did}
    assert fused == {"CategoricalCrossentropy", "BinaryCrossentropy"}


def test_two_outputs_compiled_with_dict_losses_and_sample_weights():
    a, b, cls, binary = _two_in_two_out()
    model = fcnet.Model({"a": a, "b": b}, {"cls": cls, "bin": binary})
    model.compile(optimizer="sgd", loss={"cls": "categorical_crossentropy", "bin": "mse"},
                  loss_weights={"cls": 2.5, "bin": 0.4})
    xa, xb, y_cls, y_bin = _two_input_data(seed=11)
    report = check_gradients(model, {"a": xa, "b": xb}, {"cls": y_cls, "bin": y_bin},
                             sample_weight=_rng(12).random(6))
    _passes(report, ["a", "b"] + _paths(model))


def test_sgd_step_follows_the_weighted_two_loss_gradient_by_hand():
    """Independent of the checker: one plain SGD step moves each weight by −lr · dL/dw,
    where L = 0.7 · CCE(softmax head) + 1.9 · BCE(sigmoid head) is written out here in
    NumPy (float64) and differentiated by central differences."""
    x_in = fcnet.Input(shape=(4,))
    h = layers.Dense(3, activation="tanh", name="h")(x_in)
    model = fcnet.Model(x_in, [layers.Dense(3, activation="softmax", name="cls")(h),
                               layers.Dense(1, activation="sigmoid", name="bin")(h)])
    lr = 0.1
    model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=lr),
                  loss=["categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[0.7, 1.9])
    rng = _rng(13)
    x = rng.normal(size=(5, 4)).astype("float32")
    y_cls = np.eye(3, dtype="float32")[rng.integers(0, 3, 5)]
    y_bin = rng.integers(0, 2, (5, 1)).astype("float32")
    before = [w.astype(np.float64) for w in model.get_weights()]

    def loss(w):
        hk, hb, ck, cb, bk, bb = w
        hidden = np.tanh(x @ hk + hb)
        z = hidden @ ck + cb
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        q = 1 / (1 + np.exp(-(hidden @ bk + bb)))
        cce = -np.mean(np.sum(y_cls * np.log(p), axis=1))
        bce = -np.mean(y_bin * np.log(q) + (1 - y_bin) * np.log(1 - q))
        return 0.7 * cce + 1.9 * bce

    logged = model.train_on_batch(x, [y_cls, y_bin])
    assert np.isclose(logged[0], loss(before), rtol=1e-5)
    after = model.get_weights()
    eps = 1e-6
    for k, w in enumerate(before):
        numeric = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            plus = [v.copy() for v in before]
            minus = [v.copy() for v in before]
            plus[k][i] += eps
            minus[k][i] -= eps
            numeric[i] = (loss(plus) - loss(minus)) / (2 * eps)
        assert np.abs(numeric).max() > 1e-4
        np.testing.assert_allclose((w - after[k]) / lr, numeric, rtol=1e-3, atol=1e-5,
                                   err_msg=model.weights[k].path)


# ---------------------------------------------------------------------- frozen layers
def test_frozen_layer_is_left_out_and_the_rest_passes():
    x = fcnet.Input(shape=(4,))
    frozen = layers.Dense(5, activation="tanh", name="frozen")
    h = frozen(layers.Dense(5, activation="tanh", name="below")(x))
    model = fcnet.Model(x, layers.Dense(2, name="above")(h))
    frozen.trainable = False
    report = check_gradients(model, _rng(14).normal(size=(5, 4)))
    _passes(report, ["input", "below/kernel", "below/bias", "above/kernel", "above/bias"])
    assert not any(name.startswith("frozen") for name in report)
    # the frozen layer's weights still carry the gradient to the layer below it
    assert report["below/kernel"] < TOL


def test_frozen_nested_model_is_left_out():
    inner = fcnet.Sequential([layers.Dense(5, activation="tanh"), layers.Dense(4)],
                             name="inner")
    x = fcnet.Input(shape=(3,))
    model = fcnet.Model(x, layers.Dense(2, name="head")(inner(layers.Dense(3, name="pre")(x))))
    inner.trainable = False
    report = check_gradients(model, _rng(15).normal(size=(5, 3)))
    _passes(report, ["input", "pre/kernel", "pre/bias", "head/kernel", "head/bias"])


def test_frozen_layer_in_a_compiled_model():
    x = fcnet.Input(shape=(4,))
    frozen = layers.Dense(5, activation="tanh", name="frozen")
    model = fcnet.Model(x, layers.Dense(3, activation="softmax", name="out")(
        frozen(layers.Dense(4, name="first")(x))))
    frozen.trainable = False
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = _rng(16)
    report = check_gradients(model, rng.normal(size=(6, 4)), np.eye(3)[rng.integers(0, 3, 6)])
    _passes(report, ["input", "first/kernel", "first/bias", "out/kernel", "out/bias"])


# ---------------------------------------------------------------------- negative tests
class _Scale(layers.Layer):
    """``y = x ⊙ w`` per feature; ``factor`` scales the returned dx (1: correct)."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

    def call(self, x, training=False):
        return x * self.w.value

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def backward(self, ctx, dy):
        self.w.grad += (dy * ctx).sum(axis=0)
        return self.factor * dy * self.w.value


def _graph_with(custom):
    x = fcnet.Input(shape=(4,))
    h = layers.Dense(4, activation="tanh", name="below")(x)
    return fcnet.Model(x, layers.Dense(2, name="above")(layers.Add()([custom(h), h])))


def test_correct_custom_layer_passes_in_a_graph():
    model = _graph_with(_Scale(name="scale"))
    model.get_layer("scale").w.assign(_rng(17).normal(size=4))  # not all ones
    report = check_gradients(model, _rng(18).normal(size=(5, 4)))
    _passes(report, ["input"] + _paths(model))
    assert "scale/w" in report


def test_wrong_backward_by_a_factor_is_caught():
    model = _graph_with(_Scale(factor=2.0, name="scale"))
    with pytest.raises(AssertionError, match="Gradient check failed for (input|below/)"):
        check_gradients(model, _rng(19).normal(size=(5, 4)))


def test_wrong_backward_is_caught_through_a_compiled_loss():
    model = _graph_with(_Scale(factor=2.0, name="scale"))
    model.compile(optimizer="sgd", loss="mse")
    rng = _rng(20)
    with pytest.raises(AssertionError, match="Gradient check failed"):
        check_gradients(model, rng.normal(size=(5, 4)), rng.normal(size=(5, 2)))


class _NoBackward(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

    def call(self, x, training=False):
        return x * self.w.value

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def test_layer_without_backward_fails_before_training():
    model = _graph_with(_NoBackward(name="no_backward"))
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    rng = _rng(21)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    np.testing.assert_array_equal(model.predict(x, verbose=0).shape, (8, 2))  # forward works
    with pytest.raises(NotImplementedError, match="no_backward"):
        model.fit(x, y, epochs=1, verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_layer_without_backward_inside_a_nested_model_fails_before_training():
    inner = fcnet.Sequential([layers.Dense(4), _NoBackward(name="deep_no_backward")],
                             name="inner")
    x = fcnet.Input(shape=(4,))
    model = fcnet.Model(x, layers.Dense(2)(inner(x)))
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    rng = _rng(22)
    with pytest.raises(NotImplementedError, match="deep_no_backward"):
        model.fit(rng.normal(size=(8, 4)), rng.normal(size=(8, 2)), verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_a_layer_made_of_layers_trains_their_weights():
    """Layers set as attributes of a custom layer are its weights (Keras's tracking): they
    are checked, packed and trained; its backward adds into their slots."""

    class Block(fcnet.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = fcnet.layers.Dense(3, activation="tanh")
            self.out = fcnet.layers.Dense(2)

        def build(self, input_shape):
            self.inner.build(input_shape)
            self.out.build(input_shape[:-1] + (3,))

        def forward(self, x, training=False):
            h, inner_ctx = self.inner.forward(x, training)
            y, out_ctx = self.out.forward(h, training)
            return y, (inner_ctx, out_ctx)

        def backward(self, ctx, dy):
            return self.inner.backward(ctx[0], self.out.backward(ctx[1], dy))

        def compute_output_shape(self, input_shape):
            return input_shape[:-1] + (2,)

    x = np.random.default_rng(0).normal(size=(4, 5))
    report = check_gradients(Block(name="block"), x)
    assert set(report) == {"input", "block/dense/kernel", "block/dense/bias",
                           "block/dense_1/kernel", "block/dense_1/bias"}
    block = Block()
    model = fcnet.Sequential([fcnet.Input((5,)), block, fcnet.layers.Dense(1)])
    model.compile("sgd", "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, np.ones((4, 1)), verbose=0)
    assert len(model.trainable_weights) == 6
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
