"""Every layer's config round-trips, in fcnet and across to real Keras 3 and back (the
other families of objects: tests/test_object_configs.py).

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

# Further arguments worth a config key each: "Class:what" -> (kwargs, inputs).
CASES.update({
    "Activation:softmax": ({"activation": "softmax"}, _normal(3, 4)),
    "BatchNormalization:plain": ({"axis": 1, "center": False, "scale": False},
                                 _normal(4, 3, 2)),
    "CategoryEncoding:one_hot": ({"num_tokens": 4, "output_mode": "one_hot"}, _ints(4, 5)),
    "Concatenate:axis1": ({"axis": 1}, [_normal(2, 3, 4), _normal(2, 2, 4)]),
    "Conv1D:strided": ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same",
                        "activity_regularizer": "l2"}, _normal(2, 7, 3)),
    "Conv2D:groups": ({"filters": 4, "kernel_size": 2, "groups": 2, "use_bias": False,
                       "dilation_rate": 2, "kernel_constraint": {
                           "class_name": "MaxNorm", "config": {"max_value": 2.0}}},
                      _normal(2, 6, 6, 4)),
    "Conv2DTranspose:output_padding": ({"filters": 2, "kernel_size": 3, "strides": 2,
                                        "output_padding": 1}, _normal(2, 3, 3, 2)),
    "Dense:constrained": ({"units": 2, "use_bias": False, "kernel_constraint": "non_neg",
                           "activity_regularizer": {"class_name": "L1",
                                                    "config": {"l1": 0.01}},
                           "kernel_initializer": {"class_name": "RandomNormal",
                                                  "config": {"stddev": 0.3, "seed": 4}}},
                          _normal(3, 2, 4)),
    "DepthwiseConv2D:strided": ({"kernel_size": (2, 3), "strides": 2, "use_bias": False,
                                 "depthwise_regularizer": "l1"}, _normal(2, 6, 7, 2)),
    "Dot:axes_pair": ({"axes": (2, 2)}, [_normal(2, 3, 4), _normal(2, 5, 4)]),
    "Dropout:noise_shape": ({"rate": 0.5, "noise_shape": (None, 1)}, _normal(3, 4)),
    "Embedding:regularized": ({"input_dim": 5, "output_dim": 2,
                               "embeddings_regularizer": "l2",
                               "embeddings_constraint": "unit_norm"}, _ints(5, 3, 4)),
    "InputLayer:batch_shape": ({"batch_shape": (None, 5, 2), "name": "frames"}, None),
    "LayerNormalization:axes": ({"axis": [1, 2], "center": False}, _normal(2, 3, 4)),
    "MaxPooling2D:strided": ({"pool_size": (3, 2), "strides": (2, 1)}, _normal(2, 7, 5, 2)),
    "PReLU:constant": ({"alpha_initializer": {"class_name": "Constant",
                                              "config": {"value": 0.25}},
                        "alpha_regularizer": "l2"}, _normal(3, 4)),
    "ReLU:default": ({}, _normal(3, 4)),
    "Reshape:inferred": ({"target_shape": (-1, 3)}, _normal(2, 3, 4)),
    "SeparableConv2D:same": ({"filters": 2, "kernel_size": 2, "padding": "same",
                              "use_bias": False}, _normal(2, 5, 5, 3)),
    "Softmax:axis1": ({"axis": 1}, _normal(2, 3, 4)),
    "UpSampling2D:uneven": ({"size": (3, 1)}, _normal(2, 3, 3, 2)),
})

# Keras 3 needs TensorFlow for string tensors; these are compared with fcnet alone.
NEEDS_TENSORFLOW = {"IntegerLookup", "StringLookup"}


def _cls(name):
    """The class name of a case ("Conv2D:groups" -> "Conv2D")."""
    return name.split(":")[0]


def test_every_layer_class_has_a_case():
    assert {_cls(name) for name in CASES} == set(layers._CLASSES)


def _as_json(config):
    """The config as it would reach a file: tuples become lists."""
    return json.loads(json.dumps(config))


def _fcnet_layer(name):
    kwargs, x = CASES[name]
    layer = layers._CLASSES[_cls(name)](**kwargs)
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
    return [n for n in sorted(CASES) if _cls(n) not in NEEDS_TENSORFLOW]


@pytest.mark.parametrize("name", _keras_cases())
def test_keras_accepts_fcnet_config(name):
    keras = _keras()
    layer, x = _fcnet_layer(name)
    config = _as_json(layer.get_config())
    theirs = keras.layers.deserialize(
        {"module": "keras.layers", "class_name": _cls(name), "config": config,
         "registered_name": None})
    assert type(theirs).__name__ == _cls(name)
    if x is None:
        return
    theirs(x)
    theirs.set_weights(layer.get_weights())
    _assert_same_outputs(layer, theirs, x)


@pytest.mark.parametrize("name", _keras_cases())
def test_fcnet_accepts_keras_config(name):
    keras = _keras()
    kwargs, x = CASES[name]
    theirs = getattr(keras.layers, _cls(name))(**kwargs)
    if x is not None:
        theirs(x)
    config = _as_json(theirs.get_config())
    ours = layers._CLASSES[_cls(name)].from_config(config)
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
