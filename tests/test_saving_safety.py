"""Loading a file never runs code from it.

Each hostile file is written by hand (``zipfile`` + ``json`` + ``h5py``), starting from a
plain ``.keras`` file that loads (checked first, so the refusals are not vacuous), with
one entry swapped for something that would leave a marker file behind if it were ever
imported, called, evaluated or unpickled: ``os.system``, ``subprocess.Popen``,
``builtins.eval``, a module ``evil`` on ``sys.path`` that writes the marker on import, a
``Lambda`` layer and a ``__lambda__`` activation carrying marshalled bytecode, pickles in
the weights. Each must be refused with a ``ValueError`` naming the file, and the marker
must not exist afterwards, with ``safe_mode=False`` too. Classes the user hands over
(``custom_objects``, ``register_keras_serializable``) do load.
"""

import base64
import copy
import io
import json
import marshal
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fcnet
from fcnet.models import load_model

KERNEL = np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 3.0]], dtype="float32")
BIAS = np.array([0.25, -0.5], dtype="float32")


def _dense(name="dense", **overrides):
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


def _model(layer):
    """A Sequential config: Input(3) then ``layer`` (Keras 3's minimal key set)."""
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "dtype": "float32",
                       "layers": [{"module": "keras.layers", "class_name": "InputLayer",
                                   "config": {"batch_shape": [None, 3], "dtype": "float32",
                                              "sparse": False, "name": "input_layer"},
                                   "registered_name": None}, layer],
                       "build_input_shape": [None, 3]},
            "build_config": {"input_shape": [None, 3]}, "compile_config": None}


def _weights_h5(datasets=None) -> bytes:
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


def _write(path, config, weights: bytes | None = None, member="model.weights.h5"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0",
                                                "date_saved": "2026-11-27@12:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr(member, _weights_h5() if weights is None else weights)
    return str(path)


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
    model = load_model(_write(tmp_path / "plain.keras", _model(_dense())))
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ KERNEL + BIAS, rtol=1e-6)


def _lambda_value(marker):
    """Keras's ``func_dump`` of a function that creates ``marker``: (code, defaults, closure)."""
    def boom(x, path=str(marker)):
        open(path, "w").close()
        return x

    code = base64.b64encode(marshal.dumps(boom.__code__)).decode("ascii")
    return [code, [str(marker)], None]


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
                                "config": {"value": _lambda_value(m)}},
                   "output_shape": None, "mask": None, "arguments": {}}},
    "a known class under a foreign module": lambda m: dict(
        _dense(), module="evil", registered_name="evil>Dense"),
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


@pytest.mark.parametrize("what", sorted(HOSTILE_LAYERS))
def test_hostile_layer_entries_are_refused(what, tmp_path, marker, evil_module):
    entry = HOSTILE_LAYERS[what](marker)
    path = _write(tmp_path / "hostile.keras", _model(entry))
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
        fcnet.models.model_from_json(json.dumps(_model(entry)))
    for safe_mode in (True, False):
        with pytest.raises((ValueError, TypeError), match=entry["class_name"]):
            fcnet.saving.deserialize_keras_object(entry, safe_mode=safe_mode)
    assert "evil" not in sys.modules


HOSTILE_ACTIVATIONS = {
    "__lambda__": lambda m: {"class_name": "__lambda__", "config": {"value": _lambda_value(m)}},
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
    layer = _dense(activation=HOSTILE_ACTIVATIONS[what](marker))
    _refused(_write(tmp_path / "hostile.keras", _model(layer)), marker)
    assert "evil" not in sys.modules


def test_hostile_initializer_and_compile_config_are_refused(tmp_path, marker, evil_module):
    layer = _dense(kernel_initializer={"module": "subprocess", "class_name": "Popen",
                                       "config": {"args": ["touch", str(marker)]},
                                       "registered_name": None})
    _refused(_write(tmp_path / "init.keras", _model(layer)), marker)
    config = _model(_dense())
    config["compile_config"] = {"optimizer": {"module": "evil", "class_name": "Boom",
                                              "config": {}, "registered_name": None},
                                "loss": {"class_name": "__lambda__",
                                         "config": {"value": _lambda_value(marker)}}}
    _refused(_write(tmp_path / "compile.keras", config), marker)
    assert "evil" not in sys.modules


class _Opener:
    """Unpickling this creates ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickled_datasets(marker):
    payload = pickle.dumps(_Opener(marker))

    def opaque(group, key):
        group.create_dataset(key, data=np.void(payload))

    def ragged_bytes(group, key):
        import h5py

        data = np.empty(2, dtype=object)
        data[0] = data[1] = np.frombuffer(payload, dtype="uint8")
        group.create_dataset(key, data=data, dtype=h5py.vlen_dtype(np.dtype("uint8")))

    return {"opaque": opaque, "vlen bytes": ragged_bytes}


@pytest.mark.parametrize("kind", ["opaque", "vlen bytes"])
def test_pickles_in_the_weights_are_refused(kind, tmp_path, marker):
    make = _pickled_datasets(marker)[kind]
    weights = _weights_h5({"0": make, "1": BIAS})
    _refused(_write(tmp_path / "pickled.keras", _model(_dense()), weights), marker)


def test_pickled_npz_weights_are_refused(tmp_path, marker):
    buffer = io.BytesIO()
    np.savez(buffer, **{"layers/dense/vars/0": np.array([_Opener(marker)], dtype=object)})
    path = _write(tmp_path / "npz.keras", _model(_dense()), buffer.getvalue(),
                  member="model.weights.npz")
    _refused(path, marker)


def test_pickles_in_a_weights_file_are_refused(tmp_path, marker):
    path = tmp_path / "pickled.weights.h5"
    path.write_bytes(_weights_h5({"0": _pickled_datasets(marker)["opaque"], "1": BIAS}))
    model = load_model(_write(tmp_path / "plain.keras", _model(_dense())))
    with pytest.raises(ValueError) as info:
        model.load_weights(str(path))
    assert str(path) in str(info.value)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], KERNEL)


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
    model = load_model(_write(tmp_path / "moved.keras", hostile, weights))
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
