"""fcnet and the oldest Keras 3 (3.0.0) read each other's files.

Keras 3.0.0 wrote the files in tests/data/keras_files/ (make_fixtures.py there): fcnet
loads them, predicts what that Keras predicted and, from the saved optimizer state,
trains one more epoch to the loss that Keras reached. The other way, fcnet's ``.keras``
files are loaded by Keras 3.0.0 itself, run as a subprocess in the environment that
``bash .ci/old_keras.sh`` makes (``.old-keras/``; ``FCNET_OLD_KERAS_PYTHON`` names
another interpreter); those tests skip where it is missing.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from keras_saving import saving_keras
from saving_models import (
    BUILDERS,
    FIT,
    LOSS_TOL,
    OPTIMIZERS,
    PREDICT_TOL,
    compile_kwargs,
    data,
    model_inputs,
)

import fcnet

FILES = Path(__file__).parent / "data" / "keras_files"
FIXTURES = ("mlp", "cnn", "two_inputs")
# Keras 3.0.0 on JAX takes BatchNormalization's batch variance as E[x²] − E[x]² with the
# mean's gradient stopped, so its gradient is not the variance's; later Keras (jnp.var)
# and fcnet differentiate the variance itself. Training the CNN one epoch therefore
# ends about 1 % away from Keras 3.0.0's loss, while its predictions agree: for that
# model the loss of training on is compared with the installed Keras's instead.
BATCH_NORM = {"cnn"}
OLD_PYTHON = Path(os.environ.get("FCNET_OLD_KERAS_PYTHON",
                                 Path(__file__).parents[1] / ".old-keras" / "bin" / "python"))


def expected(name):
    """What Keras 3.0.0 saved beside ``name.keras``: data, predictions, next loss."""
    with np.load(FILES / f"{name}_expected.npz") as saved:
        return {key: saved[key] for key in saved.files}


def inputs_of(saved):
    return model_inputs({key: value for key, value in saved.items() if key.startswith("x")})


@pytest.mark.parametrize("name", FIXTURES)
def test_old_keras_file_predicts_as_it_did(name):
    saved = expected(name)
    model = fcnet.models.load_model(FILES / f"{name}.keras")
    got = model.predict(inputs_of(saved), batch_size=8, verbose=0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, saved["predict"], **PREDICT_TOL)
    # Compiled from the file's compile config, with its optimizer and hyperparameters.
    opt_name, opt_args = OPTIMIZERS[name]
    assert type(model.optimizer).__name__ == opt_name
    for key, value in opt_args.items():
        np.testing.assert_allclose(float(getattr(model.optimizer, key)), value, rtol=1e-6)


def current_keras_next_loss(name):
    """The installed Keras's loss of one more epoch from ``name.keras``."""
    keras, trains = saving_keras()
    if not trains:
        pytest.skip("Keras's numpy backend cannot train")
    saved = expected(name)
    model = keras.models.load_model(FILES / f"{name}.keras")
    model.run_eagerly = True
    return model.fit(inputs_of(saved), saved["y"], epochs=1, **FIT).history["loss"][0]


@pytest.mark.parametrize("name", FIXTURES)
def test_old_keras_file_resumes_training(name):
    saved = expected(name)
    want = saved["next_loss"]
    if name in BATCH_NORM:
        want = current_keras_next_loss(name)
        assert abs(want - saved["next_loss"]) > 1e-3  # why Keras 3.0.0's is not the reference
    model = fcnet.models.load_model(FILES / f"{name}.keras")
    # The saved optimizer state, iterations included (two epochs of whole batches).
    steps = 2 * len(saved["y"]) // FIT["batch_size"]
    assert int(np.asarray(model.optimizer.variables[0])) == steps
    history = model.fit(inputs_of(saved), saved["y"], epochs=1, **FIT)
    np.testing.assert_allclose(history.history["loss"][0], want, **LOSS_TOL)


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_old_keras_weights_load_into_fcnet_model(name, suffix):
    """load_weights matches layers by class-name counters: the file's layer names
    (``dense_3``… for the later models) differ from the fresh fcnet model's."""
    saved = expected(name)
    model = BUILDERS[name](fcnet)
    before = model.predict(inputs_of(saved), batch_size=8, verbose=0)
    model.load_weights(FILES / f"{name}{suffix}")
    got = model.predict(inputs_of(saved), batch_size=8, verbose=0)
    np.testing.assert_allclose(got, saved["predict"], **PREDICT_TOL)
    assert np.abs(before - saved["predict"]).max() > 1e-2  # the weights did change


def run_old_keras(model_path, inputs, y, tmp_path):
    """Keras 3.0.0's predictions and next-epoch loss for a ``.keras`` file."""
    if not OLD_PYTHON.exists():
        pytest.skip(f"Keras 3.0.0 environment missing ({OLD_PYTHON}): run bash .ci/old_keras.sh")
    data_path, out_path = tmp_path / "data.npz", tmp_path / "out.npz"
    np.savez(data_path, y=y, **inputs)
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([str(OLD_PYTHON), str(FILES / "keras_check.py"), str(model_path),
                           str(data_path), str(out_path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    with np.load(out_path) as out:
        assert str(out["keras_version"]) == "3.0.0"
        return out["predict"], float(out["next_loss"])


@pytest.mark.parametrize("name", FIXTURES + ("nested",))
def test_fcnet_file_loads_in_old_keras(name, tmp_path):
    inputs, y = data(name)
    x = model_inputs(inputs)
    model = BUILDERS[name](fcnet)
    model.compile(**compile_kwargs(name, fcnet))
    model.fit(x, y, epochs=1, **FIT)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    predict = model.predict(x, batch_size=8, verbose=0)
    next_loss = model.fit(x, y, epochs=1, **FIT).history["loss"][0]
    old_predict, old_next_loss = run_old_keras(path, inputs, y, tmp_path)
    np.testing.assert_allclose(old_predict, predict, **PREDICT_TOL)
    if name not in BATCH_NORM:
        np.testing.assert_allclose(old_next_loss, next_loss, **LOSS_TOL)


def test_fcnet_file_with_custom_names_loads_in_old_keras(tmp_path):
    inputs, y = data("cnn")
    model = BUILDERS["cnn"](fcnet, names=("features", "norm", "pool", "flat", "Dense_ly"))
    model.compile(**compile_kwargs("cnn", fcnet))
    model.fit(inputs["x"], y, epochs=1, **FIT)
    path = tmp_path / "named.keras"
    model.save(path)
    predict = model.predict(inputs["x"], batch_size=8, verbose=0)
    old_predict, _ = run_old_keras(path, inputs, y, tmp_path)  # a CNN: see BATCH_NORM
    np.testing.assert_allclose(old_predict, predict, **PREDICT_TOL)
