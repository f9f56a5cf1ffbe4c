"""Legacy HDF5 files (tf.keras 2's ``model.save("m.h5")``), both ways, with real Keras 3.

Keras 3 saves ``.h5``, ``fcnet.models.load_model`` loads: the same predictions (1e-5),
and with the restored Adam state one more epoch of ``fit`` (shuffle=False, same data)
reaches Keras's next-epoch loss (1e-4). fcnet saves ``.h5``, ``keras.models.load_model``
loads: the same predictions, compiled with Adam at the same learning rate and step; the
optimizer variables fcnet writes have the shapes, dtypes and order of Keras's own file
(Keras 3's legacy reader builds the optimizer over no variables, so it resumes training
from no ``.h5`` file, its own included). The models are tests/saving_models.py's (an
MLP, a CNN, a two-input functional model, a functional model with a Sequential inside).
Hand-written tf.keras 2 files (tests/legacy_h5_files.py) check hand-worked predictions
and Keras 2 spellings; tests/test_saving_legacy_h5_damaged.py has the malformed files.
"""

import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest
from legacy_h5_files import (
    expected_predictions,
    keras2_functional,
    keras2_sequential,
    write_keras2_file,
)
from saving_models import (
    BUILDERS,
    FIT,
    LOSS_TOL,
    PREDICT_TOL,
    compile_kwargs,
    data,
    model_inputs,
)

import fcnet
from fcnet.saving.legacy_h5_weights import load_weights_legacy_h5

os.environ.setdefault("KERAS_BACKEND", "jax")
if os.environ["KERAS_BACKEND"] == "jax":
    pytest.importorskip("jax")
keras = pytest.importorskip("keras")
TRAINS = keras.backend.backend() in ("jax", "tensorflow", "torch")
needs_training = pytest.mark.skipif(not TRAINS, reason="Keras's numpy backend cannot train")

MODELS = sorted(BUILDERS)
ADAM = ("Adam", {"learning_rate": 0.01})


def fitted(mod, name, epochs=1):
    """Model ``name`` in ``mod`` compiled with Adam and fitted for ``epochs``."""
    if mod is keras:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
    model = BUILDERS[name](mod)
    model.compile(**compile_kwargs(name, mod, ADAM))
    if epochs and (TRAINS or mod is fcnet):
        inputs, y = data(name)
        model.fit(model_inputs(inputs), y, epochs=epochs, **FIT)
    return model


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """``keras_files(name)``: what Keras 3 wrote and computed for model ``name``, made once
    per module: ``{"model": m.h5, "weights": legacy w.h5, "predictions", "iterations",
    "next_loss"}`` (the loss of one more epoch, None where Keras cannot train)."""
    from keras.src.legacy.saving import legacy_h5_format

    made = {}

    def make(name):
        if name not in made:
            folder = tmp_path_factory.mktemp(name)
            k_model = fitted(keras, name)
            files = {"model": str(folder / "m.h5"), "weights": str(folder / "w.h5")}
            k_model.save(files["model"])
            with h5py.File(files["weights"], "w") as h5file:  # save_weights("w.h5")'s layout
                legacy_h5_format.save_weights_to_hdf5_group(h5file, k_model)
            files["predictions"] = predictions(k_model, name)
            files["iterations"] = int(k_model.optimizer.iterations)
            files["next_loss"] = next_epoch_loss(k_model, name) if TRAINS else None
            made[name] = files
        return made[name]

    return make


def predictions(model, name):
    inputs, _ = data(name)
    return np.asarray(model.predict(model_inputs(inputs), batch_size=8, verbose=0))


def next_epoch_loss(model, name):
    inputs, y = data(name)
    return model.fit(model_inputs(inputs), y, epochs=1, **FIT).history["loss"][-1]


# ---------------------------------------------------------------- Keras → fcnet
@pytest.mark.parametrize("name", MODELS)
def test_keras_h5_loads_in_fcnet(name, keras_files):
    files = keras_files(name)
    model = fcnet.models.load_model(files["model"])
    np.testing.assert_allclose(predictions(model, name), files["predictions"], **PREDICT_TOL)
    assert type(model.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.01, rtol=1e-6)
    if TRAINS:
        assert model.optimizer.iterations == files["iterations"]
        np.testing.assert_allclose(next_epoch_loss(model, name), files["next_loss"],
                                   **LOSS_TOL)


def test_keras_h5_without_compile(keras_files):
    files = keras_files("mlp")
    model = fcnet.models.load_model(files["model"], compile=False)
    assert not model.compiled
    np.testing.assert_allclose(predictions(model, "mlp"), files["predictions"],
                               **PREDICT_TOL)


@pytest.mark.parametrize("name", MODELS)
def test_keras_legacy_weights_load_in_fcnet(name, keras_files):
    """``save_weights("w.h5")``'s layout: the layer groups at the file's root."""
    files = keras_files(name)
    model = BUILDERS[name](fcnet)
    model.load_weights(files["weights"])
    np.testing.assert_allclose(predictions(model, name), files["predictions"], **PREDICT_TOL)


# ---------------------------------------------------------------- fcnet → Keras
@pytest.mark.parametrize("name", MODELS)
def test_fcnet_h5_loads_in_keras(name, tmp_path):
    """Keras compiles the model from the file (Adam, its learning rate, the loss) and
    predicts the same."""
    path = str(tmp_path / f"{name}.h5")
    model = fitted(fcnet, name)
    model.save(path)
    keras.backend.clear_session()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_model = keras.models.load_model(path)
    np.testing.assert_allclose(predictions(k_model, name), predictions(model, name),
                               **PREDICT_TOL)
    assert type(k_model.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(float(k_model.optimizer.learning_rate), 0.01, rtol=1e-6)
    assert int(k_model.optimizer.iterations) == model.optimizer.iterations


def _text(name):
    return name.decode() if isinstance(name, bytes) else name


def _optimizer_layout(path):
    with h5py.File(path, "r") as h5file:
        group = h5file["optimizer_weights"]
        names = [_text(n) for n in group.attrs["weight_names"]]
        return [(group[n].shape, group[n].dtype.kind) for n in names]


@needs_training
@pytest.mark.parametrize("name", MODELS)
def test_fcnet_h5_optimizer_weights_in_keras_layout(name, tmp_path, keras_files):
    """The optimizer variables fcnet writes are Keras's, in Keras's order (iterations,
    learning rate, then momentum and velocity per trainable variable)."""
    ours = str(tmp_path / "fcnet.h5")
    fitted(fcnet, name).save(ours)
    assert _optimizer_layout(ours) == _optimizer_layout(keras_files(name)["model"])


@pytest.mark.parametrize("name", MODELS)
def test_fcnet_h5_round_trip(name, tmp_path):
    path = str(tmp_path / f"{name}.h5")
    model = fitted(fcnet, name)
    model.save(path)
    loaded = fcnet.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(predictions(loaded, name), predictions(model, name),
                               rtol=0, atol=0)
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(next_epoch_loss(loaded, name), next_epoch_loss(model, name),
                               rtol=1e-6)


def test_fcnet_h5_layout(tmp_path):
    """The attributes and groups Keras's legacy reader looks for."""
    path = str(tmp_path / "mlp.h5")
    model = fitted(fcnet, "mlp")
    model.save(path)
    with h5py.File(path, "r") as h5file:
        assert {"keras_version", "backend", "model_config", "training_config"} <= set(
            h5file.attrs)
        weights = h5file["model_weights"]
        names = [n.decode() for n in weights.attrs["layer_names"]]
        assert names == [layer.name for layer in model.layers]
        hidden = weights["hidden"]
        kernel, bias = (n.decode() for n in hidden.attrs["weight_names"])
        np.testing.assert_array_equal(hidden[kernel][()], model.layers[0].kernel.numpy())
        np.testing.assert_array_equal(hidden[bias][()], model.layers[0].bias.numpy())
        assert len(h5file["optimizer_weights"].attrs["weight_names"]) == 2 + 2 * 6
    assert not [f for f in os.listdir(tmp_path) if f != "mlp.h5"]  # no temporary left


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    from fcnet.saving import legacy_h5

    path = tmp_path / "m.h5"
    path.write_bytes(b"the previous file")
    model = fitted(fcnet, "mlp", epochs=0)

    def broken(group, model):
        group.create_group("half_written")
        raise RuntimeError("disk full")

    monkeypatch.setattr(legacy_h5, "save_weights_to_group", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(str(path))
    assert path.read_bytes() == b"the previous file"
    assert os.listdir(tmp_path) == ["m.h5"]


# ---------------------------------------------------------------- tf.keras 2 files
@pytest.mark.parametrize("with_input_layer", [False, True])
def test_keras2_sequential_file(with_input_layer, tmp_path):
    path = write_keras2_file(tmp_path / "k2.h5", keras2_sequential(with_input_layer))
    with pytest.warns(UserWarning, match="freshly initialized optimizer"):
        model = fcnet.models.load_model(path)
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.0], [0.5, -2.0, 1.0]], dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected_predictions(x),
                               rtol=1e-6)
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert not model.layers[1].use_bias
    # Keras 2's optimizer config, read as Keras 3 reads it; its 1 + 2n slots do not fit
    # Keras 3's 2 + 2n variables, so the optimizer starts afresh.
    assert type(model.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.002, rtol=1e-6)
    assert model.optimizer.iterations == 0
    model.fit(x, np.zeros((3, 1), "float32"), epochs=1, verbose=0)  # it trains


def test_keras2_lr_and_reduction_spellings(tmp_path):
    training = {"loss": {"class_name": "MeanSquaredError",
                         "config": {"reduction": "auto", "name": "mean_squared_error"}},
                "metrics": ["mae"], "weighted_metrics": None, "loss_weights": None,
                "optimizer_config": {"class_name": "SGD", "config": {
                    "lr": 0.25, "momentum": 0.0, "decay": 0.0, "nesterov": False}}}
    path = write_keras2_file(tmp_path / "k2.h5", keras2_sequential(False), training,
                             optimizer_weights=False)
    model = fcnet.models.load_model(path)
    assert type(model.optimizer).__name__ == "SGD"
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.25)
    # One SGD step by hand: y = x·K·K2 with x = [0, 0, 0] → relu(b)·K2; target 0.
    x = np.zeros((1, 3), "float32")
    loss = model.fit(x, np.zeros((1, 1), "float32"), epochs=1, verbose=0).history["loss"][0]
    np.testing.assert_allclose(loss, expected_predictions(x)[0, 0] ** 2, rtol=1e-6)


def test_keras2_training_config_of_tf211(tmp_path):
    training = {"loss": "mse", "metrics": None, "weighted_metrics": None,
                "loss_weights": None, "optimizer_config": {"class_name": "Custom>Adam",
                "config": {"name": "Adam", "weight_decay": None, "clipnorm": None,
                           "global_clipnorm": None, "clipvalue": None, "use_ema": False,
                           "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                           "jit_compile": True, "is_legacy_optimizer": False,
                           "learning_rate": 0.004, "beta_1": 0.9, "beta_2": 0.999,
                           "epsilon": 1e-07, "amsgrad": False}}}
    path = write_keras2_file(tmp_path / "k2.h5", keras2_sequential(True), training,
                             optimizer_weights=False)
    model = fcnet.models.load_model(path)
    assert type(model.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 0.004, rtol=1e-6)


def test_keras2_functional_file(tmp_path):
    path = write_keras2_file(tmp_path / "k2f.h5", keras2_functional())
    model = fcnet.models.load_model(path, compile=False)
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.0]], dtype="float32")
    # One output, listed as tf.keras 2 listed every output ([["dense_1", 0, 0]]): one array.
    np.testing.assert_allclose(model.predict(x, verbose=0), expected_predictions(x),
                               rtol=1e-6)


def test_keras2_file_with_a_lambda_layer_is_refused(tmp_path):
    config = keras2_sequential(False)
    config["config"]["layers"].insert(1, {"class_name": "Lambda", "config": {
        "name": "lambda", "trainable": True, "dtype": "float32",
        "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7p", None, None],
        "function_type": "lambda", "module": "__main__", "output_shape": None,
        "output_shape_type": "raw", "output_shape_module": None, "arguments": {}}})
    path = write_keras2_file(tmp_path / "lambda.h5", config)
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="lambda|Lambda") as info:
            fcnet.models.load_model(path, safe_mode=safe_mode)
        assert str(path) in str(info.value)


# ---------------------------------------------------------------- load_weights rules
def _weights_file(tmp_path, model):
    path = str(tmp_path / "w.h5")
    model.save(path)
    return path


def test_load_weights_by_position_and_by_name(tmp_path):
    source = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(4, name="a"),
                               fcnet.layers.Dense(2, name="b")])
    path = _weights_file(tmp_path, source)
    # By position: other names, same shapes.
    target = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(4, name="x"),
                               fcnet.layers.Dropout(0.5), fcnet.layers.Dense(2, name="y")])
    target.load_weights(path)
    for a, b in zip(target.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # By name: only "b" matches.
    target = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(4, name="x"),
                               fcnet.layers.Dense(2, name="b")])
    before = target.layers[0].kernel.numpy()
    load_weights_legacy_h5(target, path, by_name=True)
    np.testing.assert_array_equal(target.layers[0].kernel.numpy(), before)
    np.testing.assert_array_equal(target.layers[1].kernel.numpy(),
                                  source.layers[1].kernel.numpy())


def test_load_weights_mismatches(tmp_path):
    source = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(4), fcnet.layers.Dense(2)])
    path = _weights_file(tmp_path, source)
    fewer = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(2)])
    with pytest.raises(ValueError, match="Layer count mismatch.*expected 1 layers, found 2"):
        fewer.load_weights(path)
    no_bias = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(4, use_bias=False),
                                fcnet.layers.Dense(2)])
    with pytest.raises(ValueError, match="Weight count mismatch for layer #0"):
        no_bias.load_weights(path)
    wider = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(5), fcnet.layers.Dense(2)])
    before = wider.get_weights()
    with pytest.raises(ValueError, match=r"Shape mismatch in layer #0.*\(3, 5\).*\(3, 4\)"):
        wider.load_weights(path)
    for a, b in zip(wider.get_weights(), before, strict=True):  # nothing half-loaded
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="Skipping loading weights for layer #0"):
        wider.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(wider.layers[0].kernel.numpy(), before[0])  # skipped
    np.testing.assert_array_equal(wider.layers[1].kernel.numpy(), before[2])  # skipped
    np.testing.assert_array_equal(wider.layers[1].bias.numpy(),  # loaded: (2,) fits
                                  source.layers[1].bias.numpy())


def test_import_fcnet_does_not_import_h5py():
    code = ("import sys, fcnet, fcnet.saving, fcnet.saving.legacy_h5; "
            "assert 'h5py' not in sys.modules, 'h5py imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
