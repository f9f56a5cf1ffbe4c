"""fcnet's own files, read back by fcnet: layouts, exact continuation, configs, errors.

(Files crossing to and from real Keras are in test_saving_keras*.py; safety and fuzzing
in test_saving_safety.py and test_saving_fuzz.py.)
"""

import io
import json
import zipfile

import h5py
import numpy
import pytest

import fcnet
from fcnet import layers


def _data(n=64, d=4, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x @ rng.normal(size=(d, 1))).astype("float32")


def _mlp(names=("Dense_ly", "out")):
    return fcnet.Sequential([fcnet.Input((4,)), layers.Dense(3, activation="relu", name=names[0]),
                             layers.Dropout(0.0), layers.Dense(1, name=names[1])])


def _weights_h5(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("model.weights.h5")
    found = {}
    with h5py.File(io.BytesIO(raw), "r") as h5:
        h5.visititems(lambda name, obj: found.__setitem__(
            name, obj.shape if isinstance(obj, h5py.Dataset) else dict(obj.attrs)))
    return found


def test_keras_layout_keys_layers_by_class_counters_not_names(tmp_path):
    model = _mlp()
    model.compile("adam", "mse")
    model.fit(*_data(), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    found = _weights_h5(tmp_path / "m.keras")
    assert found["layers/dense/vars"] == {"name": "Dense_ly"}
    assert found["layers/dense/vars/0"] == (4, 3) and found["layers/dense/vars/1"] == (3,)
    assert found["layers/dense_1/vars/0"] == (3, 1)
    assert found["layers/dropout/vars"] == {"name": "dropout"} or "dropout" in str(found)
    assert "vars" in found  # the model's own (empty) group, which Keras 3.3 requires
    # optimizer: iterations, learning rate, then m and v per variable (Keras 3's order)
    shapes = [found[f"optimizer/vars/{i}"] for i in range(10)]
    assert shapes == [(), (), (4, 3), (4, 3), (3,), (3,), (3, 1), (3, 1), (1,), (1,)]
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}


def test_saved_optimizer_state_continues_training_exactly(tmp_path):
    x, y = _data()
    fcnet.utils.set_random_seed(1)
    straight = _mlp()
    straight.compile(fcnet.optimizers.Adam(0.01), "mse")
    initial = straight.get_weights()
    straight.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)

    halted = _mlp(("a", "b"))
    halted.set_weights(initial)
    halted.compile(fcnet.optimizers.Adam(0.01), "mse")
    halted.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    halted.save(tmp_path / "half.keras")
    resumed = fcnet.models.load_model(tmp_path / "half.keras")
    assert resumed.optimizer.iterations == 4
    resumed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_weights_file_round_trip_and_errors(tmp_path):
    model = _mlp()
    model.compile("sgd", "mse")
    model.save_weights(tmp_path / "w.weights.h5")
    other = _mlp(("p", "q"))
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        numpy.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(tmp_path / "w.h5x")
    with pytest.raises(ValueError, match="Invalid filepath extension for saving"):
        model.save(tmp_path / "m.txt")
    with pytest.raises(ValueError, match="File format not supported"):
        fcnet.models.load_model(tmp_path / "w.txt")
    unbuilt = fcnet.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.load_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.save_weights(tmp_path / "u.weights.h5")


def test_mismatched_weights_raise_keras_errors_or_skip(tmp_path):
    model = _mlp()
    model.save_weights(tmp_path / "w.weights.h5")
    wider = fcnet.Sequential([fcnet.Input((4,)), layers.Dense(5, activation="relu"),
                              layers.Dropout(0.0), layers.Dense(1, use_bias=False)])
    before = wider.get_weights()
    with pytest.raises(ValueError, match=r"A total of 2 objects could not be loaded") as info:
        wider.load_weights(tmp_path / "w.weights.h5")
    assert "w.weights.h5" in str(info.value)
    assert "expected 1 variables, but received 2" in str(info.value) or \
        "must match" in str(info.value)
    with pytest.warns(UserWarning, match="Skipping loading weights"):
        wider.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    for a, b in zip(wider.get_weights(), before):
        numpy.testing.assert_array_equal(a, b)


def test_load_keeps_the_flat_parameter_views(tmp_path):
    x, y = _data()
    model = _mlp()
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    trained = model.get_weights()
    model.save_weights(tmp_path / "w.weights.h5")
    model.fit(x, y, epochs=1, verbose=0)
    model.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), trained):
        numpy.testing.assert_array_equal(a, b)
    params = model._parameters.params
    assert numpy.array_equal(params[:12], trained[0].ravel())  # the buffer saw the load


def test_functional_config_round_trip_with_shared_and_nested_layers(tmp_path):
    inner = fcnet.Sequential([layers.Dense(3, activation="tanh")], name="block")
    shared = layers.Dense(4, name="shared")
    a, b = fcnet.Input((4,), name="a"), fcnet.Input((2,), name="b")
    h = shared(layers.Dense(4)(shared(a)))  # one layer called twice
    z = layers.Concatenate()([inner(h), b])
    model = fcnet.Model({"a": a, "b": b}, [layers.Dense(1, name="y")(z),
                                           layers.Dense(2, name="w")(z)])
    x = {"a": _data(8)[0], "b": _data(8, 2)[0]}
    expected = model.predict(x, verbose=0)
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = fcnet.Model.from_config(config)
    rebuilt.set_weights(model.get_weights())
    for got, want in zip(rebuilt.predict(x, verbose=0), expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-6)
    model.save(tmp_path / "f.keras")
    loaded = fcnet.models.load_model(tmp_path / "f.keras")
    for got, want in zip(loaded.predict(x, verbose=0), expected):
        numpy.testing.assert_array_equal(got, want)
    shared_nodes = [r for r in config["layers"] if r["name"] == "shared"][0]["inbound_nodes"]
    assert len(shared_nodes) == 2


@fcnet.saving.register_keras_serializable(package="tests")
class Scale(layers.Layer):
    """y = x · factor (a user's layer with a constructor argument)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x, training=False):
        return x * numpy.float32(self.factor), None

    def backward(self, ctx, dy):
        return dy * numpy.float32(self.factor)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_registered_and_custom_objects_load(tmp_path):
    model = fcnet.Sequential([fcnet.Input((4,)), layers.Dense(2), Scale(3.0)])
    model.save(tmp_path / "s.keras")
    record = json.loads(zipfile.ZipFile(tmp_path / "s.keras").read("config.json"))
    assert record["config"]["layers"][-1]["registered_name"] == "tests>Scale"
    loaded = fcnet.models.load_model(tmp_path / "s.keras")
    assert isinstance(loaded.layers[-1], Scale) and loaded.layers[-1].factor == 3.0
    x = _data(5)[0]
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    def cube(x):
        return x * x * x

    def _unregistered_activation():
        return fcnet.Sequential([fcnet.Input((4,)), layers.Dense(2, activation=cube)])

    _unregistered_activation().save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match="c.keras"):
        fcnet.models.load_model(tmp_path / "c.keras")
    again = fcnet.models.load_model(tmp_path / "c.keras", custom_objects={"cube": cube})
    assert again.layers[0].activation is cube


class Net(fcnet.Model):
    """A subclassed model with a config of its own."""

    def __init__(self, width=3, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.hidden = layers.Dense(width, activation="relu")
        self.blocks = [layers.Dense(width), layers.Dense(width)]
        self.out = layers.Dense(1)

    def call(self, x, training=None):
        for block in self.blocks:
            x = block(x)
        return self.out(self.hidden(x))

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def test_subclassed_model_round_trip_keys_layers_by_attribute(tmp_path):
    x, y = _data()
    model = Net(width=5)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "n.keras")
    found = _weights_h5(tmp_path / "n.keras")
    # Keras 3 writes this model so (checked with Keras 3.15): attributes in sorted order,
    # a list keyed by class counters, and `out`, met first in the `layers` list (sorted
    # before "out"), under the counter of its position there
    assert found["blocks/dense/vars/0"] == (4, 5)
    assert found["blocks/dense_1/vars/0"] == (5, 5)
    assert found["hidden/vars/0"] == (5, 5)
    assert found["layers/dense_3/vars/0"] == (5, 1)
    assert not any(key.startswith("out") for key in found)
    loaded = fcnet.models.load_model(tmp_path / "n.keras", custom_objects={"Net": Net})
    assert loaded.width == 5
    numpy.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_json_and_compile_false(tmp_path):
    model = _mlp()
    rebuilt = fcnet.models.model_from_json(model.to_json())
    assert [type(layer).__name__ for layer in rebuilt.layers] == ["Dense", "Dropout", "Dense"]
    assert rebuilt.layers[0].name == "Dense_ly" and rebuilt.count_params() == model.count_params()
    model.compile("adam", "mse", metrics=["mae"])
    model.save(tmp_path / "m.keras")
    assert not fcnet.models.load_model(tmp_path / "m.keras", compile=False).compiled
    compiled = fcnet.models.load_model(tmp_path / "m.keras")
    assert compiled.compiled and isinstance(compiled.optimizer, fcnet.optimizers.Adam)


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    model = _mlp()
    model.save(tmp_path / "m.keras")
    before = (tmp_path / "m.keras").read_bytes()
    from fcnet.saving import weights

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(weights, "write", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(tmp_path / "m.keras")
    assert (tmp_path / "m.keras").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_adapted_vocabulary_from_keras_assets(tmp_path):
    """Keras (on TensorFlow) keeps an adapted lookup's vocabulary in
    ``assets/layers/string_lookup/vocabulary.txt``, special tokens first, not in the config."""
    lookup = layers.StringLookup()
    lookup.adapt(numpy.array(["x", "y"]))
    inputs = fcnet.Input((1,), dtype="string")
    fcnet.Model(inputs, lookup(inputs)).save(tmp_path / "own.keras")
    with zipfile.ZipFile(tmp_path / "own.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    for record in config["config"]["layers"]:
        if record["class_name"] == "StringLookup":
            record["config"]["vocabulary"] = None
    members["config.json"] = json.dumps(config).encode()
    members["assets/layers/string_lookup/vocabulary.txt"] = b"[UNK]\na\nb\nc\n"
    members["assets/layers/string_lookup/../../escape.txt"] = b"ignored"
    with zipfile.ZipFile(tmp_path / "keras.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = fcnet.models.load_model(tmp_path / "keras.keras")
    got = loaded.predict(numpy.array([["a"], ["c"], ["z"], ["x"]]), verbose=0).ravel()
    numpy.testing.assert_array_equal(got, [1, 3, 0, 0])
    assert not (tmp_path / "escape.txt").exists()


def test_load_weights_by_name_from_a_legacy_file(tmp_path):
    source = _mlp(("first", "second"))
    source.save(tmp_path / "m.h5")
    # another model with layers of the same names: by name each finds its own weights
    swapped = fcnet.Sequential([fcnet.Input((4,)), layers.Dense(3, name="first"),
                                layers.Dense(1, name="second")])
    swapped.load_weights(tmp_path / "m.h5", by_name=True)
    for a, b in zip(swapped.get_weights(), source.get_weights()):
        numpy.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="legacy `.h5` files only"):
        swapped.load_weights(tmp_path / "m.keras", by_name=True)
