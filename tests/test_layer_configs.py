"""Every layer's config round-trips, in fcnet and across to real Keras 3 and back.

For each class in ``fcnet.layers._CLASSES`` a typical instance is built on a small input:
``from_config(get_config())`` must give an equal config and, with the weights copied,
the same outputs. Where Keras 3 has the class, ``keras.layers.deserialize`` must accept
fcnet's config (Keras passes config keys as constructor arguments, so an extra or
misspelt key fails there), and fcnet's ``from_config`` must accept the config Keras
writes; with shared weights both packages give the same outputs (≤ 1e-5).
"""

import json
import os

import numpy as np
import pytest

from fcnet import layers

RNG = np.random.default_rng(20261127)


def _normal(*shape):
    return RNG.normal(size=shape).astype("float32")


def _ints(high, *shape):
    return RNG.integers(0, high, size=shape).astype("int32")


# name -> (constructor kwargs, inputs). Inputs are one array or a list of arrays.
CASES = {
    "Activation": ({"activation": "tanh"}, _normal(3, 4)),
    "Add": ({}, [_normal(3, 4), _normal(3, 4)]),
    "Average": ({}, [_normal(3, 4), _normal(3, 4)]),
    "AveragePooling1D": ({"pool_size": 2, "strides": 1, "padding": "same"}, _normal(2, 5, 3)),
    "AveragePooling2D": ({"pool_size": (2, 2), "padding": "valid"}, _normal(2, 5, 5, 3)),
    "BatchNormalization": ({"momentum": 0.9, "epsilon": 1e-3}, _normal(4, 3)),
    "CategoryEncoding": ({"num_tokens": 5, "output_mode": "count"}, _ints(5, 3, 4)),
    "Concatenate": ({"axis": -1}, [_normal(3, 4), _normal(3, 2)]),
    "Conv1D": ({"filters": 3, "kernel_size": 2, "padding": "causal", "dilation_rate": 2,
                "activation": "relu"}, _normal(2, 7, 2)),
    "Conv2D": ({"filters": 4, "kernel_size": (3, 3), "strides": 2, "padding": "same",
                "activation": "relu", "kernel_initializer": "he_normal"}, _normal(2, 7, 7, 2)),
    "Conv2DTranspose": ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
                        _normal(2, 4, 4, 2)),
    "Cropping1D": ({"cropping": (1, 2)}, _normal(2, 6, 3)),
    "Cropping2D": ({"cropping": ((1, 0), (0, 2))}, _normal(2, 5, 5, 3)),
    "Dense": ({"units": 3, "activation": "relu", "use_bias": True,
               "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}},
              _normal(4, 5)),
    "DepthwiseConv2D": ({"kernel_size": 3, "depth_multiplier": 2, "padding": "same"},
                        _normal(2, 5, 5, 3)),
    "Discretization": ({"bin_boundaries": [-1.0, 0.0, 1.0]}, _normal(3, 4)),
    "Dot": ({"axes": 1, "normalize": True}, [_normal(3, 4), _normal(3, 4)]),
    "Dropout": ({"rate": 0.3, "seed": 1}, _normal(3, 4)),
    "ELU": ({"alpha": 0.7}, _normal(3, 4)),
    "Embedding": ({"input_dim": 6, "output_dim": 3}, _ints(6, 2, 5)),
    "Flatten": ({}, _normal(2, 3, 4)),
    "GaussianDropout": ({"rate": 0.2, "seed": 3}, _normal(3, 4)),
    "GaussianNoise": ({"stddev": 0.1, "seed": 3}, _normal(3, 4)),
    "GlobalAveragePooling1D": ({"keepdims": True}, _normal(2, 5, 3)),
    "GlobalAveragePooling2D": ({}, _normal(2, 4, 4, 3)),
    "GlobalMaxPooling1D": ({}, _normal(2, 5, 3)),
    "GlobalMaxPooling2D": ({"keepdims": True}, _normal(2, 4, 4, 3)),
    "InputLayer": ({"shape": (4,)}, None),
    "IntegerLookup": ({"vocabulary": [3, 7, 11], "output_mode": "int"},
                      np.array([[3, 7, 5], [11, 3, 0]], dtype="int64")),
    "LayerNormalization": ({"epsilon": 1e-4}, _normal(3, 5)),
    "LeakyReLU": ({"negative_slope": 0.2}, _normal(3, 4)),
    "MaxPooling1D": ({"pool_size": 3, "strides": 2}, _normal(2, 7, 3)),
    "MaxPooling2D": ({"pool_size": 2, "padding": "same"}, _normal(2, 5, 5, 3)),
    "Maximum": ({}, [_normal(3, 4), _normal(3, 4)]),
    "Minimum": ({}, [_normal(3, 4), _normal(3, 4)]),
    "Multiply": ({}, [_normal(3, 4), _normal(3, 4)]),
    "Normalization": ({"mean": [0.5, -1.0, 2.0], "variance": [1.0, 4.0, 0.25]},
                      _normal(4, 3)),
    "Permute": ({"dims": (2, 1)}, _normal(2, 3, 4)),
    "PReLU": ({"alpha_initializer": "zeros", "shared_axes": [1]}, _normal(2, 3, 4)),
    "ReLU": ({"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}, _normal(3, 4)),
    "RepeatVector": ({"n": 3}, _normal(2, 4)),
    "Reshape": ({"target_shape": (2, 6)}, _normal(2, 3, 4)),
    "SeparableConv2D": ({"filters": 4, "kernel_size": 3, "depth_multiplier": 2,
                         "activation": "tanh"}, _normal(2, 6, 6, 3)),
    "Softmax": ({"axis": -1}, _normal(3, 4)),
    "SpatialDropout1D": ({"rate": 0.2}, _normal(2, 5, 3)),
    "SpatialDropout2D": ({"rate": 0.2}, _normal(2, 4, 4, 3)),
    "StringLookup": ({"vocabulary": ["a", "b", "c"]}, np.array([["a", "c"], ["z", "b"]])),
    "Subtract": ({}, [_normal(3, 4), _normal(3, 4)]),
    "UpSampling1D": ({"size": 3}, _normal(2, 4, 3)),
    "UpSampling2D": ({"size": (2, 3), "interpolation": "nearest"}, _normal(2, 3, 3, 2)),
    "ZeroPadding1D": ({"padding": (1, 2)}, _normal(2, 4, 3)),
    "ZeroPadding2D": ({"padding": ((1, 0), (2, 1))}, _normal(2, 3, 3, 2)),
}

# Keras 3 needs TensorFlow for string tensors; these are compared with fcnet alone.
NEEDS_TENSORFLOW = {"IntegerLookup", "StringLookup"}


def test_every_layer_class_has_a_case():
    assert sorted(CASES) == sorted(layers._CLASSES)


def _as_json(config):
    """The config as it would reach a file: tuples become lists."""
    return json.loads(json.dumps(config))


def _fcnet_layer(name):
    kwargs, x = CASES[name]
    layer = layers._CLASSES[name](**kwargs)
    if x is not None:
        layer(x)
        _randomise(layer)
    return layer, x


def _randomise(layer):
    """Non-trivial float weights (positive where a variance lives) so outputs tell them apart."""
    weights = []
    for w in layer.get_weights():
        if w.dtype.kind == "f":
            w = (np.abs(_normal(*w.shape)) + 0.5).astype(w.dtype)
        weights.append(w)
    layer.set_weights(weights)


def _outputs(layer, x):
    y = layer(x)
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def _assert_same_outputs(a, b, x):
    for ya, yb in zip(_outputs(a, x), _outputs(b, x)):
        if ya.dtype.kind in "fc":
            np.testing.assert_allclose(ya, yb, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fcnet_config_round_trip(name):
    layer, x = _fcnet_layer(name)
    config = layer.get_config()
    json.dumps(config)  # serialisable as it stands
    clone = type(layer).from_config(_as_json(config))
    assert _as_json(clone.get_config()) == _as_json(config)
    if x is None:
        return
    clone(x)
    clone.set_weights(layer.get_weights())
    _assert_same_outputs(layer, clone, x)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _keras_cases():
    return [n for n in sorted(CASES) if n not in NEEDS_TENSORFLOW]


@pytest.mark.parametrize("name", _keras_cases())
def test_keras_accepts_fcnet_config(name):
    keras = _keras()
    layer, x = _fcnet_layer(name)
    config = _as_json(layer.get_config())
    theirs = keras.layers.deserialize(
        {"module": "keras.layers", "class_name": name, "config": config,
         "registered_name": None})
    assert type(theirs).__name__ == name
    if x is None:
        return
    theirs(x)
    theirs.set_weights(layer.get_weights())
    _assert_same_outputs(layer, theirs, x)


@pytest.mark.parametrize("name", _keras_cases())
def test_fcnet_accepts_keras_config(name):
    keras = _keras()
    kwargs, x = CASES[name]
    theirs = getattr(keras.layers, name)(**kwargs)
    if x is not None:
        theirs(x)
    config = _as_json(theirs.get_config())
    ours = layers._CLASSES[name].from_config(config)
    if x is None:
        return
    ours(x)
    _randomise(ours)
    theirs.set_weights(ours.get_weights())
    _assert_same_outputs(ours, theirs, x)


@pytest.mark.parametrize("name", sorted(NEEDS_TENSORFLOW))
def test_lookup_config_keys_are_keras_constructor_arguments(name):
    """Keras builds these layers only with TensorFlow; its constructor signature (read,
    not run) must still take every key fcnet writes."""
    import inspect

    keras = _keras()
    accepted = set()
    for cls in getattr(keras.layers, name).__mro__:  # **kwargs go on up to IndexLookup
        if cls is keras.layers.Layer:
            break
        accepted |= set(inspect.signature(cls.__init__).parameters)
    # Base-layer keys, and the vocabulary size Keras's lookup layers pop from kwargs.
    accepted |= {"trainable", "dtype", "vocabulary_size"}
    layer, _ = _fcnet_layer(name)
    assert set(layer.get_config()) <= accepted


def test_lookup_layers_read_keras_written_configs():
    """Configs as Keras 3.15 writes them (keys from its ``IndexLookup.get_config``)."""
    common = {"trainable": True, "dtype": "float32", "invert": False, "max_tokens": None,
              "num_oov_indices": 1, "mask_token": None, "output_mode": "int",
              "sparse": False, "pad_to_max_tokens": False, "idf_weights": None,
              "vocabulary_size": 4, "oov_method": "floormod", "salt": None}
    strings = layers.StringLookup.from_config(dict(
        common, name="string_lookup", oov_token="[UNK]", vocabulary=["a", "b", "c"],
        encoding="utf-8"))
    np.testing.assert_array_equal(strings(np.array([["a", "c"], ["z", "b"]])),
                                  [[1, 3], [0, 2]])
    integers = layers.IntegerLookup.from_config(dict(
        common, name="integer_lookup", oov_token=-1, vocabulary=[3, 7, 11],
        vocabulary_dtype="int64"))
    np.testing.assert_array_equal(integers(np.array([[3, 7, 5], [11, 3, 0]])),
                                  [[1, 2, 0], [3, 1, 0]])


# ------------------------------------------------------------------ other families
def _family(kind):
    import fcnet

    return getattr(fcnet, kind), getattr(_keras(), kind)


OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.002, "rho": 0.8, "momentum": 0.1, "centered": True}),
    ("Adagrad", {"learning_rate": 0.02, "initial_accumulator_value": 0.2}),
    ("Adam", {"learning_rate": 0.003, "beta_1": 0.8, "amsgrad": True, "clipnorm": 1.0}),
    ("AdamW", {"learning_rate": 0.003, "weight_decay": 0.01, "clipvalue": 0.5}),
    ("Adamax", {"learning_rate": 0.004, "beta_2": 0.99}),
    ("Nadam", {"learning_rate": 0.004, "epsilon": 1e-6, "global_clipnorm": 2.0}),
]


def _assert_same_values(ours: dict, theirs: dict):
    """Every key both configs have holds the same value (floats to float32 precision)."""
    shared = set(ours) & set(theirs)
    assert shared or not (ours or theirs), (ours, theirs)
    for key in shared:
        a, b = ours[key], theirs[key]
        if isinstance(a, float) or isinstance(b, float):
            assert a is not None and b is not None, (key, a, b)
            np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=key)
        else:
            assert a == b, (key, a, b)


def test_every_optimizer_has_a_case():
    import fcnet

    classes = {type(c).__name__ if not isinstance(c, type) else c.__name__
               for c in fcnet.optimizers.ALL_OBJECTS_DICT.values()}
    assert classes == {name for name, _ in OPTIMIZERS}


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_configs_cross(name, kwargs):
    ours_mod, theirs_mod = _family("optimizers")
    ours = getattr(ours_mod, name)(**kwargs)
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(ours)))
    assert type(theirs).__name__ == name
    _assert_same_values(ours.get_config(), theirs.get_config())
    back = ours_mod.deserialize(_as_json(theirs_mod.serialize(theirs)))
    assert type(back).__name__ == name
    _assert_same_values(back.get_config(), theirs.get_config())
    assert _as_json(back.get_config()) == _as_json(ours.get_config())


LOSSES = [
    ("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("MeanAbsolutePercentageError", {}),
    ("MeanSquaredLogarithmicError", {}), ("Huber", {"delta": 0.5}), ("LogCosh", {}),
    ("CosineSimilarity", {"axis": -1}), ("BinaryCrossentropy", {"label_smoothing": 0.1}),
    ("CategoricalCrossentropy", {"from_logits": True}),
    ("SparseCategoricalCrossentropy", {"from_logits": True}), ("KLDivergence", {}),
    ("Poisson", {"reduction": "sum"}), ("Hinge", {}), ("SquaredHinge", {}),
    ("CategoricalHinge", {}),
]
# Arguments Keras 3.15 accepts but leaves out of its own configs (a Keras quirk): the
# Keras-to-fcnet direction is checked on objects Keras made without them.
KERAS_DROPS = {"Huber": "delta", "Identity": "gain"}


def _without_dropped(name, kwargs):
    return {k: v for k, v in kwargs.items() if k != KERAS_DROPS.get(name)}


def _loss_data(name):
    p = np.abs(_normal(4, 3)) + 0.1
    p /= p.sum(axis=1, keepdims=True)
    if name == "SparseCategoricalCrossentropy":
        return np.array([0, 2, 1, 2]), _normal(4, 3)
    if name in ("BinaryCrossentropy", "KLDivergence", "CategoricalCrossentropy"):
        return np.eye(3, dtype="float32")[[0, 2, 1, 2]], p
    return np.abs(_normal(4, 3)), p


@pytest.mark.parametrize("name, kwargs", LOSSES, ids=[n for n, _ in LOSSES])
def test_loss_configs_cross(name, kwargs):
    ours_mod, theirs_mod = _family("losses")
    ours = getattr(ours_mod, name)(**kwargs)
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(ours)))
    plain = getattr(theirs_mod, name)(**_without_dropped(name, kwargs))
    back = ours_mod.deserialize(_as_json(theirs_mod.serialize(plain)))
    y_true, y_pred = _loss_data(name)
    for fc, ke in ((ours, theirs), (back, plain)):
        np.testing.assert_allclose(float(np.asarray(fc(y_true, y_pred))),
                                   float(np.asarray(ke(y_true, y_pred))), rtol=1e-5)


INITIALIZERS = [
    ("Constant", {"value": 0.7}), ("Zeros", {}), ("Ones", {}), ("Identity", {"gain": 2.0}),
    ("GlorotNormal", {"seed": 1}), ("GlorotUniform", {"seed": 2}), ("HeNormal", {"seed": 3}),
    ("HeUniform", {}), ("LecunNormal", {}), ("LecunUniform", {"seed": 4}),
    ("Orthogonal", {"gain": 0.5, "seed": 5}), ("RandomNormal", {"mean": 1.0, "stddev": 0.1}),
    ("RandomUniform", {"minval": -0.2, "maxval": 0.3}), ("TruncatedNormal", {"stddev": 0.2}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}),
]
REGULARIZERS = [("L1", {"l1": 0.1}), ("L2", {"l2": 0.2}), ("L1L2", {"l1": 0.1, "l2": 0.3}),
                ("OrthogonalRegularizer", {"factor": 0.1, "mode": "columns"})]
CONSTRAINTS = [("MaxNorm", {"max_value": 0.5, "axis": 0}), ("NonNeg", {}),
               ("UnitNorm", {"axis": 1}),
               ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.8, "rate": 0.5})]
SMALL = [("initializers", n, k) for n, k in INITIALIZERS] + [
    ("regularizers", n, k) for n, k in REGULARIZERS] + [
    ("constraints", n, k) for n, k in CONSTRAINTS]


def _apply(kind, obj, w):
    """What an object of the family computes, where that is deterministic."""
    if kind == "initializers":
        if type(obj).__name__ not in ("Constant", "Zeros", "Ones", "Identity"):
            return None
        return np.asarray(obj((3, 3), dtype="float32"))
    return np.asarray(obj(w))


_WEIGHT = _normal(3, 3)


@pytest.mark.parametrize("kind, name, kwargs", SMALL, ids=[f"{k}-{n}" for k, n, _ in SMALL])
def test_small_family_configs_cross(kind, name, kwargs):
    ours_mod, theirs_mod = _family(kind)
    ours = getattr(ours_mod, name)(**kwargs)
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(ours)))
    assert type(theirs).__name__ == name
    if name not in KERAS_DROPS:  # else the values below tell whether Keras took it
        _assert_same_values(ours.get_config(), theirs.get_config())
    plain = getattr(theirs_mod, name)(**_without_dropped(name, kwargs))
    back = ours_mod.deserialize(_as_json(theirs_mod.serialize(plain)))
    _assert_same_values(back.get_config(), plain.get_config())
    if name not in KERAS_DROPS:
        assert _as_json(back.get_config()) == _as_json(ours.get_config())
    # Keras gets a backend tensor: its NumPy path of `normalize` ignores axis=0.
    tensor = _keras().ops.convert_to_tensor(_WEIGHT)
    for fc, ke in ((ours, theirs), (back, plain)):
        expected = _apply(kind, ke, tensor)
        if expected is not None:
            np.testing.assert_allclose(_apply(kind, fc, _WEIGHT), expected, rtol=1e-5,
                                       atol=1e-6)


ACTIVATIONS = ["elu", "exponential", "gelu", "hard_sigmoid", "hard_silu", "leaky_relu",
               "linear", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
               "softmax", "softplus", "softsign", "tanh"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_names_cross(name):
    ours_mod, theirs_mod = _family("activations")
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(getattr(ours_mod, name))))
    ours = ours_mod.deserialize(_as_json(theirs_mod.serialize(getattr(theirs_mod, name))))
    x = _normal(3, 4)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-5,
                               atol=1e-6)
