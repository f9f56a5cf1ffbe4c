"""BackupAndRestore: a run killed mid-way and started again ends on the weights of a run
never interrupted, bit for bit (``numpy.array_equal``), with Dropout, GaussianNoise,
BatchNormalization, ``shuffle=True``, EarlyStopping and ReduceLROnPlateau.

The runs are separate processes (``sys.executable``) of one script: killed by
``os._exit`` at a fixed batch, or by SIGKILL at a random moment, then run again."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fcnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# argv: backup_dir out kill("epoch,batch" or "none") save_freq pause_per_batch
SCRIPT = textwrap.dedent('''
    import json, os, sys, time
    import numpy as np
    import fcnet

    backup_dir, out, kill, save_freq, pause = sys.argv[1:6]
    kill_at = tuple(int(v) for v in kill.split(",")) if kill != "none" else None
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    fcnet.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype("float32")
    y = (x[:, :1] * 2 - x[:, 1:2] + 0.3 * rng.normal(size=(200, 1))).astype("float32")
    model = fcnet.Sequential([
        fcnet.Input((6,)), fcnet.layers.Dense(16, activation="relu"),
        fcnet.layers.Dropout(0.3), fcnet.layers.GaussianNoise(0.1),
        fcnet.layers.BatchNormalization(), fcnet.layers.Dense(1)])
    model.compile(optimizer=fcnet.optimizers.Adam(0.02), loss="mse", metrics=["mae"])

    class Interrupt(fcnet.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(float(pause))
            if (self.epoch, batch) == kill_at:
                os._exit(3)

    callbacks = [
        fcnet.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq),
        fcnet.callbacks.EarlyStopping(monitor="val_loss", patience=2, min_delta=0.03,
                                      restore_best_weights=True),
        fcnet.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1),
        Interrupt()]
    history = model.fit(x, y, batch_size=16, epochs=12, validation_split=0.2, shuffle=True,
                        callbacks=callbacks, verbose=0)
    state = model.get_weights() + [np.asarray(v) for v in model.optimizer.variables]
    np.savez(out, *state)
    with open(out + ".json", "w") as f:
        json.dump({"history": history.history, "epoch": history.epoch}, f)
''')


def _run(script, backup, out, kill="none", save_freq="epoch", pause=0.0):
    return subprocess.run([sys.executable, str(script), str(backup), str(out), kill,
                           str(save_freq), str(pause)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def _result(out):
    with np.load(out, allow_pickle=False) as archive:
        arrays = [archive[f"arr_{i}"] for i in range(len(archive.files))]
    with open(f"{out}.json") as f:
        return arrays, json.load(f)


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("script") / "train.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def reference(script, tmp_path_factory):
    """The uninterrupted run: its final weights and optimizer state, and its history."""
    folder = tmp_path_factory.mktemp("reference")
    done = _run(script, folder / "backup", folder / "out.npz")
    assert done.returncode == 0, done.stderr
    arrays, record = _result(folder / "out.npz")
    # The scenario exercises what the backup must carry: EarlyStopping stops training
    # (epoch 8 of 12) after waiting two epochs and restores epoch 6's weights;
    # ReduceLROnPlateau has halved the learning rate several times.
    assert record["epoch"] == list(range(8))
    assert record["history"]["learning_rate"][-1] == pytest.approx(0.02 / 8)
    return arrays, record


def _assert_same_as_reference(arrays, record, reference):
    ref_arrays, ref_record = reference
    assert len(arrays) == len(ref_arrays) == 22  # 8 weights, 14 optimizer variables
    for i, (a, b) in enumerate(zip(arrays, ref_arrays)):
        assert a.dtype == b.dtype and np.array_equal(a, b), f"array {i} differs"
    # The resumed run's epochs are the reference's last ones, with the same logs.
    first = record["epoch"][0]
    assert record["epoch"] == ref_record["epoch"][first:]
    for key, values in ref_record["history"].items():
        assert record["history"][key] == values[first:], key


@pytest.mark.parametrize("save_freq, kill, resumed_from", [
    ("epoch", "7,2", 7),  # the backup of epoch 7's start: EarlyStopping has waited 1
    (4, "7,7", 7),        # the backup after batch 5 of epoch 7: resumed mid-epoch
    (4, "3,2", 3),        # the backup after batch 1 of epoch 3
])
def test_killed_run_resumes_to_the_same_weights(script, reference, tmp_path, save_freq,
                                                kill, resumed_from):
    backup, out = tmp_path / "backup", tmp_path / "out.npz"
    crashed = _run(script, backup, out, kill=kill, save_freq=save_freq)
    assert crashed.returncode == 3, crashed.stderr
    assert not out.exists()
    assert os.listdir(backup) == ["training_state.npz"]
    resumed = _run(script, backup, out, save_freq=save_freq)
    assert resumed.returncode == 0, resumed.stderr
    arrays, record = _result(out)
    assert record["epoch"][0] == resumed_from
    _assert_same_as_reference(arrays, record, reference)
    assert not backup.exists()  # removed once training ended


def test_sigkill_at_a_random_moment_resumes_to_the_same_weights(script, reference,
                                                                 tmp_path):
    backup, out = tmp_path / "backup", tmp_path / "out.npz"
    state_file = backup / "training_state.npz"
    delay = random.Random().uniform(0.0, 0.5)
    process = subprocess.Popen(
        [sys.executable, str(script), str(backup), str(out), "none", "3", "0.01"],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists() and process.poll() is None:
            assert time.monotonic() < deadline, "no backup was written"
            time.sleep(0.005)
        time.sleep(delay)  # 80 batches of at least 10 ms remain after the first backup
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL, f"killed after {delay:.3f} s"
    assert not out.exists()
    resumed = _run(script, backup, out, save_freq=3)
    assert resumed.returncode == 0, f"killed after {delay:.3f} s: {resumed.stderr}"
    arrays, record = _result(out)
    _assert_same_as_reference(arrays, record, reference)


# ---------------------------------------------------------------- in one process


class _Interrupt(fcnet.callbacks.Callback):
    """Raises at the given epoch (and batch), as Keras's documentation example does."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.at == (epoch, None):
            raise RuntimeError("Interrupting!")

    def on_train_batch_end(self, batch, logs=None):
        if self.at == (self.epoch, batch):
            raise RuntimeError("Interrupting!")


def _model():
    fcnet.utils.set_random_seed(3)
    model = fcnet.Sequential([fcnet.Input((4,)), fcnet.layers.Dense(8, activation="tanh"),
                              fcnet.layers.Dropout(0.25), fcnet.layers.Dense(1)])
    model.compile(optimizer=fcnet.optimizers.SGD(0.05, momentum=0.9), loss="mse",
                  metrics=["mae"])
    return model


def _data(n=40):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True).astype("float32")


def test_keras_documentation_example(tmp_path):
    """Interrupted at epoch 4 (0-based) of 10, the second fit runs the 6 epochs left."""
    x, y = _data()
    backup = fcnet.callbacks.BackupAndRestore(backup_dir=str(tmp_path / "backup"))
    model = _model()
    with pytest.raises(RuntimeError, match="Interrupting"):
        model.fit(x, y, epochs=10, batch_size=8, callbacks=[backup, _Interrupt(4)],
                  verbose=0)
    history = _model().fit(x, y, epochs=10, batch_size=8, callbacks=[backup], verbose=0)
    assert len(history.history["loss"]) == 6
    assert history.epoch == [4, 5, 6, 7, 8, 9]


class _Batches(fcnet.utils.PyDataset):
    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return len(self.x) // self.size

    def __getitem__(self, i):
        rows = slice(i * self.size, (i + 1) * self.size)
        return self.x[rows], self.y[rows]


def test_pydataset_resumes_mid_epoch_exactly(tmp_path):
    x, y = _data()
    reference = _model()
    expected = reference.fit(_Batches(x, y, 8), epochs=4, verbose=0)
    backup = fcnet.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=3)
    with pytest.raises(RuntimeError):
        _model().fit(_Batches(x, y, 8), epochs=4, verbose=0,
                     callbacks=[backup, _Interrupt(2, 4)])
    model = _model()
    history = model.fit(_Batches(x, y, 8), epochs=4, verbose=0, callbacks=[backup])
    # 5 batches an epoch: the last backup followed batch 12 overall (epoch 2, batch 1).
    assert history.epoch == [2, 3]
    assert history.history["loss"] == expected.history["loss"][2:]
    assert history.history["mae"] == expected.history["mae"][2:]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        assert np.array_equal(a, b)


def test_delete_checkpoint(tmp_path):
    x, y = _data()
    folder = tmp_path / "backup"
    seen = []
    probe = fcnet.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(
            sorted(os.listdir(folder)) if folder.exists() else None))
    fcnet_backup = fcnet.callbacks.BackupAndRestore(folder)
    _model().fit(x, y, epochs=3, batch_size=8, callbacks=[fcnet_backup, probe], verbose=0)
    # The backup of an epoch is written once every callback has seen its end.
    assert seen == [None, ["training_state.npz"], ["training_state.npz"]]
    assert not folder.exists()

    kept = fcnet.callbacks.BackupAndRestore(folder, delete_checkpoint=False)
    model = _model()
    model.fit(x, y, epochs=3, batch_size=8, callbacks=[kept], verbose=0)
    assert os.listdir(folder) == ["training_state.npz"]
    weights = model.get_weights()
    # The kept backup says training is done: a new fit restores it and runs no epoch.
    again = _model()
    history = again.fit(x, y, epochs=3, batch_size=8, callbacks=[kept], verbose=0)
    assert history.epoch == []
    for a, b in zip(again.get_weights(), weights):
        assert np.array_equal(a, b)


def test_backup_file_holds_plain_arrays_only(tmp_path):
    x, y = _data()
    folder = tmp_path / "backup"
    backup = fcnet.callbacks.BackupAndRestore(folder, save_freq=2)
    with pytest.raises(RuntimeError):
        _model().fit(x, y, epochs=3, batch_size=8, verbose=0,
                     callbacks=[backup, _Interrupt(1, 3)])
    with np.load(folder / "training_state.npz", allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    assert all(a.dtype.kind in "fiub" for a in arrays.values())
    meta = json.loads(bytes(arrays["__metadata__"]).decode())
    # 5 batches an epoch, a backup every 2 (counted on across epochs, as Keras counts):
    # after batch 1 and 3 of epoch 0, batch 0 and 2 of epoch 1; then the interruption.
    assert (meta["epoch"], meta["batch"]) == (1, 3)
    assert sorted(arrays["order"]) == list(range(40))
    assert meta["means"]["seen"] == 24


def test_unreadable_backup_raises_naming_the_file(tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "training_state.npz").write_bytes(b"not a zip file")
    x, y = _data()
    backup = fcnet.callbacks.BackupAndRestore(folder)
    with pytest.raises(ValueError, match="training_state.npz"):
        _model().fit(x, y, epochs=2, batch_size=8, callbacks=[backup], verbose=0)


def test_double_checkpoint_falls_back_on_the_previous_backup(tmp_path):
    x, y = _data()
    folder = tmp_path / "backup"
    backup = fcnet.callbacks.BackupAndRestore(folder, double_checkpoint=True)
    with pytest.raises(RuntimeError):
        _model().fit(x, y, epochs=5, batch_size=8, verbose=0,
                     callbacks=[backup, _Interrupt(3)])
    assert sorted(os.listdir(folder)) == ["training_state.npz", "training_state.npz.bkp"]
    (folder / "training_state.npz").write_bytes(b"torn")
    history = _model().fit(x, y, epochs=5, batch_size=8, callbacks=[backup], verbose=0)
    assert history.epoch == [2, 3, 4]  # the previous backup: epochs 0 and 1 done


@pytest.mark.parametrize("kwargs, message", [
    (dict(backup_dir=""), "Empty `backup_dir` argument passed"),
    (dict(backup_dir="b", save_freq="batch"), "Received: save_freq=batch"),
    (dict(backup_dir="b", save_freq=2.5), "Received: save_freq=2.5"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fcnet.callbacks.BackupAndRestore(**kwargs)
