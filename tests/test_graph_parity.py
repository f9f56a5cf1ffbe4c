"""fcnet's functional API trains to real Keras 3's numbers.

Each case builds the same graph in fcnet and in Keras 3 (JAX backend, run eagerly) with
one function that takes the package: residual blocks joined by ``Add``, two named inputs
and two named outputs (dicts and lists), a layer shared by two inputs, models nested as
layers, and a subclassed ``Model``. Both models must list the same layers in the same
order (Keras sorts a functional graph's layers by depth, ties in traversal order, not in
creation order), hold the same weight shapes and count the same parameters. Keras starts
from fcnet's initial weights; both fit the same fixed data (``batch_size=8, epochs=3,
shuffle=False``); every history key, the final weights, ``evaluate`` and ``predict``
(a list or a dict for several outputs, as Keras returns them) must agree to float32
tolerance. Keras is the independent oracle: nothing here re-derives its formulas.
"""

import numpy as np
import pytest
from keras_training import compiler, fit_both, training_keras

import fcnet

keras = training_keras()

# 24 samples = 3 full batches of 8: one batch shape keeps JAX's per-shape compilations few.
N = 24


# ---------------------------------------------------------------------- data
def _rng():
    return np.random.default_rng(20240612)


def _normal(rng, *shape):
    return rng.normal(size=(N,) + shape).astype("float32")


def _onehot(rng, k):
    return np.eye(k, dtype="float32")[rng.integers(0, k, size=N)]


# ---------------------------------------------------------------------- models
def _residual_mlp(mod):
    """Input(6) -> Dense(8) -> two ``h + Dense(Dense(h))`` blocks -> Dense(3, softmax).

    In ``Dense(8)(Dense(8)(h))`` Python creates the outer Dense first but calls it second:
    Keras lists (and orders the weights of) the inner one first, in graph order."""
    layers = mod.layers
    x = mod.Input(shape=(6,))
    h = layers.Dense(8, activation="relu")(x)
    for _ in range(2):
        h = layers.Add()([h, layers.Dense(8, activation="relu")(
            layers.Dense(8, activation="relu")(h))])
    return mod.Model(x, layers.Dense(3, activation="softmax")(h))


def _two_in_two_out(mod, dicts):
    """Inputs ``a`` (4,) and ``b`` (3,), a Concatenate of their branches, outputs ``cls``
    (3-way softmax) and ``reg`` (linear); inputs and outputs as dicts or as lists."""
    layers = mod.layers
    a = mod.Input(shape=(4,), name="a")
    b = mod.Input(shape=(3,), name="b")
    h = layers.Concatenate()([layers.Dense(8, activation="tanh")(a),
                              layers.Dense(8, activation="relu")(b)])
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    if dicts:
        return mod.Model({"a": a, "b": b}, {"cls": cls, "reg": reg})
    return mod.Model([a, b], [cls, reg])


def _siamese(mod):
    """One Dense(8, tanh) applied to two inputs; ``Subtract`` then Dense(1, sigmoid)."""
    layers = mod.layers
    left = mod.Input(shape=(6,), name="left")
    right = mod.Input(shape=(6,), name="right")
    shared = layers.Dense(8, activation="tanh")
    diff = layers.Subtract()([shared(left), shared(right)])
    return mod.Model([left, right], layers.Dense(1, activation="sigmoid")(diff))


def _nested_in_functional(mod):
    """A Sequential and a functional model used as layers of an outer functional model."""
    layers = mod.layers
    encoder = mod.Sequential([mod.Input(shape=(6,)), layers.Dense(8, activation="tanh"),
                              layers.Dense(8, activation="tanh")], name="encoder")
    head_in = mod.Input(shape=(8,))
    head_hidden = layers.Dense(8, activation="relu")(head_in)
    head = mod.Model(head_in, layers.Dense(3)(head_hidden), name="head")
    x = mod.Input(shape=(6,))
    skip = layers.Dense(8)
    return mod.Model(x, head(layers.Add()([encoder(x), skip(x)])))


def _nested_in_sequential(mod):
    """A Sequential (no Input of its own) as the first layer of an outer Sequential."""
    layers = mod.layers
    inner = mod.Sequential([layers.Dense(8, activation="tanh"),
                            layers.Dense(8, activation="relu")], name="inner")
    return mod.Sequential([mod.Input(shape=(6,)), inner, layers.Dense(3)])


def _subclassed(mod):
    """``call`` composes attribute layers. ``head`` is assigned first but called last:
    Keras orders a subclassed model's layers and weights by attribute assignment."""
    layers = mod.layers

    class Net(mod.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.head = layers.Dense(3, activation="softmax")
            self.hidden = layers.Dense(8, activation="relu")
            self.block = layers.Dense(8, activation="tanh")
            self.merge = layers.Add()
            self.drop = layers.Dropout(0.0)
            self.frozen_drop = layers.Dropout(0.5)  # always called with training=False

        def call(self, inputs, training=None):
            h = self.hidden(inputs)
            h = self.merge([h, self.block(h)])
            h = self.drop(h, training=training)
            h = self.frozen_drop(h, training=False)
            return self.head(h)

    return Net(name="net")


ADAM = ("Adam", {"learning_rate": 0.01})


# ---------------------------------------------------------------------- tests
def test_residual_functional_mlp():
    rng = _rng()
    x, y = _normal(rng, 6), _onehot(rng, 3)
    fc, _ = fit_both(keras, _residual_mlp, compiler(ADAM, loss="categorical_crossentropy",
                                                    metrics=["accuracy"]), x, y)
    assert sorted(fc["history"]) == ["accuracy", "loss"]


def _two_output_data():
    rng = _rng()
    return (_normal(rng, 4), _normal(rng, 3),
            rng.integers(0, 3, size=N).astype("int32"), _normal(rng, 1))


TWO_OUTPUT_KEYS = ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]


@pytest.mark.parametrize("dict_model", [True, False], ids=["dict-model", "list-model"])
def test_two_inputs_two_outputs_dicts(dict_model):
    """x, y, loss, loss_weights and metrics keyed by input and output names."""
    xa, xb, y_cls, y_reg = _two_output_data()
    compile_kwargs = compiler(
        ADAM, loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    fc, ke = fit_both(keras, lambda mod: _two_in_two_out(mod, dict_model), compile_kwargs,
                      {"a": xa, "b": xb}, {"cls": y_cls, "reg": y_reg})
    assert sorted(fc["history"]) == TWO_OUTPUT_KEYS
    # A dict-output model predicts a dict by output name, a list-output model a list.
    assert isinstance(ke["predict"], dict if dict_model else list)
    # "loss" is the weighted sum; "<output>_loss" is each output's own, unweighted, loss.
    history = {k: np.array(v) for k, v in fc["history"].items()}
    np.testing.assert_allclose(history["loss"], history["cls_loss"] + 0.5 * history["reg_loss"],
                               rtol=1e-5)


def test_two_inputs_two_outputs_lists():
    """x, y, loss, loss_weights and metrics as lists in the model's input/output order."""
    xa, xb, y_cls, y_reg = _two_output_data()
    compile_kwargs = compiler(
        ADAM, loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
        metrics=[["accuracy"], ["mae"]])
    fc, ke = fit_both(keras, lambda mod: _two_in_two_out(mod, False), compile_kwargs,
                      [xa, xb], [y_cls, y_reg])
    assert sorted(fc["history"]) == TWO_OUTPUT_KEYS
    assert isinstance(ke["predict"], list) and len(ke["predict"]) == 2


def test_shared_layer_siamese():
    rng = _rng()
    left, right = _normal(rng, 6), _normal(rng, 6)
    y = rng.integers(0, 2, size=(N, 1)).astype("float32")
    compile_kwargs = compiler(("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
                               loss="binary_crossentropy", metrics=["accuracy"])
    fit_both(keras, _siamese, compile_kwargs, [left, right], y)
    model = _siamese(fcnet)
    # The shared Dense is one layer with one kernel and one bias: 6*8+8 + 8*1+1.
    assert model.count_params() == 65
    assert len(model.get_weights()) == 4
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "InputLayer", "Dense", "Subtract", "Dense"]


def test_models_nested_in_functional_model():
    rng = _rng()
    x, y = _normal(rng, 6), _normal(rng, 3)
    fit_both(keras, _nested_in_functional, compiler(ADAM, loss="mse", metrics=["mae"]), x, y)


def test_sequential_nested_in_sequential():
    rng = _rng()
    x, y = _normal(rng, 6), _onehot(rng, 3)
    fit_both(keras, _nested_in_sequential, compiler(ADAM, loss="categorical_crossentropy"), x, y)


def test_subclassed_model():
    rng = _rng()
    x, y = _normal(rng, 6), _onehot(rng, 3)
    fit_both(keras, _subclassed,
             compiler(ADAM, loss="categorical_crossentropy", metrics=["accuracy"]),
             x, y, call_on=x[:1])


def test_functional_summary_has_connected_to(capsys):
    """tf.keras 2 (and Keras 3) add a "Connected to" column for a graph that is not a
    chain, each inbound tensor written ``layer[node_index][tensor_index]``; a shared
    layer's second call is its node 1."""
    _siamese(fcnet).summary()
    text = capsys.readouterr().out
    for field in ("Layer (type)", "Output Shape", "Param #", "Connected to",
                  "left (InputLayer)", "right (InputLayer)", "dense (Dense)",
                  "subtract (Subtract)", "dense_1 (Dense)", "left[0][0]", "right[0][0]",
                  "dense[0][0]", "dense[1][0]", "subtract[0][0]", "Total params: 65"):
        assert field in text, field
    # A functional chain is "sequential-like": no Connected to column.
    x = fcnet.Input(shape=(4,))
    fcnet.Model(x, fcnet.layers.Dense(2)(fcnet.layers.Dense(3)(x))).summary()
    assert "Connected to" not in capsys.readouterr().out


def test_two_models_sharing_a_layer_keep_their_optimizer_states():
    """Two compiled models share one Dense (the GAN pattern) and take turns: each model's
    Adam keeps its own moments for the shared kernel across the other's steps."""
    rng = _rng()
    x, y = rng.normal(size=(8, 3)).astype("float32"), np.ones((8, 1), "float32")
    w1, w2 = rng.normal(size=(3, 1)).astype("float32"), rng.normal(size=(3, 3)).astype("float32")

    def run(mod):
        shared, hidden = mod.layers.Dense(1), mod.layers.Dense(3)
        a_in, b_in = mod.Input((3,)), mod.Input((3,))
        a, b = mod.Model(a_in, shared(a_in)), mod.Model(b_in, shared(hidden(b_in)))
        shared.set_weights([w1, np.zeros(1, "float32")])
        hidden.set_weights([w2, np.zeros(3, "float32")])
        for model in (a, b):
            eager = {"run_eagerly": True} if mod is keras else {}
            model.compile(optimizer=mod.optimizers.Adam(0.01), loss="mse", **eager)
        for _ in range(10):
            a.train_on_batch(x, y)
            b.train_on_batch(x, y)
        return [np.asarray(w) for w in shared.get_weights() + hidden.get_weights()]

    for ours, theirs in zip(run(fcnet), run(keras)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
