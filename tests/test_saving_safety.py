"""Loading a file never runs code from it.

Each hostile file is written by hand (``zipfile`` + ``json`` + ``h5py``), starting from a
plain ``.keras`` file that loads (checked first, so the refusals are not vacuous), with
one entry swapped for something that would leave a marker file behind if it were ever
imported, called, evaluated or unpickled: ``os.system``, ``subprocess.Popen``,
``builtins.eval``, a module ``evil`` on ``sys.path`` that writes the marker on import, a
``Lambda`` layer and a ``__lambda__`` activation carrying marshalled bytecode, pickles in
the weights, and the same in legacy tf.keras ``.h5`` files (tests/hostile_files.py builds
them). Each must be refused with a ``ValueError`` naming the file, and the marker
must not exist afterwards, with ``safe_mode=False`` too. Classes the user hands over
(``custom_objects``, ``register_keras_serializable``) do load.
"""

import copy
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hostile_files import (
    BIAS,
    KERNEL,
    Opener,
    dense_entry,
    lambda_value,
    legacy_h5,
    pickled_datasets,
    sequential_config,
    weights_h5,
    write_keras,
)

import fcnet
from fcnet.models import load_model


@pytest.fixture
def marker(tmp_path):
    """A path that hostile content would create; it must never exist."""
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "code from the file ran"


def _refused(path, marker, match=None, **kwargs):
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match=match) as info:
            load_model(path, safe_mode=safe_mode, **kwargs)
        assert str(path) in str(info.value)
        assert not marker.exists(), "code from the file ran"
    return str(info.value)


def test_the_hand_written_file_loads(tmp_path):
    model = load_model(write_keras(tmp_path / "plain.keras",
                                   sequential_config(dense_entry())))
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ KERNEL + BIAS, rtol=1e-6)


HOSTILE_LAYERS = {
    "os.system": lambda m: {"module": "os", "class_name": "system",
                            "config": {"command": f"touch {m}"}, "registered_name": None},
    "subprocess.Popen": lambda m: {"module": "subprocess", "class_name": "Popen",
                                   "config": {"args": ["touch", str(m)]},
                                   "registered_name": "subprocess>Popen"},
    "builtins.eval": lambda m: {"module": "builtins", "class_name": "eval",
                                "config": {"source": f"open({str(m)!r}, 'w')"},
                                "registered_name": None},
    "a module outside fcnet": lambda m: {"module": "evil", "class_name": "Boom",
                                         "config": {}, "registered_name": "evil>Boom"},
    "a Lambda layer": lambda m: {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                   "function": {"class_name": "__lambda__",
                                "config": {"value": lambda_value(m)}},
                   "output_shape": None, "mask": None, "arguments": {}}},
    "a known class under a foreign module": lambda m: dict(
        dense_entry(), module="evil", registered_name="evil>Dense"),
}


@pytest.fixture
def evil_module(tmp_path, marker, monkeypatch):
    """``evil.py`` on ``sys.path``: importing it creates the marker."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\nclass Boom:\n    pass\n\n"
        "class Dense:\n    pass\n")
    monkeypatch.syspath_prepend(str(folder))
    yield
    sys.modules.pop("evil", None)


def test_the_hostile_module_would_leave_the_marker(tmp_path, evil_module):
    import evil  # noqa: F401 - what a loader must never do

    marker = tmp_path / "PWNED"
    assert marker.exists()
    marker.unlink()


def test_the_pickle_and_the_bytecode_would_leave_the_marker(tmp_path):
    import base64
    import marshal
    import pickle
    import types

    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(Opener(marker)))  # what a loader must never do
    assert marker.exists()
    marker.unlink()
    code, defaults, _ = lambda_value(marker)
    types.FunctionType(marshal.loads(base64.b64decode(code)), {}, None, tuple(defaults))(1)
    assert marker.exists()


@pytest.mark.parametrize("what", sorted(HOSTILE_LAYERS))
def test_hostile_layer_entries_are_refused(what, tmp_path, marker, evil_module):
    entry = HOSTILE_LAYERS[what](marker)
    path = write_keras(tmp_path / "hostile.keras", sequential_config(entry))
    if what == "a known class under a foreign module":
        # Either the module is informational (Dense is fcnet's own) or it is refused;
        # either way evil is not imported.
        try:
            load_model(path)
        except ValueError as error:
            assert path in str(error)
        assert "evil" not in sys.modules and not marker.exists()
        return
    message = _refused(path, marker)
    assert entry["class_name"] in message
    assert "evil" not in sys.modules


@pytest.mark.parametrize("what", sorted(set(HOSTILE_LAYERS) - {
    "a known class under a foreign module"}))
def test_hostile_json_and_dicts_are_refused(what, marker, evil_module):
    entry = HOSTILE_LAYERS[what](marker)
    # Not a file: Keras's TypeError for a class it cannot locate is as good.
    with pytest.raises((ValueError, TypeError), match=entry["class_name"]):
        fcnet.models.model_from_json(json.dumps(sequential_config(entry)))
    for safe_mode in (True, False):
        with pytest.raises((ValueError, TypeError), match=entry["class_name"]):
            fcnet.saving.deserialize_keras_object(entry, safe_mode=safe_mode)
    assert "evil" not in sys.modules


HOSTILE_ACTIVATIONS = {
    "__lambda__": lambda m: {"class_name": "__lambda__", "config": {"value": lambda_value(m)}},
    "os.system as a function": lambda m: {"module": "os", "class_name": "function",
                                          "config": "system", "registered_name": "system"},
    "builtins.eval as a function": lambda m: {"module": "builtins", "class_name": "function",
                                              "config": "eval", "registered_name": "eval"},
    "a dotted name": lambda m: "os.system",
    "evil.Boom": lambda m: {"module": "evil", "class_name": "Boom", "config": {},
                            "registered_name": None},
}


@pytest.mark.parametrize("what", sorted(HOSTILE_ACTIVATIONS))
def test_hostile_activations_are_refused(what, tmp_path, marker, evil_module):
    layer = dense_entry(activation=HOSTILE_ACTIVATIONS[what](marker))
    _refused(write_keras(tmp_path / "hostile.keras", sequential_config(layer)), marker)
    assert "evil" not in sys.modules


def test_hostile_initializer_and_compile_config_are_refused(tmp_path, marker, evil_module):
    layer = dense_entry(kernel_initializer={"module": "subprocess", "class_name": "Popen",
                                       "config": {"args": ["touch", str(marker)]},
                                       "registered_name": None})
    _refused(write_keras(tmp_path / "init.keras", sequential_config(layer)), marker)
    config = sequential_config(dense_entry())
    config["compile_config"] = {"optimizer": {"module": "evil", "class_name": "Boom",
                                              "config": {}, "registered_name": None},
                                "loss": {"class_name": "__lambda__",
                                         "config": {"value": lambda_value(marker)}}}
    _refused(write_keras(tmp_path / "compile.keras", config), marker)
    assert "evil" not in sys.modules


@pytest.mark.parametrize("kind", ["opaque", "vlen bytes"])
def test_pickles_in_the_weights_are_refused(kind, tmp_path, marker):
    make = pickled_datasets(marker)[kind]
    weights = weights_h5({"0": make, "1": BIAS})
    path = write_keras(tmp_path / "pickled.keras", sequential_config(dense_entry()), weights)
    _refused(path, marker)


def test_pickled_npz_weights_are_refused(tmp_path, marker):
    buffer = io.BytesIO()
    np.savez(buffer, **{"layers/dense/vars/0": np.array([Opener(marker)], dtype=object)})
    path = write_keras(tmp_path / "npz.keras", sequential_config(dense_entry()),
                       buffer.getvalue(), member="model.weights.npz")
    _refused(path, marker)


def test_pickles_in_a_weights_file_are_refused(tmp_path, marker):
    path = tmp_path / "pickled.weights.h5"
    path.write_bytes(weights_h5({"0": pickled_datasets(marker)["opaque"], "1": BIAS}))
    model = load_model(write_keras(tmp_path / "plain.keras",
                                   sequential_config(dense_entry())))
    with pytest.raises(ValueError) as info:
        model.load_weights(str(path))
    assert str(path) in str(info.value)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], KERNEL)


# ------------------------------------------------------------ legacy tf.keras .h5 files
LEGACY_HOSTILE = {
    "a tf.keras 2 Lambda": lambda m: {"class_name": "Lambda", "config": {
        "name": "lambda", "trainable": True, "dtype": "float32",
        "function": lambda_value(m), "function_type": "lambda", "module": "__main__",
        "output_shape": None, "output_shape_type": "raw", "arguments": {}}},
    "os.system": lambda m: {"class_name": "system", "module": "os",
                            "config": {"name": "system", "command": f"touch {m}"}},
    "a module outside fcnet": lambda m: {"class_name": "Boom", "module": "evil",
                                         "config": {"name": "boom"}},
    "a __lambda__ activation": lambda m: {"class_name": "Dense", "config": {
        "name": "dense", "units": 2, "activation": {"class_name": "__lambda__",
                                                    "config": {"value": lambda_value(m)}}}},
}


@pytest.mark.parametrize("what", sorted(LEGACY_HOSTILE))
def test_hostile_legacy_h5_files_are_refused(what, tmp_path, marker, evil_module):
    path = legacy_h5(tmp_path / "hostile.h5", LEGACY_HOSTILE[what](marker))
    _refused(path, marker)
    assert "evil" not in sys.modules


def test_a_hostile_legacy_training_config_runs_nothing(tmp_path, marker, evil_module):
    layer = {"class_name": "Dense", "config": dict(dense_entry()["config"])}
    weights = [("kernel", KERNEL), ("bias", BIAS)]
    plain = load_model(legacy_h5(tmp_path / "plain.h5", layer, None, weights))
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(plain.predict(x, verbose=0), x @ KERNEL + BIAS, rtol=1e-6)
    training = {"loss": {"class_name": "__lambda__", "config": {"value": lambda_value(marker)}},
                "metrics": [], "optimizer_config": {"class_name": "Boom", "module": "evil",
                                                    "config": {}}}
    path = legacy_h5(tmp_path / "compile.h5", layer, training, weights)
    try:
        load_model(path)
    except ValueError as error:  # refused, or the model left uncompiled with a warning
        assert path in str(error)
    assert not marker.exists() and "evil" not in sys.modules
    assert load_model(path, compile=False).predict(x, verbose=0).shape == (1, 2)


# ------------------------------------------------------------ what the user vouches for
class Scaled(fcnet.layers.Dense):
    """A Dense whose output is multiplied by ``factor``."""

    def __init__(self, units, factor=1.0, **kwargs):
        super().__init__(units, **kwargs)
        self.factor = factor

    def forward(self, x, training=False):  # prediction only: no backward for the factor
        y, ctx = super().forward(x, training)
        return y * self.factor, ctx

    def get_config(self):
        return dict(super().get_config(), factor=self.factor)


def _scaled_model(cls):
    model = fcnet.Sequential([fcnet.Input(shape=(3,)), cls(2, factor=3.0)])
    model.layers[0].set_weights([KERNEL, BIAS])
    return model


def test_custom_objects_load(tmp_path):
    path = str(tmp_path / "custom.keras")
    _scaled_model(Scaled).save(path)
    with pytest.raises(ValueError, match="Scaled") as info:
        load_model(path)
    assert path in str(info.value)
    model = load_model(path, custom_objects={"Scaled": Scaled})
    assert type(model.layers[0]) is Scaled and model.layers[0].factor == 3.0
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), 3 * (x @ KERNEL + BIAS), rtol=1e-6)
    with fcnet.saving.custom_object_scope({"Scaled": Scaled}):
        assert type(load_model(path).layers[0]) is Scaled


def test_registered_classes_load_and_the_module_field_is_not_imported(
        tmp_path, marker, evil_module):
    @fcnet.saving.register_keras_serializable(package="SafetyTest")
    class Tripled(Scaled):
        pass

    assert fcnet.saving.get_registered_name(Tripled) == "SafetyTest>Tripled"
    path = str(tmp_path / "registered.keras")
    _scaled_model(Tripled).save(path)
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    model = load_model(path)
    assert type(model.layers[0]) is Tripled
    np.testing.assert_allclose(model.predict(x, verbose=0), 3 * (x @ KERNEL + BIAS), rtol=1e-6)
    # The same registered name under a hostile module still finds the registered class.
    with zipfile.ZipFile(path) as z:
        config, weights = json.loads(z.read("config.json")), z.read("model.weights.h5")
    hostile = copy.deepcopy(config)
    hostile["config"]["layers"][-1]["module"] = "evil"
    model = load_model(write_keras(tmp_path / "moved.keras", hostile, weights))
    assert type(model.layers[0]) is Tripled and "evil" not in sys.modules


def test_a_custom_activation_loads_by_custom_objects(tmp_path):
    def cube(x):
        return x * x * x

    model = fcnet.Sequential([fcnet.Input(shape=(3,)), fcnet.layers.Dense(2, activation=cube)])
    model.layers[0].set_weights([KERNEL, BIAS])
    path = str(tmp_path / "act.keras")
    model.save(path)
    with pytest.raises(ValueError, match="cube"):
        load_model(path)
    loaded = load_model(path, custom_objects={"cube": cube})
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), (x @ KERNEL + BIAS) ** 3,
                               rtol=1e-5)


def test_import_fcnet_does_not_import_h5py():
    code = "import fcnet, sys; assert 'h5py' not in sys.modules, 'h5py imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stderr
