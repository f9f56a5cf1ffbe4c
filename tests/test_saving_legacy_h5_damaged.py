"""Damaged and hostile legacy HDF5 files: loading raises ValueError or OSError naming the
file, and nothing else escapes.

Hand-made damage (no model config, bad JSON, unknown classes, wrong shapes, missing or
text datasets, soft and external links, a bad training config), then a seeded fuzz run:
byte flips and truncations of a saved model, each loaded with ``load_model`` and with
``load_weights``, in a child process (a crash of the HDF5 library fails the test instead
of ending the session) with an alarm per case against hangs.
"""

import json
import os
import random
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
from legacy_h5_files import keras2_sequential, write_keras2_file

import fcnet

SEED = 20261127
CASES = 120
CASE_LIMIT_S = 20


# ---------------------------------------------------------------- malformed files
def _expect_error(path, error=ValueError, match=None, **kwargs):
    with pytest.raises(error, match=match) as info:
        fcnet.models.load_model(str(path), **kwargs)
    assert str(path) in str(info.value)


def test_not_hdf5_and_missing(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("not an HDF5 file")
    _expect_error(path, OSError)
    _expect_error(tmp_path / "missing.h5", OSError)


def test_missing_or_bad_model_config(tmp_path):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as h5file:
        h5file.create_group("model_weights")
    _expect_error(path, match="No model config")
    with h5py.File(path, "a") as h5file:
        h5file.attrs["model_config"] = b'{"class_name": "Sequential", "config": '
    _expect_error(path, match="not valid JSON")
    with h5py.File(path, "a") as h5file:
        h5file.attrs["model_config"] = b'["Sequential"]'
    _expect_error(path, match="model_config")
    with h5py.File(path, "a") as h5file:
        h5file.attrs["model_config"] = b'{"class_name": "os.system", "config": {}}'
    _expect_error(path, match="os.system")


def _damaged(tmp_path, damage):
    path = write_keras2_file(tmp_path / "damaged.h5", keras2_sequential(False))
    with h5py.File(path, "a") as h5file:
        damage(h5file["model_weights"])
    return path


def test_damaged_weights(tmp_path):
    def wrong_shape(group):
        del group["dense/dense/kernel:0"]
        group["dense/dense"].create_dataset("kernel:0", data=np.zeros((2, 2), "float32"))

    def missing_dataset(group):
        del group["dense/dense/bias:0"]

    def text_dataset(group):
        del group["dense/dense/bias:0"]
        group["dense/dense"].create_dataset("bias:0", data=np.array([b"a", b"b"]))

    def missing_group(group):
        del group["dense_1"]

    def soft_link(group):
        del group["dense/dense/bias:0"]
        group["dense/dense/bias:0"] = h5py.SoftLink("/model_weights/dense_1/dense_1/kernel:0")

    def external_link(group):
        del group["dense/dense/bias:0"]
        group["dense/dense/bias:0"] = h5py.ExternalLink("/etc/passwd", "/x")

    cases = [(wrong_shape, "Shape mismatch"), (missing_dataset, "missing"),
             (text_dataset, "not numbers"), (missing_group, "missing"),
             (soft_link, "SoftLink"), (external_link, "ExternalLink")]
    for damage, match in cases:
        _expect_error(_damaged(tmp_path, damage), match=match, compile=False)


def test_bad_training_config(tmp_path):
    path = write_keras2_file(tmp_path / "k2.h5", keras2_sequential(False),
                             {"loss": "mse", "optimizer_config": {"class_name": "NoSuchOpt",
                                                                  "config": {}}},
                             optimizer_weights=False)
    _expect_error(path, match="NoSuchOpt")
    model = fcnet.models.load_model(str(path), compile=False)
    assert model.predict(np.ones((1, 3)), verbose=0).shape == (1, 1)


def test_fuzzed_files_raise_only_value_or_os_errors(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
         os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, os.path.abspath(__file__), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=CASES * 5)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert sum(outcomes.values()) == 2 * CASES, outcomes
    assert set(outcomes) <= {"loaded", "refused"}, outcomes
    assert outcomes.get("refused", 0) > CASES // 2, outcomes


def _damaged_copies(data: bytes, rng):
    """Byte flips anywhere, and truncations, of ``data``."""
    for k in range(CASES):
        if k % 3 == 0:
            yield data[:rng.randrange(len(data))]
        else:
            out = bytearray(data)
            for _ in range(rng.randint(1, 16)):
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
            yield bytes(out)


def _outcome(run, path) -> str:
    signal.alarm(CASE_LIMIT_S)
    try:
        run()
        return "loaded"
    except (ValueError, OSError) as error:
        return "refused" if path in str(error) else f"unnamed {type(error).__name__}: {error}"
    except Exception as error:  # noqa: BLE001 - what escaped is the finding
        return f"escaped {type(error).__name__}: {error}"
    finally:
        signal.alarm(0)


def _run_cases(folder: str) -> None:
    import warnings
    from collections import Counter

    def hang(*_):
        raise TimeoutError("case hung")

    signal.signal(signal.SIGALRM, hang)
    warnings.simplefilter("ignore")
    model = fcnet.Sequential([fcnet.Input((4,)), fcnet.layers.Dense(8, activation="relu"),
                              fcnet.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = np.linspace(-1, 1, 32, dtype="float32").reshape(8, 4)
    model.fit(x, np.arange(8) % 3, epochs=1, batch_size=8, verbose=0)
    source = os.path.join(folder, "source.h5")
    model.save(source)
    with open(source, "rb") as f:
        data = f.read()
    outcomes = Counter()
    for k, damaged in enumerate(_damaged_copies(data, random.Random(SEED))):
        path = os.path.join(folder, f"case_{k}.h5")
        with open(path, "wb") as f:
            f.write(damaged)
        outcomes[_outcome(lambda p=path: fcnet.models.load_model(p), path)] += 1
        outcomes[_outcome(lambda p=path: model.load_weights(p), path)] += 1
    print(json.dumps(dict(outcomes)))


if __name__ == "__main__":
    _run_cases(sys.argv[1])
