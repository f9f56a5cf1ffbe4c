"""Hand-made hostile model files: each would leave a marker file behind if a loader ever
imported, called, evaluated or unpickled what it holds. Built with ``zipfile``, ``json``
and ``h5py`` only, as an attacker would."""

import base64
import io
import json
import marshal
import pickle
import zipfile

import numpy as np

KERNEL = np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 3.0]], dtype="float32")
BIAS = np.array([0.25, -0.5], dtype="float32")


def dense_entry(name="dense", **overrides):
    config = {"name": name, "trainable": True, "dtype": "float32", "units": 2,
              "activation": "linear", "use_bias": True,
              "kernel_initializer": {"module": "keras.initializers",
                                     "class_name": "GlorotUniform", "config": {"seed": None},
                                     "registered_name": None},
              "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                                   "config": {}, "registered_name": None},
              "kernel_regularizer": None, "bias_regularizer": None,
              "activity_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None}
    config.update(overrides)
    return {"module": "keras.layers", "class_name": "Dense", "config": config,
            "registered_name": None, "build_config": {"input_shape": [None, 3]}}


def sequential_config(layer):
    """A Sequential config: Input(3) then ``layer`` (Keras 3's minimal key set)."""
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "dtype": "float32",
                       "layers": [{"module": "keras.layers", "class_name": "InputLayer",
                                   "config": {"batch_shape": [None, 3], "dtype": "float32",
                                              "sparse": False, "name": "input_layer"},
                                   "registered_name": None}, layer],
                       "build_input_shape": [None, 3]},
            "build_config": {"input_shape": [None, 3]}, "compile_config": None}


def weights_h5(datasets=None) -> bytes:
    """``model.weights.h5`` bytes: ``layers/dense/vars/{0,1}`` unless ``datasets``
    (``{"0": array-or-callable(group)}``) says otherwise."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("vars")
        group = f.create_group("layers/dense/vars")
        for key, value in (datasets or {"0": KERNEL, "1": BIAS}).items():
            if callable(value):
                value(group, key)
            else:
                group.create_dataset(key, data=value)
    return buffer.getvalue()


def write_keras(path, config, weights: bytes | None = None, member="model.weights.h5"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0",
                                                "date_saved": "2026-11-27@12:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr(member, weights_h5() if weights is None else weights)
    return str(path)


def lambda_value(marker):
    """Keras's ``func_dump`` of a function that creates ``marker``: (code, defaults, closure)."""
    def boom(x, path=str(marker)):
        open(path, "w").close()
        return x

    code = base64.b64encode(marshal.dumps(boom.__code__)).decode("ascii")
    return [code, [str(marker)], None]


class Opener:
    """Unpickling this creates ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickled_datasets(marker):
    payload = pickle.dumps(Opener(marker))

    def opaque(group, key):
        group.create_dataset(key, data=np.void(payload))

    def ragged_bytes(group, key):
        import h5py

        data = np.empty(2, dtype=object)
        data[0] = data[1] = np.frombuffer(payload, dtype="uint8")
        group.create_dataset(key, data=data, dtype=h5py.vlen_dtype(np.dtype("uint8")))

    return {"opaque": opaque, "vlen bytes": ragged_bytes}


def legacy_h5(path, layer, training_config=None, weights=()):
    """A tf.keras 2 ``model.save("m.h5")`` file: Input(3) then ``layer``, whose
    ``weights`` are ``[(name, array)]``."""
    import h5py

    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3],
                                                "dtype": "float32", "name": "input_1"}},
        layer]}}
    name = layer["config"].get("name", "x")
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode()])
        layer_group = group.create_group(name)
        layer_group.attrs["weight_names"] = np.array(
            [f"{name}/{w}:0".encode() for w, _ in weights], dtype="S32")
        for w, value in weights:
            layer_group.create_dataset(f"{name}/{w}:0", data=value)
    return str(path)
