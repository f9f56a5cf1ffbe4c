"""Sequential: Keras's checklist (spec §9) in our words."""

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense, Input, InputLayer


def test_with_input_then_pop():
    model = keras.Sequential(name="seq")
    model.add(Input(shape=(2,), batch_size=3))
    model.add(Dense(4))
    model.add(Dense(5))
    model.summary(print_fn=lambda line: None)
    assert len(model.layers) == 2 and model.built and len(model.weights) == 4
    assert model(np.ones((3, 2))).shape == (3, 5)
    assert model(Input(shape=(2,), batch_size=3)).shape == (3, 5)
    same = keras.Sequential([Input(shape=(2,), batch_size=3), Dense(4), Dense(5)])
    assert len(same.weights) == 4
    model.pop()
    assert len(model.layers) == 1 and model.built and len(model.weights) == 2
    assert model(np.ones((3, 2))).shape == (3, 4)


def test_legacy_input_shape_builds_at_once():
    for kwargs in ({"input_shape": (2,)}, {"input_dim": 2}):
        model = keras.Sequential([Dense(4, **kwargs), Dense(5, input_shape=(9,))])
        assert model.built and len(model.weights) == 4
        assert model.input_shape == (None, 2) and model.output_shape == (None, 5)


def test_deferred_build():
    model = keras.Sequential([Dense(4), Dense(5)])
    model.summary(print_fn=lambda line: None)
    assert not model.built and model.weights == []
    assert not hasattr(model, "output_shape")
    assert model(np.ones((3, 2))).shape == (3, 5)
    assert model.built and len(model.weights) == 4
    model.pop()
    assert model.built and len(model.weights) == 2


def test_build_with_input_shape_gives_real_shapes():
    model = keras.Sequential([Dense(8, activation="relu"), Dense(5)])
    model.build((None, 10))
    assert len(model.weights) == 4 and model.output_shape == (None, 5)
    assert [v.path for v in model.weights[:2]] == ["sequential/dense/kernel",
                                                    "sequential/dense/bias"]


def test_errors():
    model = keras.Sequential([Input(shape=(2,)), Dense(3)])
    with pytest.raises(ValueError, match="already been configured"):
        model.add(Input(shape=(2,)))
    with pytest.raises(ValueError, match="unique names"):
        model.add(Dense(3, name="dense"))
    with pytest.raises(ValueError, match="no layers"):
        keras.Sequential()(np.ones((1, 2)))
    with pytest.raises(ValueError, match="Only instances of"):
        keras.Sequential().add({})
    fixed = keras.Sequential([Input(shape=(2,), batch_size=3), Dense(4)])
    with pytest.raises(ValueError, match="already been configured"):
        fixed.build((3, 4))
    fixed.build((3, 2))
    with pytest.raises(AttributeError, match=r"add\(\)` and `pop\(\)"):
        fixed.layers = []


def test_compute_output_shape_without_building():
    model = keras.Sequential([Dense(4), Dense(8)])
    assert model.compute_output_shape((1, 2)) == (1, 8)
    assert not model.built
    mlp = keras.Sequential([Dense(3), Dense(5)])
    assert mlp.compute_output_shape((None, 7)) == (None, 5)


def test_has_input_and_output_attributes_only_when_known():
    empty = keras.Sequential()
    for name in ("input_shape", "output_shape", "inputs", "outputs"):
        assert not hasattr(empty, name)
    model = keras.Sequential([Input(shape=(2,)), Dense(4)])
    for name in ("input_shape", "output_shape", "inputs", "outputs"):
        assert hasattr(model, name)
    assert model.inputs[0].shape == (None, 2) and model.outputs[0].shape == (None, 4)


def test_empty_model_built_then_added_to():
    model = keras.Sequential()
    model.add(Dense(5, input_shape=(6,)))
    assert model.built and model.output_shape == (None, 5)
    only = keras.Sequential([Dense(2)])
    only.build((None, 3))
    only.pop()
    assert not only.built


def test_scalar_input_to_unbuilt_dense_model():
    model = keras.Sequential([Dense(2)])
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim="):
        model(np.float32(3.0))


def test_weights_order_and_names():
    model = keras.Sequential([Dense(2, activation="relu"), Dense(2, activation="relu"), Dense(2)])
    model.build(input_shape=[None, 3])
    names = [(p.name, p.shape) for p in model.trainable_variables]
    assert names == [("dense/kernel:0", (3, 2)), ("dense/bias:0", (2,)),
                     ("dense_1/kernel:0", (2, 2)), ("dense_1/bias:0", (2,)),
                     ("dense_2/kernel:0", (2, 2)), ("dense_2/bias:0", (2,))]
    assert model.count_params() == 20


def test_config_round_trips():
    deferred = keras.Sequential([Dense(4), Dense(2)], name="deferred")
    revived = keras.Sequential.from_config(deferred.get_config())
    assert len(revived.layers) == 2 and not revived.built
    deferred.build((2, 3))
    revived = keras.Sequential.from_config(deferred.get_config())
    assert revived.built and len(revived.weights) == 4
    regular = keras.Sequential([Input(shape=(3,), name="in"), Dense(2)])
    config = regular.get_config()
    assert config["layers"][0]["class_name"] == "InputLayer"
    assert config["layers"][0]["config"]["name"] == "in"
    revived = keras.Sequential.from_config(config)
    assert revived.output_shape == (None, 2) and len(revived.layers) == 1


def test_training_argument_reaches_layers():
    model = keras.Sequential([Input(shape=(1000,)), keras.layers.Dropout(0.5)])
    x = np.ones((1, 1000), "float32")
    assert (model(x, training=False) == 1).all()
    y = model(x, training=True)
    assert 300 < int((y == 0).sum()) < 700 and set(np.unique(y)) <= {0.0, 2.0}


def test_input_layer_name_and_dtype_round_trip():
    layer = InputLayer(shape=(3,), name="pixels")
    clone = InputLayer.from_config(layer.get_config())
    assert clone.name == "pixels" and clone.batch_shape == (None, 3) and clone.dtype == "float32"


def test_model_gradients_through_three_layers():
    model = keras.Sequential([Input(shape=(4,)), Dense(5, activation="tanh"),
                              Dense(3, activation="relu"), Dense(2)])
    keras.testing.check_gradients(model, np.random.default_rng(0).normal(size=(6, 4)))


def test_nested_sequential_as_first_layer():
    inner = keras.Sequential([Dense(4, activation="tanh"), Dense(3)])
    model = keras.Sequential([Input(shape=(2,)), inner, Dense(1)])
    assert model(np.ones((5, 2))).shape == (5, 1)
    assert len(model.weights) == 6 and model.count_params() == (2 * 4 + 4) + (4 * 3 + 3) + 4
    keras.testing.check_gradients(model, np.random.default_rng(1).normal(size=(3, 2)))


def test_layer_without_shape_inference_runs_and_summarises():
    class Double(keras.layers.Layer):
        def call(self, x, training=False):
            return 2 * x

    model = keras.Sequential([Dense(3), Double()])
    assert model(np.ones((2, 4))).shape == (2, 3)
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[6].startswith("double (Double)              (None, 3)")


def test_symbolic_call_builds_an_unbuilt_layer():
    layer = Dense(6)
    out = layer(Input(shape=(3, 4)))
    assert layer.built and out.shape == (None, 3, 6) and layer.kernel.shape == (4, 6)


def test_model_is_picklable():
    import pickle

    model = keras.Sequential([Input(shape=(3,)), Dense(2, activation="relu")])
    x = np.random.rand(4, 3).astype("float32")
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone(x), model(x))


def test_weights_are_listed_layer_by_layer_as_keras_3_lists_them():
    """Keras 3 lists a model's variables layer by layer, each layer's in the order it made
    them (trainable or not): Dense, then BatchNormalization's gamma, beta, moving mean and
    variance, then the next Dense; freezing a layer does not reorder the list."""
    import fcnet

    model = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(4),
                              fcnet.layers.BatchNormalization(), fcnet.layers.Dense(2)])
    names = ["/".join(v.path.split("/")[-2:]) for v in model.weights]
    assert names == ["dense/kernel", "dense/bias", "batch_normalization/gamma",
                     "batch_normalization/beta", "batch_normalization/moving_mean",
                     "batch_normalization/moving_variance", "dense_1/kernel", "dense_1/bias"]
    model.layers[1].trainable = False
    assert ["/".join(v.path.split("/")[-2:]) for v in model.weights] == names
    assert len(model.trainable_weights) == 4
