"""ModelCheckpoint: file names from templates, save_best_only against hand-worked
sequences of val_loss, batch-level saving, weights-only files, Keras's messages and
errors (compared with real Keras where it is installed)."""

import os

import numpy as np
import pytest

import fcnet
from fcnet.callbacks import ModelCheckpoint

SEQUENCE = [0.5, 0.7, 0.4, 0.4, 0.6, 0.3]  # val_loss at epochs 1..6


def _model():
    fcnet.utils.set_random_seed(0)
    model = fcnet.Sequential([fcnet.Input((3,)), fcnet.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data(n=12):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.ones((3, 2), "float32")).astype("float32")


def _drive(callback, model, values, key="val_loss"):
    """Epoch ends with the given monitored values; before epoch e the weights are all e."""
    callback.set_model(model)
    for epoch, value in enumerate(values):
        model.set_weights([np.full(w.shape, epoch + 1, "float32") for w in model.weights])
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0, key: value})


def _saved_epoch(path):
    """The epoch whose weights ``path`` holds (``_drive`` filled them with it)."""
    model = _model()
    model.load_weights(str(path))
    values = {float(v) for w in model.get_weights() for v in w.ravel()}
    assert len(values) == 1
    return int(values.pop())


def test_file_names_from_epoch_and_logs(tmp_path):
    x, y = _data()
    model = _model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    history = model.fit(x, y, epochs=3, batch_size=4, validation_data=(x, y), verbose=0,
                        callbacks=[ModelCheckpoint(pattern)])
    expected = [f"ckpt-{e:02d}-{v:.2f}.keras"
                for e, v in zip((1, 2, 3), history.history["val_loss"])]
    assert sorted(os.listdir(tmp_path)) == expected
    last = fcnet.models.load_model(str(tmp_path / expected[-1]))
    for a, b in zip(last.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("mode, threshold, saved", [
    ("auto", None, [1, 3, 6]),  # 0.5, then 0.4 (0.4 again is no improvement), then 0.3
    ("min", None, [1, 3, 6]),
    ("max", None, [1, 2]),      # 0.5, 0.7: nothing beats 0.7 afterwards
    ("min", 0.45, [3, 6]),      # 0.5 does not beat the threshold
    ("max", 0.65, [2]),
    ("min", 0.2, []),
])
def test_save_best_only_keeps_only_improvements(tmp_path, mode, threshold, saved):
    callback = ModelCheckpoint(str(tmp_path / "m-{epoch}.weights.h5"), save_best_only=True,
                               save_weights_only=True, mode=mode,
                               initial_value_threshold=threshold)
    _drive(callback, _model(), SEQUENCE)
    assert sorted(os.listdir(tmp_path)) == sorted(f"m-{e}.weights.h5" for e in saved)
    for epoch in saved:
        assert _saved_epoch(tmp_path / f"m-{epoch}.weights.h5") == epoch


def test_save_best_only_with_one_file_holds_the_best_model(tmp_path):
    path = tmp_path / "best.keras"
    _drive(ModelCheckpoint(str(path), monitor="val_accuracy", save_best_only=True),
           _model(), [0.6, 0.8, 0.7, 0.8, 0.75], key="val_accuracy")  # auto: accuracy up
    assert os.listdir(tmp_path) == ["best.keras"]
    assert _saved_epoch(path) == 2


def test_save_freq_in_batches(tmp_path):
    x, y = _data(10)
    model = _model()
    seen = {}
    record = fcnet.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.__setitem__("epoch", epoch + 1),
        on_train_batch_end=lambda batch, logs: seen.__setitem__(
            (seen["epoch"], batch + 1), model.get_weights()))
    checkpoint = ModelCheckpoint(str(tmp_path / "b-{epoch}-{batch}.weights.h5"),
                                 save_weights_only=True, save_freq=3)
    model.fit(x, y, epochs=2, batch_size=2, shuffle=False, verbose=0,
              callbacks=[checkpoint, record])
    # 5 batches an epoch; every 3rd batch counted across epochs: overall batches 3, 6, 9.
    names = ["b-1-3.weights.h5", "b-2-1.weights.h5", "b-2-4.weights.h5"]
    assert sorted(os.listdir(tmp_path)) == names
    for name, key in zip(names, [(1, 3), (2, 1), (2, 4)]):
        loaded = _model()
        loaded.load_weights(str(tmp_path / name))
        for a, b in zip(loaded.get_weights(), seen[key]):
            assert np.array_equal(a, b)


def test_weights_only_writes_a_weights_file(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "w.weights.h5"
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(path), save_weights_only=True)])
    assert os.listdir(tmp_path) == ["w.weights.h5"]
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"  # an HDF5 file, not a .keras zip
    loaded = _model()
    loaded.load_weights(str(path))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)


EXTENSION_CASES = [
    ("model.weights.h5", False, None),
    ("model.h5", False, None),
    ("model.keras", False, None),
    ("model.weights.h5", True, None),
    ("model.tf", False, "The filepath provided must end in `.keras` (Keras model format). "
                        "Received: filepath=model.tf"),
    ("model", False, "The filepath provided must end in `.keras` (Keras model format). "
                     "Received: filepath=model"),
    ("model.keras", True, "When using `save_weights_only=True` in `ModelCheckpoint`, the "
                          "filepath provided must end in `.weights.h5` (Keras weights "
                          "format). Received: filepath=model.keras"),
    ("model.h5", True, "When using `save_weights_only=True` in `ModelCheckpoint`, the "
                       "filepath provided must end in `.weights.h5` (Keras weights "
                       "format). Received: filepath=model.h5"),
]


@pytest.mark.parametrize("filepath, weights_only, message", EXTENSION_CASES)
def test_extension_errors(filepath, weights_only, message):
    if message is None:
        ModelCheckpoint(filepath, save_weights_only=weights_only)
        return
    with pytest.raises(ValueError) as error:
        ModelCheckpoint(filepath, save_weights_only=weights_only)
    assert str(error.value) == message


def test_extension_errors_are_keras_messages():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    for filepath, weights_only, message in EXTENSION_CASES:
        if message is None:
            keras.callbacks.ModelCheckpoint(filepath, save_weights_only=weights_only)
            continue
        with pytest.raises(ValueError) as error:
            keras.callbacks.ModelCheckpoint(filepath, save_weights_only=weights_only)
        assert str(error.value) == message


def test_verbose_messages_are_keras_messages(tmp_path, capsys):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    outputs = {}
    for name, package, model in [
            ("fcnet", fcnet, _model()),
            ("keras", keras, keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))]:
        folder = tmp_path / name
        for best_only in (True, False):
            callback = package.callbacks.ModelCheckpoint(
                str(folder / "m-{epoch}.weights.h5"), save_best_only=best_only,
                save_weights_only=True, verbose=1)
            callback.set_model(model)
            for epoch, value in enumerate(SEQUENCE[:4]):
                callback.on_epoch_begin(epoch)
                callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": value})
        outputs[name] = capsys.readouterr().out.replace(str(folder), "DIR")
    assert "val_loss improved from None to 0.50000, saving model to DIR/m-1.weights.h5" in (
        outputs["fcnet"])
    assert outputs["fcnet"] == outputs["keras"]


def test_bad_arguments_and_paths(tmp_path):
    with pytest.raises(ValueError, match="Received: save_freq='batch'"):
        ModelCheckpoint("m.keras", save_freq="batch")
    model = _model()
    callback = ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc}.keras"))
    callback.set_model(model)
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        callback.on_epoch_end(0, {"val_loss": 0.1})
    (tmp_path / "folder.keras").mkdir()
    callback = ModelCheckpoint(str(tmp_path / "folder.keras"))
    callback.set_model(model)
    with pytest.raises(OSError, match="non-directory filepath"):
        callback.on_epoch_end(0, {"val_loss": 0.1})


def test_best_survives_a_resumed_run(tmp_path):
    """BackupAndRestore carries ModelCheckpoint's best value into the resumed run."""
    x, y = _data()
    backup = fcnet.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    path = str(tmp_path / "best.keras")
    seen = []

    class Interrupt(fcnet.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("Interrupting!")

    first = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    history = _model().fit(x, y, epochs=2, verbose=0, callbacks=[first])
    with pytest.raises(RuntimeError):
        _model().fit(x, y, epochs=4, verbose=0,
                     callbacks=[backup, ModelCheckpoint(path, monitor="loss",
                                                        save_best_only=True), Interrupt()])
    second = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    probe = fcnet.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append((epoch, second.best)))
    _model().fit(x, y, epochs=4, verbose=0, callbacks=[backup, second, probe])
    assert seen[0] == (2, min(history.history["loss"])) == (2, first.best)
