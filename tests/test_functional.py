"""The functional API, Keras's checklist in our words: ``Input``, ``Model(inputs, outputs)``
with one or several inputs and outputs (lists and dicts), the model's structure
(``layers`` in Keras's order, ``get_layer``, shapes, ``count_params``), eager calls and
``predict`` against a by-hand NumPy forward pass or real Keras 3 (NumPy backend), model
reuse and nesting, graph errors, per-output compile arguments, subclassed models,
frozen layers and activity penalties inside nested models.

Training parity with Keras on JAX lives in tests/test_graph_parity.py and is not repeated.
"""

import numpy as np
import pytest

import fcnet
from fcnet import layers


def _rng(seed=0):
    return np.random.default_rng(seed)


def _normal(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# ---------------------------------------------------------------------- NumPy by hand
def _relu(z):
    return np.maximum(z, 0)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _identity(z):
    return z


def _dense(layer, x, activation=_identity):
    kernel, bias = (w.astype(np.float64) for w in layer.get_weights())
    return activation(np.asarray(x, np.float64) @ kernel + bias)


def _copy_all(changed):
    return [w.copy() for w in changed.get_weights()]


def _same(before, after):
    return all(np.array_equal(a, b) for a, b in zip(before, after))


def _all_changed(before, after):
    return all(not np.array_equal(a, b) for a, b in zip(before, after))


# ---------------------------------------------------------------------- Input
def test_input_shape_batch_size_name_dtype(keras):
    for mod in (fcnet, keras):
        x = mod.Input(shape=(2, 3), batch_size=5, name="pixels", dtype="float64")
        assert tuple(x.shape) == (5, 2, 3)
        assert x.name == "pixels"
        assert x.dtype == "float64"
        y = mod.Input(shape=(7,))
        assert tuple(y.shape) == (None, 7)
        assert y.dtype == "float32"
    fcnet.backend.clear_session()
    # Keras 3's default names: input_layer, input_layer_1, …
    assert [fcnet.Input(shape=(1,)).name for _ in range(3)] == [
        "input_layer", "input_layer_1", "input_layer_2"]


def test_input_batch_size_reaches_the_model_shapes():
    x = fcnet.Input(shape=(4,), batch_size=8)
    model = fcnet.Model(x, layers.Dense(3)(x))
    assert model.input_shape == (8, 4)
    assert model.output_shape == (8, 3)


# ---------------------------------------------------------------------- structure
def test_single_input_single_output_model():
    x = fcnet.Input(shape=(4,), name="features")
    hidden = layers.Dense(5, activation="relu", name="hidden")
    out = layers.Dense(2, name="out")
    y = out(hidden(x))
    model = fcnet.Model(x, y, name="net")
    assert isinstance(model, fcnet.Model)
    assert isinstance(model, fcnet.layers.Layer)
    assert type(model).__name__ == "Functional"
    assert model.name == "net"
    assert model.inputs == [x] and model.outputs == [y]
    assert model.input is x and model.output is y
    assert model.input_shape == (None, 4)
    assert model.output_shape == (None, 2)
    assert [layer.name for layer in model.layers] == ["features", "hidden", "out"]
    assert isinstance(model.layers[0], fcnet.layers.InputLayer)
    assert model.layers[1] is hidden and model.layers[2] is out
    assert model.count_params() == (4 * 5 + 5) + (5 * 2 + 2)
    assert model.built


def test_functional_model_default_names():
    x = fcnet.Input(shape=(2,))
    first = fcnet.Model(x, layers.Dense(1)(x))
    second = fcnet.Model(x, layers.Dense(1)(x))
    assert (first.name, second.name) == ("functional", "functional_1")


def _graph_shared_and_late_input(mod):
    """Three inputs, a layer shared between two branches, an input that joins late, two
    outputs (one reads the sum and a branch)."""
    L = mod.layers
    a = mod.Input(shape=(4,), name="a")
    b = mod.Input(shape=(3,), name="b")
    c = mod.Input(shape=(5,), name="c")
    shared = L.Dense(5, name="shared")
    ha = shared(a)
    hb = shared(L.Dense(4, name="lift")(b))
    total = L.Add(name="sum")([ha, hb, L.Dense(5, name="late")(c)])
    o1 = L.Dense(2, name="o1")(total)
    o2 = L.Dense(1, name="o2")(L.Concatenate(name="cat")([total, ha]))
    return mod.Model([a, b, c], [o1, o2])


def _graph_call_order_differs_from_creation(mod):
    """The outer Dense is created first but called second."""
    L = mod.layers
    x = mod.Input(shape=(6,), name="x")
    outer, inner = L.Dense(8, name="outer"), L.Dense(8, name="inner")
    h = outer(inner(x))
    return mod.Model(x, L.Multiply(name="mul")([h, L.Dense(8, name="k")(x)]))


def _graph_dicts(mod):
    """Dict inputs given out of key order and dict outputs; shapes differ per key."""
    L = mod.layers
    a = mod.Input(shape=(4,), name="a")
    b = mod.Input(shape=(3,), name="b")
    z = L.Dense(1, name="dz")(b)
    y = L.Dense(2, name="dy")(L.Concatenate(name="cat")([a, b]))
    return mod.Model({"b": b, "a": a}, {"z": z, "y": y})


def _graph_nested(mod):
    L = mod.layers
    inner_in = mod.Input(shape=(3,), name="inner_in")
    inner = mod.Model(inner_in, L.Dense(3, activation="tanh", name="inner_dense")(inner_in),
                      name="inner")
    stack = mod.Sequential([L.Dense(4, name="s1"), L.Dense(3, name="s2")], name="stack")
    x = mod.Input(shape=(3,), name="x")
    return mod.Model(x, L.Dense(1, name="head")(L.Add(name="add")([inner(x), stack(x)])))


GRAPHS = {"shared_and_late_input": _graph_shared_and_late_input,
          "call_order_differs_from_creation": _graph_call_order_differs_from_creation,
          "dicts": _graph_dicts, "nested": _graph_nested}


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_structure_matches_keras(keras, graph):
    """``layers`` (input layers included, Keras's depth order), weight order, shapes and
    parameter counts agree with real Keras 3 building the same graph."""
    ours, theirs = GRAPHS[graph](fcnet), GRAPHS[graph](keras)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [w.path.split("/")[-2:] for w in ours.weights] == [
        w.path.split("/")[-2:] for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    assert ours.input_shape == theirs.input_shape
    assert ours.output_shape == theirs.output_shape
    assert [t.shape for t in ours.inputs] == [tuple(t.shape) for t in theirs.inputs]
    assert [t.shape for t in ours.outputs] == [tuple(t.shape) for t in theirs.outputs]


def test_several_inputs_and_outputs_as_lists():
    model = _graph_shared_and_late_input(fcnet)
    assert len(model.inputs) == 3 and len(model.outputs) == 2
    assert model.input_shape == [(None, 4), (None, 3), (None, 5)]
    assert model.output_shape == [(None, 2), (None, 1)]
    # shared Dense(4 -> 5) counted once: lift 3*4+4, shared 4*5+5, late 5*5+5,
    # o1 5*2+2, o2 10*1+1
    assert model.count_params() == 16 + 25 + 30 + 12 + 11
    names = [layer.name for layer in model.layers]
    assert names.count("shared") == 1
    assert sum(isinstance(layer, fcnet.layers.InputLayer) for layer in model.layers) == 3


def test_get_layer_by_name_and_index_and_errors():
    model = _graph_shared_and_late_input(fcnet)
    assert model.get_layer("shared").name == "shared"
    assert model.get_layer(name="o2") is model.layers[-1]
    for index, layer in enumerate(model.layers):
        assert model.get_layer(index=index) is layer
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="index 42.*10 layers"):
        model.get_layer(index=42)
    with pytest.raises(ValueError):
        model.get_layer(name="shared", index=0)
    with pytest.raises(ValueError):
        model.get_layer()


def test_count_params_counts_a_shared_layer_once():
    left, right = fcnet.Input(shape=(6,)), fcnet.Input(shape=(6,))
    shared = layers.Dense(8, activation="tanh")
    diff = layers.Subtract()([shared(left), shared(right)])
    model = fcnet.Model([left, right], layers.Dense(1)(diff))
    assert model.count_params() == (6 * 8 + 8) + (8 + 1)
    assert len(model.weights) == 4
    assert len(shared._inbound_nodes) == 2


# ---------------------------------------------------------------------- eager calls
def test_eager_call_on_one_array_equals_numpy():
    x_in = fcnet.Input(shape=(4,))
    d1 = layers.Dense(6, activation="relu")
    d2 = layers.Dense(6, activation="tanh")
    d3 = layers.Dense(3, activation="softmax")
    h = d1(x_in)
    model = fcnet.Model(x_in, d3(layers.Add()([h, d2(h)])))
    x = _normal(_rng(1), 5, 4)
    hand_h = _dense(d1, x, _relu)
    expected = _dense(d3, hand_h + _dense(d2, hand_h, np.tanh), _softmax)
    got = model(x)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_eager_call_on_a_list_equals_numpy():
    a, b = fcnet.Input(shape=(4,)), fcnet.Input(shape=(3,))
    da, db = layers.Dense(5, activation="tanh"), layers.Dense(5, activation="relu")
    cls, reg = layers.Dense(3, activation="softmax"), layers.Dense(1)
    h = layers.Concatenate()([da(a), db(b)])
    model = fcnet.Model([a, b], [cls(h), reg(layers.Multiply()([da(a), db(b)]))])
    rng = _rng(2)
    xa, xb = _normal(rng, 6, 4), _normal(rng, 6, 3)
    ha, hb = _dense(da, xa, np.tanh), _dense(db, xb, _relu)
    expected = [_dense(cls, np.concatenate([ha, hb], axis=1), _softmax), _dense(reg, ha * hb)]
    for got in (model([xa, xb]), model.predict([xa, xb], verbose=0)):
        assert isinstance(got, list) and len(got) == 2
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_eager_call_on_a_dict_equals_numpy():
    a = fcnet.Input(shape=(4,), name="a")
    b = fcnet.Input(shape=(3,), name="b")
    dz, dy = layers.Dense(1, name="dz"), layers.Dense(2, activation="sigmoid", name="dy")
    model = fcnet.Model({"b": b, "a": a},
                        {"z": dz(b), "y": dy(layers.Concatenate()([a, b]))})
    rng = _rng(3)
    x = {"a": _normal(rng, 5, 4), "b": _normal(rng, 5, 3)}
    expected = {"z": _dense(dz, x["b"]),
                "y": _dense(dy, np.concatenate([x["a"], x["b"]], axis=1), _sigmoid)}
    for got in (model(x), model.predict(x, verbose=0)):
        assert isinstance(got, dict) and sorted(got) == ["y", "z"]
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6)
    # a dict with the keys in another order, or a list in input order, gives the same
    swapped = model({"b": x["b"], "a": x["a"]})
    np.testing.assert_array_equal(swapped["y"], model(x)["y"])


def _small_model(name=None):
    x_in = fcnet.Input(shape=(4,))
    h = layers.Dense(5, activation="tanh")(x_in)
    return fcnet.Model(x_in, layers.Dense(3)(h), name=name)


def test_model_reuse_on_new_symbolic_inputs():
    model = _small_model()
    x = _normal(_rng(4), 7, 4)
    alone = model.predict(x, verbose=0)
    new_input = fcnet.Input(shape=(4,))
    y = model(new_input)
    assert isinstance(y, fcnet.layers.KerasTensor) and y.shape == (None, 3)
    reused = fcnet.Model(new_input, y)
    assert reused.layers[1] is model
    assert reused.count_params() == model.count_params()
    np.testing.assert_allclose(reused.predict(x, verbose=0), alone, rtol=1e-6)
    # the weights are shared, not copied: training the reuse moves the original too
    reused.compile(optimizer="sgd", loss="mse")
    reused.fit(x, np.zeros((7, 3), "float32"), epochs=2, verbose=0)
    assert not np.allclose(model.predict(x, verbose=0), alone)
    np.testing.assert_allclose(model.predict(x, verbose=0), reused.predict(x, verbose=0),
                               rtol=1e-6)


def test_nested_functional_model_gives_the_same_numbers_as_alone():
    inner = _small_model(name="inner")
    x_in = fcnet.Input(shape=(4,))
    head = layers.Dense(2, activation="sigmoid")
    twice = layers.Add()([inner(x_in), inner(x_in)])  # the same model called twice
    outer = fcnet.Model(x_in, head(twice))
    x = _normal(_rng(5), 6, 4)
    alone = inner.predict(x, verbose=0)
    np.testing.assert_allclose(outer.predict(x, verbose=0), _dense(head, 2 * alone, _sigmoid),
                               rtol=1e-5, atol=1e-6)
    assert outer.count_params() == inner.count_params() + 3 * 2 + 2
    assert [layer.name for layer in outer.layers][1] == "inner"


def test_sequential_inside_a_functional_model():
    d1, d2 = layers.Dense(5, activation="relu"), layers.Dense(3, activation="tanh")
    stack = fcnet.Sequential([d1, d2], name="stack")
    x_in = fcnet.Input(shape=(4,))
    skip = layers.Dense(3)
    outer = fcnet.Model(x_in, layers.Add()([stack(x_in), skip(x_in)]))
    assert stack.built and outer.count_params() == 25 + 18 + 15
    x = _normal(_rng(6), 5, 4)
    expected = _dense(d2, _dense(d1, x, _relu), np.tanh) + _dense(skip, x)
    np.testing.assert_allclose(outer(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outer.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stack.predict(x, verbose=0),
                               _dense(d2, _dense(d1, x, _relu), np.tanh), rtol=1e-5, atol=1e-6)


def test_functional_model_as_the_first_layer_of_a_sequential():
    inner = _small_model(name="inner")
    last = layers.Dense(1)
    stacked = fcnet.Sequential([inner, last])
    x = _normal(_rng(7), 5, 4)
    got = stacked.predict(x, verbose=0)  # builds `last` on first data
    np.testing.assert_allclose(got, _dense(last, inner.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-6)
    assert [layer.name for layer in stacked.layers] == ["inner", last.name]
    assert stacked.count_params() == inner.count_params() + 4
    # and it trains: every weight of the inner model moves
    before = _copy_all(inner)
    stacked.compile(optimizer="sgd", loss="mse")
    stacked.fit(x, np.ones((5, 1), "float32"), epochs=2, verbose=0)
    assert _all_changed(before, inner.get_weights())


def test_sequential_starting_with_a_functional_model_is_built_at_once(keras):
    theirs = keras.Sequential([keras.Model(k := keras.Input(shape=(4,)),
                                           keras.layers.Dense(3)(k)), keras.layers.Dense(1)])
    ours = fcnet.Sequential([_small_model(), layers.Dense(1)])
    assert theirs.built and theirs.count_params() == 19
    assert ours.count_params() == (4 * 5 + 5) + (5 * 3 + 3) + 4
    assert ours.built and ours.output_shape == (None, 1)


# ---------------------------------------------------------------------- predict as Keras
def _predict_cases(mod):
    L = mod.layers
    a = mod.Input(shape=(4,), name="a")
    b = mod.Input(shape=(3,), name="b")
    h = L.Concatenate(name="cat")([L.Dense(5, activation="tanh", name="da")(a),
                                   L.Dense(5, activation="relu", name="db")(b)])
    cls = L.Dense(3, activation="softmax", name="cls")(h)
    reg = L.Dense(1, name="reg")(h)
    return {"single": mod.Model([a, b], cls), "list": mod.Model([a, b], [cls, reg]),
            "dict": mod.Model({"a": a, "b": b}, {"cls": cls, "reg": reg})}


@pytest.mark.parametrize("case", ["single", "list", "dict"])
def test_predict_returns_what_keras_returns(keras, case):
    ours, theirs = _predict_cases(fcnet)[case], _predict_cases(keras)[case]
    for name in ("da", "db", "cls", "reg"):
        if name in [layer.name for layer in theirs.layers]:
            theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    rng = _rng(8)
    xa, xb = _normal(rng, 10, 4), _normal(rng, 10, 3)
    x = {"a": xa, "b": xb} if case == "dict" else [xa, xb]
    got = ours.predict(x, batch_size=4, verbose=0)
    want = theirs.predict(x, batch_size=4, verbose=0)
    assert type(got) is type(want)
    if case == "single":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    elif case == "list":
        assert len(got) == len(want) == 2
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    else:
        assert sorted(got) == sorted(want) == ["cls", "reg"]
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- graph errors
def test_graph_disconnected_names_the_layer():
    a, b = fcnet.Input(shape=(3,), name="a"), fcnet.Input(shape=(3,), name="b")
    joined = layers.Add(name="join")([layers.Dense(3)(a), b])
    with pytest.raises(ValueError, match="Graph disconnected") as info:
        fcnet.Model(a, layers.Dense(1)(joined))
    assert "join" in str(info.value)
    assert "'b'" in str(info.value) or '"b"' in str(info.value)


def test_output_that_is_not_a_layer_output_raises():
    x = fcnet.Input(shape=(3,))
    for bad in (np.ones((2, 3)), 3.0, "dense"):
        with pytest.raises(ValueError, match="outputs"):
            fcnet.Model(x, bad)
    with pytest.raises(ValueError, match="outputs"):
        fcnet.Model(x, [layers.Dense(1)(x), np.zeros(3)])


def test_inputs_that_are_not_keras_tensors_raise():
    x = fcnet.Input(shape=(3,))
    with pytest.raises(ValueError, match="inputs"):
        fcnet.Model(np.ones((2, 3)), layers.Dense(1)(x))


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                   "Minimum", "Dot"])
def test_merge_on_mismatched_shapes_names_the_layer_and_both_shapes(merge):
    a, b = fcnet.Input(shape=(3,)), fcnet.Input(shape=(4,))
    kwargs = {"axes": 1} if merge == "Dot" else {}
    layer = getattr(layers, merge)(name=f"my_{merge.lower()}", **kwargs)
    with pytest.raises(ValueError) as info:
        layer([a, b])
    message = str(info.value)
    assert f"my_{merge.lower()}" in message
    assert "(None, 3)" in message and "(None, 4)" in message


def test_concatenate_on_mismatched_shapes_names_the_layer_and_both_shapes():
    a, b = fcnet.Input(shape=(2, 4)), fcnet.Input(shape=(3, 5))
    with pytest.raises(ValueError) as info:
        layers.Concatenate(axis=-1, name="joiner")([a, b])
    message = str(info.value)
    assert "joiner" in message and "(None, 2, 4)" in message and "(None, 3, 5)" in message
    # but along the axis that differs, it is fine
    y = layers.Concatenate(axis=1)([fcnet.Input(shape=(2, 4)), fcnet.Input(shape=(3, 4))])
    assert y.shape == (None, 5, 4)


@pytest.mark.parametrize("operation", [
    lambda t: t + 1.0, lambda t: 1.0 + t, lambda t: t * 2.0, lambda t: 2.0 * t,
    lambda t: t - t, lambda t: t / 2.0, lambda t: -t, lambda t: t @ t, lambda t: t ** 2,
    lambda t: t[:, 0], lambda t: np.add(t, 1.0), lambda t: np.tanh(t)])
def test_arithmetic_on_a_keras_tensor_says_to_use_a_merge_layer(operation):
    t = layers.Dense(3)(fcnet.Input(shape=(3,)))
    with pytest.raises(TypeError, match="merge layer"):
        operation(t)


def test_wrong_number_of_input_arrays_to_fit_and_predict():
    a, b = fcnet.Input(shape=(3,)), fcnet.Input(shape=(3,))
    model = fcnet.Model([a, b], layers.Dense(1)(layers.Add()([a, b])))
    model.compile(optimizer="sgd", loss="mse")
    x, y = _normal(_rng(9), 4, 3), np.zeros((4, 1), "float32")
    before = _copy_all(model)
    for wrong in (x, [x], [x, x, x]):
        with pytest.raises(ValueError, match="expects 2 input"):
            model.fit(wrong, y, verbose=0)
        with pytest.raises(ValueError, match="expects 2 input"):
            model.predict(wrong, verbose=0)
        with pytest.raises(ValueError, match="expects 2 input"):
            model.evaluate(wrong, y, verbose=0)
    assert _same(before, model.get_weights())


def test_a_dict_of_inputs_missing_a_key_names_it():
    a, b = fcnet.Input(shape=(3,), name="a"), fcnet.Input(shape=(3,), name="b")
    model = fcnet.Model({"a": a, "b": b}, layers.Dense(1)(layers.Add()([a, b])))
    model.compile(optimizer="sgd", loss="mse")
    x = _normal(_rng(10), 4, 3)
    with pytest.raises(ValueError, match=r"\['b'\]"):
        model.predict({"a": x}, verbose=0)
    with pytest.raises(ValueError, match=r"\['b'\]"):
        model.fit({"a": x, "c": x}, np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"\['b'\]"):
        model({"a": x})


def test_data_of_the_wrong_width_names_the_input():
    a = fcnet.Input(shape=(3,), name="features")
    model = fcnet.Model(a, layers.Dense(1)(a))
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((4, 5)), verbose=0)


# ---------------------------------------------------------------------- compile per output
def _two_heads(mod, dicts):
    L = mod.layers
    a = mod.Input(shape=(4,), name="a")
    b = mod.Input(shape=(3,), name="b")
    h = L.Concatenate(name="cat")([L.Dense(6, activation="tanh", name="da")(a),
                                   L.Dense(6, activation="relu", name="db")(b)])
    cls = L.Dense(3, activation="softmax", name="cls")(h)
    reg = L.Dense(1, name="reg")(L.Dense(4, activation="tanh", name="reg_hidden")(h))
    if dicts:
        return mod.Model({"a": a, "b": b}, {"cls": cls, "reg": reg})
    return mod.Model([a, b], [cls, reg])


def _two_heads_data(n=16, seed=11):
    rng = _rng(seed)
    x = {"a": _normal(rng, n, 4), "b": _normal(rng, n, 3)}
    y = {"cls": np.eye(3, dtype="float32")[rng.integers(0, 3, n)], "reg": _normal(rng, n, 1)}
    return x, y


COMPILE_CASES = {
    "lists": (False, dict(loss=["categorical_crossentropy", "mse"], loss_weights=[0.3, 2.0],
                          metrics=[["accuracy"], ["mae"]])),
    "lists_metrics_on_one_output": (False, dict(loss=["categorical_crossentropy", "mse"],
                                                metrics=[["accuracy", "mse"], []])),
    "dicts": (True, dict(loss={"reg": "mse", "cls": "categorical_crossentropy"},
                         loss_weights={"cls": 0.5, "reg": 3.0},
                         metrics={"reg": "mae", "cls": ["accuracy",
                                                        "categorical_crossentropy"]})),
    "one_loss_for_all_outputs": (True, dict(loss="mse", metrics={"cls": ["mse"]})),
}


@pytest.mark.parametrize("case", sorted(COMPILE_CASES))
def test_per_output_compile_logs_like_keras(keras, case):
    """evaluate's logs (keys and values) equal real Keras 3's on the same weights, and
    ``loss == Σ_k w_k <out_k>_loss``; fit's history has the same keys."""
    dicts, kwargs = COMPILE_CASES[case]
    ours, theirs = _two_heads(fcnet, dicts), _two_heads(keras, dicts)
    for name in ("da", "db", "cls", "reg_hidden", "reg"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    ours.compile(optimizer="sgd", **kwargs)
    theirs.compile(optimizer="sgd", **kwargs)
    x, y = _two_heads_data()
    if not dicts:
        x, y = [x["a"], x["b"]], [y["cls"], y["reg"]]
    got = ours.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    want = theirs.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, err_msg=key)
    weights = kwargs.get("loss_weights") or [1.0, 1.0]
    if isinstance(weights, dict):
        weights = [weights["cls"], weights["reg"]]
    np.testing.assert_allclose(got["loss"], weights[0] * got["cls_loss"]
                               + weights[1] * got["reg_loss"], rtol=1e-6)
    history = ours.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert sorted(history) == sorted(want)
    assert all(len(values) == 2 for values in history.values())


def test_per_output_losses_by_hand():
    """``<out>_loss`` is the unweighted loss of that output, written out in NumPy."""
    model = _two_heads(fcnet, dicts=True)
    model.compile(optimizer="sgd", loss={"cls": "categorical_crossentropy", "reg": "mae"},
                  loss_weights={"cls": 0.25, "reg": 5.0})
    x, y = _two_heads_data(n=8)
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    cce = -np.mean(np.sum(y["cls"] * np.log(out["cls"].astype(np.float64)), axis=1))
    mae = np.mean(np.abs(y["reg"] - out["reg"]))
    np.testing.assert_allclose(logs["cls_loss"], cce, rtol=1e-5)
    np.testing.assert_allclose(logs["reg_loss"], mae, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 0.25 * cce + 5.0 * mae, rtol=1e-5)


BAD_KEYS = {
    "loss": dict(loss={"cls": "categorical_crossentropy", "regression": "mse"}),
    "loss_weights": dict(loss={"cls": "categorical_crossentropy", "reg": "mse"},
                         loss_weights={"cls": 1.0, "regression": 2.0}),
    "metrics": dict(loss={"cls": "categorical_crossentropy", "reg": "mse"},
                    metrics={"cls": ["accuracy"], "regression": ["mae"]}),
}


@pytest.mark.parametrize("argument", sorted(BAD_KEYS))
def test_a_dict_key_that_names_no_output_raises(argument):
    """``regression`` is no output (they are ``cls`` and ``reg``): compile or the first
    fit says so, naming the key, before any weight changes."""
    model = _two_heads(fcnet, dicts=True)
    x, y = _two_heads_data(n=4)
    before = _copy_all(model)
    with pytest.raises(ValueError, match="regression"):
        model.compile(optimizer="sgd", **BAD_KEYS[argument])
        model.fit(x, y, verbose=0)
    assert _same(before, model.get_weights())


def test_a_target_dict_key_that_names_no_output_raises():
    model = _two_heads(fcnet, dicts=True)
    model.compile(optimizer="sgd", loss={"cls": "categorical_crossentropy", "reg": "mse"})
    x, y = _two_heads_data(n=4)
    with pytest.raises(ValueError, match="regression"):
        model.fit(x, {"cls": y["cls"], "regression": y["reg"]}, verbose=0)


def test_list_compile_of_the_wrong_length_raises():
    model = _two_heads(fcnet, dicts=False)
    model.compile(optimizer="sgd", loss=["mse", "mse", "mse"])
    x, y = _two_heads_data(n=4)
    with pytest.raises(ValueError, match="3"):
        model.fit([x["a"], x["b"]], [y["cls"], y["reg"]], verbose=0)


def test_an_output_without_a_loss_trains_only_the_other_output():
    """``loss={"cls": …}`` only: the layers that feed only ``reg`` keep their weights, the
    shared trunk and the ``cls`` head move; ``reg`` still gets its metric."""
    model = _two_heads(fcnet, dicts=True)
    model.compile(optimizer="sgd", loss={"cls": "categorical_crossentropy"},
                  metrics={"reg": ["mae"]})
    x, y = _two_heads_data()
    reg_only = [model.get_layer("reg_hidden"), model.get_layer("reg")]
    shared = [model.get_layer(name) for name in ("da", "db", "cls")]
    before_reg = [_copy_all(layer) for layer in reg_only]
    before_shared = [_copy_all(layer) for layer in shared]
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0).history
    for layer, before in zip(reg_only, before_reg):
        assert _same(before, layer.get_weights()), layer.name
    for layer, before in zip(shared, before_shared):
        assert _all_changed(before, layer.get_weights()), layer.name
    assert "loss" in history and "reg_mae" in history and "reg_loss" not in history
    assert "cls_loss" not in history  # Keras 3 logs per-output losses only with several
    # the total is the cls loss alone
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    cce = -np.mean(np.sum(y["cls"] * np.log(out["cls"].astype(np.float64)), axis=1))
    np.testing.assert_allclose(logs["loss"], cce, rtol=1e-5)
    # reg's targets may be left out altogether: its metric then measures nothing (a reset
    # mean's 0, as Keras's), not the outputs against NaN
    history = model.fit(x, {"cls": y["cls"]}, epochs=1, verbose=0).history
    assert history["reg_mae"] == [0.0]


# ---------------------------------------------------------------------- subclassed models
class _Tracked(fcnet.Model):
    def __init__(self):
        super().__init__()
        self.first = layers.Dense(5, activation="tanh")
        self.blocks = [layers.Dense(4, activation="relu"), layers.Dense(3)]
        self.unused_number = 3

    def call(self, inputs):  # no `training` argument: Keras allows it
        h = self.first(inputs)
        for block in self.blocks:
            h = block(h)
        return h


def test_subclassed_model_tracks_attribute_and_list_layers():
    model = _Tracked()
    assert model.layers == [model.first] + model.blocks
    x = _normal(_rng(12), 6, 4)
    y = model(x)
    assert len(model.weights) == 6
    assert model.count_params() == (4 * 5 + 5) + (5 * 4 + 4) + (4 * 3 + 3)
    expected = _dense(model.blocks[1], _dense(model.blocks[0],
                                              _dense(model.first, x, np.tanh), _relu))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(model, fcnet.Model) and type(model).__name__ == "_Tracked"


def test_subclassed_model_without_training_argument_fits():
    model = _Tracked()
    model.compile(optimizer="sgd", loss="mse")
    rng = _rng(13)
    x, y = _normal(rng, 16, 4), _normal(rng, 16, 3)
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert len(model.trainable_weights) == 6


class _NumpyInCall(fcnet.Model):
    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(5, activation="tanh")
        self.d2 = layers.Dense(2)

    def call(self, inputs, training=None):
        x = self.d1(inputs) * 2.0  # a NumPy operation: no backward pass
        return self.d2(x)


def test_numpy_operation_in_call_fails_fit_before_any_weight_changes():
    model = _NumpyInCall()
    rng = _rng(14)
    x, y = _normal(rng, 8, 4), _normal(rng, 8, 2)
    predicted = model.predict(x, verbose=0)  # predict works …
    expected = _dense(model.d2, 2.0 * _dense(model.d1, x, np.tanh))
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    before = _copy_all(model)
    with pytest.raises(ValueError, match="merge layer") as info:  # … fit does not
        model.fit(x, y, verbose=0)
    assert "_NumpyInCall" in str(info.value)
    assert _same(before, model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


class _Block(fcnet.Model):
    def __init__(self):
        super().__init__()
        self.inner = layers.Dense(4, activation="tanh")
        self.gate = layers.Dense(4, activation="sigmoid")

    def call(self, inputs, training=None):
        return layers.Multiply()([self.inner(inputs), self.gate(inputs)])


def test_subclassed_model_nested_in_a_functional_model_trains():
    block = _Block()
    x_in = fcnet.Input(shape=(3,))
    model = fcnet.Model(x_in, layers.Dense(1)(block(x_in)))
    assert model.layers[1] is block
    assert model.count_params() == 2 * (3 * 4 + 4) + 5
    rng = _rng(15)
    x = _normal(rng, 16, 3)
    y = np.sin(x.sum(axis=1, keepdims=True))
    expected = _dense(model.layers[2], _dense(block.inner, x, np.tanh)
                      * _dense(block.gate, x, _sigmoid))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    before = _copy_all(block)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=10, verbose=0).history
    assert _all_changed(before, block.get_weights())
    assert history["loss"][-1] < history["loss"][0]


def test_subclassed_model_without_training_argument_nested_in_a_functional_model():
    block = _Tracked()
    x_in = fcnet.Input(shape=(4,))
    model = fcnet.Model(x_in, layers.Dense(1)(block(x_in)))
    model.compile(optimizer="sgd", loss="mse")
    before = _copy_all(block)
    rng = _rng(16)
    model.fit(_normal(rng, 8, 4), _normal(rng, 8, 1), verbose=0)
    assert _all_changed(before, block.get_weights())


# ---------------------------------------------------------------------- frozen layers
def test_a_frozen_layer_keeps_its_weights_through_fit_and_unfreezing_trains_it():
    x_in = fcnet.Input(shape=(4,))
    frozen = layers.Dense(5, activation="tanh")
    below, above = layers.Dense(4, activation="relu"), layers.Dense(2)
    model = fcnet.Model(x_in, above(frozen(below(x_in))))
    frozen.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    rng = _rng(17)
    x, y = _normal(rng, 16, 4), _normal(rng, 16, 2)
    kept, moved = _copy_all(frozen), [_copy_all(below), _copy_all(above)]
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert _same(kept, frozen.get_weights())
    assert _all_changed(moved[0], below.get_weights())
    assert _all_changed(moved[1], above.get_weights())
    frozen.trainable = True  # the engine remakes its plan; no compile needed
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert _all_changed(kept, frozen.get_weights())


def test_freezing_a_nested_model_freezes_all_its_layers():
    inner = fcnet.Sequential([layers.Dense(5, activation="tanh"), layers.Dense(5)],
                             name="inner")
    x_in = fcnet.Input(shape=(4,))
    head = layers.Dense(2)
    model = fcnet.Model(x_in, head(inner(x_in)))
    inner.trainable = False
    assert all(not layer.trainable for layer in inner.layers)
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
    model.compile(optimizer="sgd", loss="mse")
    rng = _rng(18)
    x, y = _normal(rng, 16, 4), _normal(rng, 16, 2)
    kept, moved = _copy_all(inner), _copy_all(head)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history
    assert _same(kept, inner.get_weights())
    assert _all_changed(moved, head.get_weights())
    assert history["loss"][-1] < history["loss"][0]
    inner.trainable = True
    assert all(layer.trainable for layer in inner.layers)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert _all_changed(kept, inner.get_weights())


def test_frozen_model_after_compile_is_honoured_by_the_next_fit():
    model = _small_model()
    model.compile(optimizer="sgd", loss="mse")
    rng = _rng(19)
    x, y = _normal(rng, 8, 4), _normal(rng, 8, 3)
    model.fit(x, y, verbose=0)
    model.layers[1].trainable = False
    kept = _copy_all(model.layers[1])
    model.fit(x, y, verbose=0)
    assert _same(kept, model.layers[1].get_weights())


# ---------------------------------------------------------------------- activity penalties
def _with_activity(nested, initial):
    """The same net with the activity-regularized Dense at depth 2 (inside a Sequential
    inside the functional model) or at the top level; ``(model, {name: layer})``."""
    x_in = fcnet.Input(shape=(4,))
    named = {"first": layers.Dense(5, activation="tanh"), "pass": layers.Dense(5),
             "reg": layers.Dense(3, activation="tanh", activity_regularizer="l2"),
             "last": layers.Dense(2)}
    h = named["first"](x_in)
    if nested:
        h = fcnet.Sequential([named["pass"], named["reg"]], name="inner")(h)
    else:
        h = named["reg"](named["pass"](h))
    model = fcnet.Model(x_in, named["last"](h))
    for name, layer in named.items():
        layer.set_weights(initial[name])
    return model, named


def test_activity_regularizer_inside_a_nested_model_counts():
    rng = _rng(20)
    initial = {name: [_normal(rng, *shape) * 0.5 for shape in shapes] for name, shapes in {
        "first": [(4, 5), (5,)], "pass": [(5, 5), (5,)], "reg": [(5, 3), (3,)],
        "last": [(3, 2), (2,)]}.items()}
    x, y = _normal(rng, 12, 4), _normal(rng, 12, 2)

    def by_hand(weights):
        w = {k: [v.astype(np.float64) for v in vs] for k, vs in weights.items()}
        h = np.tanh(x @ w["first"][0] + w["first"][1]) @ w["pass"][0] + w["pass"][1]
        r = np.tanh(h @ w["reg"][0] + w["reg"][1])
        pred = r @ w["last"][0] + w["last"][1]
        # Keras's l2 activity penalty, 0.01 · Σ y², divided by the batch size
        return np.mean((pred - y) ** 2) + 0.01 * np.sum(r ** 2) / len(x)

    results = []
    for nested in (False, True):
        model, named = _with_activity(nested, initial)
        assert (named["reg"] in model.layers) is not nested
        model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=0.1), loss="mse")
        logged = model.evaluate(x, y, batch_size=12, verbose=0)
        np.testing.assert_allclose(logged, by_hand(initial), rtol=1e-5)
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        results.append((history["loss"], {name: layer.get_weights()
                                          for name, layer in named.items()}))
    (loss_top, weights_top), (loss_nested, weights_nested) = results
    assert len(loss_top) == 2
    np.testing.assert_allclose(loss_nested, loss_top, rtol=1e-6)
    for name in weights_top:
        assert not _same(initial[name], weights_top[name]), name  # the fit moved them
        for top, nested in zip(weights_top[name], weights_nested[name]):
            np.testing.assert_allclose(nested, top, rtol=1e-6, atol=1e-7, err_msg=name)


def test_activity_regularizer_gradient_changes_training():
    """The penalty's gradient reaches the weights: the same fit without it ends elsewhere."""
    rng = _rng(21)
    x, y = _normal(rng, 8, 4), _normal(rng, 8, 2)
    finals = []
    for regularizer in (None, "l2"):
        fcnet.backend.clear_session()
        fcnet.utils.set_random_seed(5)
        inner = fcnet.Sequential([layers.Dense(3, activity_regularizer=regularizer)])
        x_in = fcnet.Input(shape=(4,))
        model = fcnet.Model(x_in, layers.Dense(2)(inner(x_in)))
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
        finals.append(inner.get_weights()[0])
    assert not np.allclose(finals[0], finals[1])


def test_a_subclass_passing_inputs_and_outputs_is_a_functional_model_with_its_methods():
    class Scaled(fcnet.Model):
        def __init__(self, units):
            x = fcnet.Input((3,))
            super().__init__(x, layers.Dense(units, use_bias=False)(x), name="scaled")
            self.units = units

        def describe(self):
            return f"{self.name}: {self.units} units"

    model = Scaled(2)
    assert isinstance(model, Scaled) and isinstance(model, fcnet.Model)
    assert model.describe() == "scaled: 2 units" and model.count_params() == 6
    kernel = model.get_weights()[0]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ kernel, rtol=1e-6)


def test_dict_outputs_are_keyed_by_dict_keys_and_named_by_their_layers():
    """Keras: ``output_names`` are the output layers' names; compile arguments, targets,
    history and predict follow the dict's keys."""
    x = fcnet.Input((3,))
    model = fcnet.Model(x, {"y": layers.Dense(1, name="dy")(x),
                            "z": layers.Dense(2, name="dz")(x)})
    assert model.output_names == ["dy", "dz"]
    model.compile("sgd", loss={"y": "mse", "z": "mse"})
    data = np.ones((4, 3), np.float32)
    history = model.fit(data, {"y": np.ones((4, 1)), "z": np.zeros((4, 2))}, verbose=0)
    assert set(history.history) == {"loss", "y_loss", "z_loss"}
    assert set(model.predict(data, verbose=0)) == {"y", "z"}
