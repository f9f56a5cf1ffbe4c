"""Small files in Keras's cache formats, written by the dataset tests, and the same
files read by real Keras's loaders (their ``get_file`` pointed at the file) for the
expected results."""

import gzip
import hashlib
import importlib
import importlib.util
import os
import pickle
import struct

import numpy as np
import pytest

from fcnet.datasets import _cache


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def accept(monkeypatch, path, key=None):
    """The loaders check Keras's published hashes: make ``path``'s the expected one."""
    monkeypatch.setitem(_cache.FILE_HASHES, key or os.path.basename(path), sha256(path))


def datasets_dir(home):
    folder = home / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def object_array(lists):
    out = np.empty(len(lists), dtype=object)
    out[:] = lists
    return out


def write_idx(path, array, labels):
    """A gzip IDX file: magic and sizes (big-endian int32), then the uint8 bytes."""
    if labels:
        header = struct.pack(">ii", 2049, len(array))
    else:
        header = struct.pack(">iiii", 2051, len(array), 28, 28)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_cifar_batch(path, data, labels, label_key=b"labels", protocol=4):
    batch = {b"batch_label": b"test batch", label_key: [int(v) for v in labels],
             b"data": data, b"filenames": [b"x.png"] * len(data)}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


def keras_loader(module, path, monkeypatch):
    """Real Keras's ``keras.src.datasets.<module>`` with ``get_file`` returning ``path``;
    skips where Keras is not importable."""
    os.environ.setdefault("KERAS_BACKEND", "jax" if importlib.util.find_spec("jax") else "numpy")
    pytest.importorskip("keras")
    mod = importlib.import_module(f"keras.src.datasets.{module}")
    monkeypatch.setattr(mod, "get_file", lambda *a, **k: str(path), raising=False)
    return mod


def assert_same(ours, theirs):
    """Two ``((x, y), (x, y))`` results are equal in shapes, dtypes and values."""
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        for a, b in ((xa, xb), (ya, yb)):
            assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape,
                                                               b.dtype)
            if a.dtype == object:
                assert [list(v) for v in a] == [list(v) for v in b]
            else:
                np.testing.assert_array_equal(a, b)
