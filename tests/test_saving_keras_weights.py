"""Weights through `.weights.h5` and `.keras` files, both ways, with the installed Keras 3.

One package saves (``save_weights`` or ``save``), the other builds the same
architecture afresh and calls ``load_weights``: the predictions become the saver's.
fcnet's files have Keras's layout (the same HDF5 paths, shapes and dtypes as Keras's
own file for the same model); their keys under ``layers/`` are class-name counters, so
layers with other names load all the same; a compiled model whose optimizer is built
also takes the optimizer state from the file, as in Keras.
"""

import numpy as np
import pytest
from keras_saving import (
    as_arrays,
    assert_same_optimizer,
    fitted,
    is_keras,
    next_loss,
    predictions,
    saving_keras,
)
from saving_models import BUILDERS, PREDICT_TOL, compile_kwargs

import fcnet

keras, TRAINS = saving_keras()
needs_training = pytest.mark.skipif(not TRAINS, reason="Keras's numpy backend cannot train")

MODELS = sorted(BUILDERS)
NAMED_CNN = ("features", "norm", "pool", "flat", "Dense_ly")
CNN_KEYS = ["batch_normalization", "conv2d", "dense", "flatten", "max_pooling2d"]
PACKAGES = {"fcnet": fcnet, "keras": keras}


def fresh(mod, name, **kwargs):
    """Model ``name`` built afresh in ``mod``, with other initial weights than fitted()'s."""
    if is_keras(mod):
        mod.backend.clear_session()
        mod.utils.set_random_seed(1)
    return BUILDERS[name](mod, **kwargs)


def layout(path):
    """``{dataset path: (shape, dtype)}`` of an HDF5 file."""
    import h5py

    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda key, obj: found.update(
            {key: (obj.shape, obj.dtype.str)} if isinstance(obj, h5py.Dataset) else {}))
    return found


def save(model, path):
    if str(path).endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
@pytest.mark.parametrize("source, target", [("fcnet", "keras"), ("keras", "fcnet")])
def test_load_weights_across(source, target, suffix, name, tmp_path):
    source, target = PACKAGES[source], PACKAGES[target]
    model = fitted(source, name, epochs=1 if TRAINS or source is fcnet else 0)
    path = tmp_path / f"m{suffix}"
    save(model, path)
    other = fresh(target, name)
    before = predictions(other, name)
    other.load_weights(path)
    want = predictions(model, name)
    np.testing.assert_allclose(predictions(other, name), want, **PREDICT_TOL)
    assert np.abs(before - want).max() > 1e-3  # the load did change the model
    for a, b in zip(as_arrays(other.weights), as_arrays(model.weights)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@needs_training
@pytest.mark.parametrize("name", MODELS)
def test_weights_file_has_keras_layout(name, tmp_path):
    """fcnet's ``.weights.h5`` of a fitted model against Keras's own for the same model."""
    save(fitted(fcnet, name), tmp_path / "fcnet.weights.h5")
    save(fitted(keras, name), tmp_path / "keras.weights.h5")
    ours, theirs = layout(tmp_path / "fcnet.weights.h5"), layout(tmp_path / "keras.weights.h5")
    assert sorted(ours) == sorted(theirs)
    assert ours == theirs


@needs_training
@pytest.mark.parametrize("source, target", [("fcnet", "keras"), ("keras", "fcnet")])
def test_weights_file_carries_optimizer_state(source, target, tmp_path):
    """A compiled model with its optimizer built loads the optimizer state as well."""
    source, target = PACKAGES[source], PACKAGES[target]
    model = fitted(source, "cnn")
    save(model, tmp_path / "m.weights.h5")
    other = fresh(target, "cnn")
    other.compile(**compile_kwargs("cnn", target))
    if is_keras(target):
        other.run_eagerly = True
        other.optimizer.build(other.trainable_variables)
    else:
        fcnet.saving.build_optimizer(other)
    other.load_weights(tmp_path / "m.weights.h5")
    assert_same_optimizer(other, model)
    np.testing.assert_allclose(next_loss(other, "cnn"), next_loss(model, "cnn"), rtol=1e-4,
                               atol=1e-6)


def test_fcnet_keys_are_class_counters_not_names(tmp_path):
    model = fresh(fcnet, "cnn", names=NAMED_CNN)
    save(model, tmp_path / "named.weights.h5")
    found = layout(tmp_path / "named.weights.h5")
    assert sorted({key.split("/")[1] for key in found if key.startswith("layers/")}) == [
        "batch_normalization", "conv2d", "dense"]  # weightless layers: no datasets
    assert found["layers/conv2d/vars/0"] == ((3, 3, 1, 4), "<f4")
    assert found["layers/dense/vars/0"] == ((36, 3), "<f4")
    assert [found[f"layers/batch_normalization/vars/{i}"] for i in range(4)] == [
        ((4,), "<f4")] * 4
    import h5py

    with h5py.File(tmp_path / "named.weights.h5", "r") as f:
        assert sorted(f["layers"]) == CNN_KEYS
        # gamma, beta, moving mean, moving variance, in that order
        for i, weight in enumerate(model.layers[1].get_weights()):
            np.testing.assert_array_equal(f[f"layers/batch_normalization/vars/{i}"][()], weight)
    # Keras loads them into its CNN with its own layer names.
    other = fresh(keras, "cnn")
    other.load_weights(tmp_path / "named.weights.h5")
    np.testing.assert_allclose(predictions(other, "cnn"), predictions(model, "cnn"),
                               **PREDICT_TOL)


@pytest.mark.parametrize("source, target", [("fcnet", "keras"), ("keras", "fcnet")])
def test_custom_names_survive_the_round_trip(source, target, tmp_path):
    source, target = PACKAGES[source], PACKAGES[target]
    model = fresh(source, "cnn", names=NAMED_CNN)
    save(model, tmp_path / "named.keras")
    loaded = target.models.load_model(tmp_path / "named.keras")
    assert [layer.name for layer in loaded.layers] == list(NAMED_CNN)
    np.testing.assert_allclose(predictions(loaded, "cnn"), predictions(model, "cnn"),
                               **PREDICT_TOL)
    # and into a model with the default names, by load_weights
    other = fresh(target, "cnn")
    other.load_weights(tmp_path / "named.keras")
    np.testing.assert_allclose(predictions(other, "cnn"), predictions(model, "cnn"),
                               **PREDICT_TOL)


@pytest.mark.parametrize("source, target", [("fcnet", "keras"), ("keras", "fcnet")])
def test_nested_sequential_keeps_its_name_and_weights(source, target, tmp_path):
    source, target = PACKAGES[source], PACKAGES[target]
    model = fresh(source, "nested")
    save(model, tmp_path / "nested.keras")
    loaded = target.models.load_model(tmp_path / "nested.keras")
    block = loaded.get_layer("block")
    assert type(block).__name__ == "Sequential"
    assert [type(layer).__name__ for layer in block.layers] == ["Dense", "Dense"]
    for a, b in zip(as_arrays(block.weights), as_arrays(model.get_layer("block").weights)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(predictions(loaded, "nested"), predictions(model, "nested"),
                               **PREDICT_TOL)
