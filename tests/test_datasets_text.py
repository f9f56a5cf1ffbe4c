"""IMDB and Reuters from small ``.npz`` files of object arrays written in Keras's
format: the sequences, vocabulary clipping, maxlen filter and split as real Keras's
loaders return them from the same files; the word index; hostile pickles refused."""

import json
import os
import pickle
import urllib.error

import numpy as np
import pytest
from dataset_files import accept, assert_same, datasets_dir, keras_loader, object_array

from fcnet.datasets import _cache, cifar10, imdb, reuters
from fcnet.utils import file_utils

RNG = np.random.default_rng(1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils, "_fetch", lambda origin, path: (_ for _ in ()).throw(
        urllib.error.URLError("offline")))
    return tmp_path


def sequences(n, top=30):
    return object_array([[int(v) for v in RNG.integers(1, top, RNG.integers(2, 12))]
                         for _ in range(n)])


@pytest.fixture
def imdb_file(home, monkeypatch):
    path = datasets_dir(home) / "imdb.npz"
    np.savez(path, x_train=sequences(16), y_train=RNG.integers(0, 2, 16),
             x_test=sequences(9), y_test=RNG.integers(0, 2, 9))
    accept(monkeypatch, path)
    return path


@pytest.mark.parametrize("kwargs", [
    {},
    {"num_words": 10, "skip_top": 2},
    {"maxlen": 8, "seed": 5},
    {"start_char": None, "oov_char": None, "num_words": 12, "index_from": 0},
])
def test_imdb_matches_keras(imdb_file, monkeypatch, kwargs):
    ours = imdb.load_data(**kwargs)
    (x_train, y_train), (x_test, y_test) = ours
    assert x_train.dtype == object and x_train.ndim == 1 and y_train.dtype == np.int64
    assert all(isinstance(s, list) for s in x_train)
    if "maxlen" not in kwargs:
        assert len(x_train) == 16 and len(x_test) == 9
    if kwargs.get("start_char", 1) is not None and kwargs.get("skip_top", 0) <= 1:
        assert all(s[0] == 1 for s in x_train)
    assert_same(ours, keras_loader("imdb", imdb_file, monkeypatch).load_data(**kwargs))


def test_imdb_hand_worked(home, monkeypatch):
    path = datasets_dir(home) / "imdb.npz"
    np.savez(path, x_train=object_array([[1, 2], [5, 1, 9]]), y_train=np.array([0, 1]),
             x_test=object_array([[4]]), y_test=np.array([1]))
    accept(monkeypatch, path)
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=8)
    by_label = {int(y): list(x) for x, y in zip(x_train, y_train)}
    # start_char 1, then each index + 3; 8 and 12 are outside num_words=8 -> oov_char 2
    assert by_label == {0: [1, 4, 5], 1: [1, 2, 4, 2]}
    assert list(x_test[0]) == [1, 7]
    with pytest.raises(TypeError, match="nb_words"):
        imdb.load_data(nb_words=3)


def test_imdb_word_index(home, monkeypatch):
    path = datasets_dir(home) / "imdb_word_index.json"
    path.write_text(json.dumps({"the": 1, "and": 2}))
    accept(monkeypatch, path)
    assert imdb.get_word_index() == {"the": 1, "and": 2}


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 15, "test_split": 0.3},
                                    {"maxlen": 9, "seed": 3}])
def test_reuters_matches_keras(home, monkeypatch, kwargs):
    path = datasets_dir(home) / "reuters.npz"
    np.savez(path, x=sequences(20), y=RNG.integers(0, 46, 20))
    accept(monkeypatch, path)
    ours = reuters.load_data(**kwargs)
    if not kwargs:
        assert len(ours[0][0]) == 16 and len(ours[1][0]) == 4
    assert_same(ours, keras_loader("reuters", path, monkeypatch).load_data(**kwargs))
    assert len(reuters.get_label_names()) == 46 and reuters.get_label_names()[3] == "earn"


class _Hostile:
    """Pickles to a call of os.system that would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_cifar_pickle_is_refused_and_nothing_runs(home, tmp_path):
    inner = datasets_dir(home) / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    inner.mkdir(parents=True)
    marker = tmp_path / "ran"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(inner / name, "wb") as f:
            pickle.dump({b"data": _Hostile(marker), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"Refusing to load `(posix|os)\.system`"):
        cifar10.load_data()
    assert not marker.exists()


def hostile_npy_member(marker):
    """A .npy stream whose header declares an object array and whose payload is a
    pickle calling os.system."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False,
                                                  "shape": (1,)})
    buffer.write(pickle.dumps(_Hostile(marker), protocol=2))
    return buffer.getvalue()


def test_hostile_object_array_in_npz_is_refused(home, monkeypatch, tmp_path):
    import zipfile

    marker = tmp_path / "ran"
    path = datasets_dir(home) / "reuters.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", hostile_npy_member(marker))
        zf.writestr("y.npy", hostile_npy_member(marker))
    accept(monkeypatch, path)
    with pytest.raises(ValueError, match="Refusing to load"):
        reuters.load_data()
    assert not marker.exists()


@pytest.mark.parametrize("name", ["builtins.eval", "subprocess.Popen",
                                  "numpy.testing._private.utils.runstring"])
def test_refusing_unpickler_names_the_global(name):
    import io

    module, attr = name.rsplit(".", 1)
    payload = b"\x80\x02c" + f"{module}\n{attr}\n".encode() + b"."
    with pytest.raises(pickle.UnpicklingError, match=f"`{module}.{attr}`"):
        _cache.RefusingUnpickler(io.BytesIO(payload)).load()


def test_protocol_2_pickles_from_python_3_are_read(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = tmp_path / "batch"
    with open(path, "wb") as f:
        pickle.dump({b"data": array, b"labels": [3, 4]}, f, protocol=2)
    batch = _cache.unpickle(path, encoding="bytes")
    np.testing.assert_array_equal(batch[b"data"], array)
    assert batch[b"labels"] == [3, 4]
