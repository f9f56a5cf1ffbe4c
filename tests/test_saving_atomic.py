"""A save replaces the file whole or not at all.

A child process saves one model over and over (``.keras`` and ``.weights.h5``),
alternating two weight sets, and is killed with SIGKILL at random moments; each time
the files left behind load and hold exactly one of the two complete versions, and no
temporary file takes the target's name. A save that cannot be written (a missing or
read-only folder, a folder that is a file, a write failing half-way) raises OSError
naming the path and leaves the previous file as it was.
"""

import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import fcnet
from fcnet.models import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILLS = 6


def _model():
    model = fcnet.Sequential([fcnet.Input(shape=(4,)), fcnet.layers.Dense(8, activation="relu"),
                              fcnet.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _versions():
    """Two complete weight sets, told apart by every value."""
    first = [np.arange(np.prod(s), dtype="float32").reshape(s) / 7 + 1
             for s in [(4, 8), (8,), (8, 3), (3,)]]
    return first, [-2 * w for w in first]


# The child: saves version 0, then 1, then 0 ... into the folder given, forever; it
# creates ``ready`` beside the folder once both versions have been written whole.
CHILD = """
import os, sys
sys.path[:0] = [{root!r}, {tests!r}]
from test_saving_atomic import _model, _versions
folder, ready = sys.argv[1], sys.argv[2]
model, versions = _model(), _versions()
n = 0
while True:
    model.set_weights(versions[n % 2])
    model.save(os.path.join(folder, "m.keras"))
    model.save_weights(os.path.join(folder, "m.weights.h5"))
    n += 1
    if n == 2:
        open(ready, "w").close()
"""


def _which_version(weights, versions):
    for i, version in enumerate(versions):
        if len(weights) == len(version) and all(
                np.array_equal(a, b) for a, b in zip(weights, version)):
            return i
    return None


def test_killed_saves_leave_a_whole_file(tmp_path):
    folder, ready = tmp_path / "models", tmp_path / "ready"
    folder.mkdir()
    code = CHILD.format(root=ROOT, tests=os.path.join(ROOT, "tests"))
    rng, versions = random.Random(20261127), _versions()
    seen = []
    for _ in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", code, str(folder), str(ready)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not ready.exists():
                assert child.poll() is None, child.stderr.read().decode()
                assert time.monotonic() < deadline, "the saving process never got going"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stderr.close()
        ready.unlink()

        names = sorted(os.listdir(folder))
        visible = [n for n in names if not n.startswith(".")]
        assert visible == ["m.keras", "m.weights.h5"], names
        for name in names:  # whatever else is there is a hidden temporary file
            assert name in visible or re.fullmatch(r"\.m\.(keras|weights\.h5)\..+\.tmp", name)
        loaded = load_model(str(folder / "m.keras"))
        first = _which_version(loaded.get_weights(), versions)
        assert first is not None, "the .keras file holds a mix of versions"
        model = _model()
        model.load_weights(str(folder / "m.weights.h5"))
        second = _which_version(model.get_weights(), versions)
        assert second is not None, "the .weights.h5 file holds a mix of versions"
        seen.append((first, second, len(names) - 2))
    print(f"\nkilled {KILLS} times: (.keras version, .weights.h5 version, temporary files "
          f"left) = {seen}")


# ---------------------------------------------------------------- failed saves
def _saved(folder):
    model = _model()
    model.set_weights(_versions()[0])
    paths = {"save": str(folder / "m.keras"), "save_weights": str(folder / "m.weights.h5")}
    model.save(paths["save"])
    model.save_weights(paths["save_weights"])
    model.set_weights(_versions()[1])
    return model, paths


def _contents(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.mark.parametrize("method", ["save", "save_weights"])
def test_a_missing_folder_raises_oserror_naming_the_path(tmp_path, method):
    model = _model()
    name = "m.keras" if method == "save" else "m.weights.h5"
    path = str(tmp_path / "missing" / name)
    with pytest.raises(OSError, match=re.escape(path)):
        getattr(model, method)(path)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("method", ["save", "save_weights"])
def test_a_folder_that_is_a_file_raises_oserror(tmp_path, method):
    (tmp_path / "plain").write_text("a file")
    name = "m.keras" if method == "save" else "m.weights.h5"
    path = str(tmp_path / "plain" / name)
    with pytest.raises(OSError, match=re.escape(path)):
        getattr(_model(), method)(path)
    assert (tmp_path / "plain").read_text() == "a file"


def _refuse_creation_in(folder, monkeypatch):
    """What the kernel does in a read-only folder, for a user (root) it would not stop."""
    real_open = os.open

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and os.path.dirname(os.path.abspath(path)) == str(folder):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)


@pytest.mark.parametrize("method", ["save", "save_weights"])
def test_a_read_only_folder_raises_oserror_and_keeps_the_old_file(tmp_path, method,
                                                                  monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    model, paths = _saved(folder)
    before = _contents(folder)
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        try:
            probe.write_text("")
        except OSError:
            pass
        else:
            probe.unlink()
            _refuse_creation_in(folder, monkeypatch)
        with pytest.raises(OSError, match=re.escape(paths[method])):
            getattr(model, method)(paths[method])
    finally:
        monkeypatch.undo()
        folder.chmod(0o755)
    assert _contents(folder) == before


@pytest.mark.parametrize("method", ["save", "save_weights"])
def test_a_write_failing_half_way_keeps_the_old_file(tmp_path, method, monkeypatch):
    """A full disk, simulated: the archive's or the HDF5 file's writer fails part way."""
    import h5py

    folder = tmp_path / "models"
    folder.mkdir()
    model, paths = _saved(folder)
    before = _contents(folder)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full)
    monkeypatch.setattr(h5py.Group, "create_dataset", disk_full)
    with pytest.raises(OSError):
        getattr(model, method)(paths[method])
    monkeypatch.undo()
    assert _contents(folder) == before  # the old files whole, no temporary file left
    loaded = load_model(paths["save"])
    assert _which_version(loaded.get_weights(), _versions()) == 0


def test_overwrite_false_keeps_an_existing_file(tmp_path):
    model, paths = _saved(tmp_path)
    before = _contents(tmp_path)
    for method, path in paths.items():
        try:
            getattr(model, method)(path, overwrite=False)
        except (OSError, ValueError, EOFError):
            pass  # refused, or asked (Keras prompts on a terminal) and got no answer
    assert _contents(tmp_path) == before
