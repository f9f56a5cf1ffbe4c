"""tf.keras 2 legacy HDF5 files written by hand with h5py, as TF 2.x's ``model.save("m.h5")``
wrote them: layer dicts without ``module``, ``batch_input_shape`` on the first layer, dtype
strings, initializers as ``{class_name, config}``, weights named ``dense/kernel:0``, Adam's
``iter`` and ``m``/``v`` slots.

The model: y = relu(x·K + b)·K2 on 3 features, with the weights below, so predictions are
worked by hand (``expected_predictions``).
"""

import copy
import json

import h5py
import numpy as np

KERNEL = np.array([[1.0, -1.0], [0.0, 2.0], [1.0, 1.0]], dtype="float32")
BIAS = np.array([0.5, -1.0], dtype="float32")
KERNEL_1 = np.array([[2.0], [-1.0]], dtype="float32")
TRAINING_CONFIG = {
    "loss": "mse", "metrics": ["mae"], "weighted_metrics": None, "loss_weights": None,
    "optimizer_config": {"class_name": "Adam", "config": {
        "name": "Adam", "learning_rate": 0.002, "decay": 0.0, "beta_1": 0.9,
        "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}},
}


def expected_predictions(x):
    """relu(x·K + b)·K2, worked in float64."""
    x = np.asarray(x, dtype="float64")
    return np.maximum(x @ KERNEL + BIAS, 0.0) @ KERNEL_1


def _dense(name, units, activation, use_bias, batch_input_shape=None):
    config = {"name": name, "trainable": True, "dtype": "float32", "units": units,
              "activation": activation, "use_bias": use_bias,
              "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}},
              "kernel_regularizer": None, "bias_regularizer": None,
              "activity_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None}
    if batch_input_shape is not None:
        config = {"name": name, "trainable": True, "batch_input_shape": batch_input_shape,
                  **{k: v for k, v in config.items() if k not in ("name", "trainable")}}
    return {"class_name": "Dense", "config": config}


def _input_layer(name):
    return {"class_name": "InputLayer", "config": {
        "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
        "ragged": False, "name": name}}


def keras2_sequential(with_input_layer):
    """TF 2.0–2.3 wrote only the layers (the first with ``batch_input_shape``); TF 2.4+
    lists an InputLayer first."""
    layers = [_dense("dense", 2, "relu", True, [None, 3]),
              _dense("dense_1", 1, "linear", False)]
    if with_input_layer:
        layers.insert(0, _input_layer("dense_input"))
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def keras2_functional():
    """input_1 → Sequential "block" [Dense "dense"] → Dense "dense_1", in TF 2.4's
    functional layout (``inbound_nodes`` as ``[[[layer, node, tensor, kwargs]]]``)."""
    block = {"class_name": "Sequential", "config": {"name": "block", "layers": [
        _input_layer("dense_input"), _dense("dense", 2, "relu", True, [None, 3])]}}
    layers = [dict(_input_layer("input_1"), name="input_1", inbound_nodes=[]),
              dict(block, name="block", inbound_nodes=[[["input_1", 0, 0, {}]]]),
              dict(_dense("dense_1", 1, "linear", False), name="dense_1",
                   inbound_nodes=[[["block", 0, 0, {}]]])]
    return {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["input_1", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]}}


def _weights(config):
    """``(layer group name, [(weight name, array)])`` for every layer the model lists."""
    names = [layer["config"]["name"] for layer in config["config"]["layers"]
             if config["class_name"] == "Functional" or layer["class_name"] != "InputLayer"]
    by_layer = {"dense": [("dense/kernel:0", KERNEL), ("dense/bias:0", BIAS)],
                "dense_1": [("dense_1/kernel:0", KERNEL_1)]}
    by_layer["block"] = by_layer["dense"]
    return [(name, by_layer.get(name, [])) for name in names]


def _strings(values):
    return np.array([v.encode("utf8") for v in values]) if values else np.zeros(0)


def write_keras2_file(path, config, training=TRAINING_CONFIG, optimizer_weights=True):
    """Writes ``config`` with the hand-worked weights as tf.keras 2.4 did; returns ``path``."""
    with h5py.File(path, "w") as h5file:
        h5file.attrs["keras_version"] = b"2.4.0"
        h5file.attrs["backend"] = b"tensorflow"
        h5file.attrs["model_config"] = json.dumps(copy.deepcopy(config)).encode("utf8")
        if training is not None:
            h5file.attrs["training_config"] = json.dumps(training).encode("utf8")
        group = h5file.create_group("model_weights")
        layers = _weights(config)
        group.attrs["layer_names"] = _strings([name for name, _ in layers])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.4.0"
        slots = []
        for name, weights in layers:
            layer_group = group.create_group(name)
            layer_group.attrs["weight_names"] = _strings([w for w, _ in weights])
            for weight_name, value in weights:
                layer_group.create_dataset(weight_name, data=value)
                slots.append((weight_name, value))
        if optimizer_weights:  # OptimizerV2's layout: iter, every m, then every v
            opt = h5file.create_group("optimizer_weights")
            entries = [("Adam/iter:0", np.array(3, dtype="int64"))]
            for slot in ("m", "v"):
                entries += [(f"Adam/{w[:-2]}/{slot}:0", np.full_like(v, 0.01))
                            for w, v in slots]
            opt.attrs["weight_names"] = _strings([n for n, _ in entries])
            for weight_name, value in entries:
                opt.create_dataset(weight_name, data=value)
    return path
