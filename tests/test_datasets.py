"""Keras's image and housing datasets read from small files written in Keras's cache
formats into a temporary KERAS_HOME: shapes, dtypes, split and labels as real Keras's
loaders return them from the same files (no network anywhere)."""

import pickle
import urllib.error

import numpy as np
import pytest
from dataset_files import (
    accept,
    assert_same,
    datasets_dir,
    keras_loader,
    write_cifar_batch,
    write_idx,
)

from fcnet.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    mnist,
)
from fcnet.utils import file_utils

RNG = np.random.default_rng(0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(origin, path):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(file_utils, "_fetch", offline)
    return tmp_path


@pytest.fixture
def mnist_file(home, monkeypatch):
    path = datasets_dir(home) / "mnist.npz"
    arrays = {"x_train": RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8),
              "y_train": RNG.integers(0, 10, 12, dtype=np.uint8),
              "x_test": RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "y_test": RNG.integers(0, 10, 5, dtype=np.uint8)}
    np.savez(path, **arrays)
    accept(monkeypatch, path)
    return path, arrays


def test_mnist(mnist_file, monkeypatch):
    path, arrays = mnist_file
    (x_train, y_train), (x_test, y_test) = ours = mnist.load_data()
    assert x_train.shape == (12, 28, 28) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert_same(ours, keras_loader("mnist", path, monkeypatch).load_data())


def test_missing_file_offline_names_file_and_folder(home):
    with pytest.raises(OSError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "'mnist.npz'" in message and str(home / "datasets") in message
    assert "storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in message


def test_wrong_hash_refused_and_not_kept(home):
    path = datasets_dir(home) / "mnist.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))  # not Keras's published file
    with pytest.raises(OSError, match="mnist.npz"):
        mnist.load_data()
    assert not path.exists()


def test_fashion_mnist(home, monkeypatch):
    folder = datasets_dir(home) / "fashion-mnist"
    folder.mkdir()
    x_train = RNG.integers(0, 256, (7, 28, 28))
    y_train = RNG.integers(0, 10, 7)
    x_test, y_test = RNG.integers(0, 256, (3, 28, 28)), RNG.integers(0, 10, 3)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y_train, labels=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train, labels=False)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test, labels=True)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test, labels=False)
    ours = fashion_mnist.load_data()
    assert ours[0][0].shape == (7, 28, 28) and ours[0][0].dtype == np.uint8
    np.testing.assert_array_equal(ours[0][0], x_train)
    np.testing.assert_array_equal(ours[1][1], y_test)
    keras = keras_loader("fashion_mnist", None, monkeypatch)
    monkeypatch.setattr(keras, "get_file",
                        lambda fname, origin, cache_subdir: str(folder / fname))
    assert_same(ours, keras.load_data())


def write_cifar10(folder, n=4):
    folder.mkdir(parents=True)
    expected_x, expected_y = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = RNG.integers(0, 10, n)
        write_cifar_batch(folder / name, data, labels)
        expected_x.append(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))
        expected_y.append(labels)
    return np.concatenate(expected_x[:5]), np.concatenate(expected_y[:5]), expected_x[5]


@pytest.mark.parametrize("layout", ["keras3", "tf_keras2"])
def test_cifar10(home, monkeypatch, layout):
    outer = datasets_dir(home) / "cifar-10-batches-py-target"
    inner = (outer if layout == "keras3" else datasets_dir(home)) / "cifar-10-batches-py"
    x_train, y_train, x_test = write_cifar10(inner)
    (xa, ya), (xb, yb) = ours = cifar10.load_data()
    assert xa.shape == (20, 32, 32, 3) and xa.dtype == np.uint8
    assert ya.shape == (20, 1) and ya.dtype == np.uint8 and yb.shape == (4, 1)
    np.testing.assert_array_equal(xa, x_train)
    np.testing.assert_array_equal(ya[:, 0], y_train)
    np.testing.assert_array_equal(xb, x_test)
    # Keras's loader preallocates 10,000 rows a batch, so its batch reader is the reference
    keras = keras_loader("cifar", inner, monkeypatch)
    data, labels = keras.load_batch(str(inner / "test_batch"))
    np.testing.assert_array_equal(ours[1][0], data.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ours[1][1][:, 0], labels)


def test_cifar10_from_archive(home, monkeypatch, tmp_path):
    import tarfile

    source = tmp_path / "src" / "cifar-10-batches-py"
    write_cifar10(source)
    folder = datasets_dir(home)
    archive = folder / "cifar-10-batches-py-target_archive"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="cifar-10-batches-py")
    accept(monkeypatch, archive, key="cifar-10-python.tar.gz")
    (xa, _), (xb, _) = cifar10.load_data()
    assert xa.shape == (20, 32, 32, 3) and xb.shape == (4, 32, 32, 3)
    assert (folder / "cifar-10-batches-py-target" / "cifar-10-batches-py" /
            "test_batch").is_file()


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100(home, monkeypatch, label_mode):
    inner = datasets_dir(home) / "cifar-100-python-target" / "cifar-100-python"
    inner.mkdir(parents=True)
    for name, n in (("train", 6), ("test", 2)):
        data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
        batch = {b"data": data, b"fine_labels": list(RNG.integers(0, 100, n)),
                 b"coarse_labels": list(RNG.integers(0, 20, n))}
        with open(inner / name, "wb") as f:  # both label sets in one file, as the real one
            pickle.dump({k: ([int(v) for v in x] if k != b"data" else x)
                         for k, x in batch.items()}, f, protocol=4)
    (xa, ya), (xb, yb) = ours = cifar100.load_data(label_mode)
    assert xa.shape == (6, 32, 32, 3) and ya.shape == (6, 1) and yb.shape == (2, 1)
    keras = keras_loader("cifar100", inner.parent, monkeypatch)
    assert_same(ours, keras.load_data(label_mode))
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data("medium")


@pytest.mark.parametrize("module, name, width", [(boston_housing, "boston_housing", 13),
                                                  (california_housing,
                                                   "california_housing", 8)])
@pytest.mark.parametrize("test_split", [0.2, 0.35])
def test_housing(home, monkeypatch, module, name, width, test_split):
    path = datasets_dir(home) / f"{name}.npz"
    x = RNG.normal(size=(50, width)).astype(np.float32)
    y = RNG.normal(size=50).astype(np.float32)
    np.savez(path, x=x, y=y)
    accept(monkeypatch, path)
    (xa, ya), (xb, yb) = ours = module.load_data(test_split=test_split, seed=7)
    cut = int(50 * (1 - test_split))
    assert xa.shape == (cut, width) and yb.shape == (50 - cut,) and xa.dtype == np.float32
    # a permutation of the rows, each x row still with its y
    rows = np.concatenate([xa, xb])
    order = [int(np.flatnonzero((x == r).all(axis=1))[0]) for r in rows]
    assert sorted(order) == list(range(50))
    np.testing.assert_array_equal(np.concatenate([ya, yb]), y[order])
    keras = keras_loader(name, path, monkeypatch)
    assert_same(ours, keras.load_data(test_split=test_split, seed=7))
    with pytest.raises(ValueError, match="test_split"):
        module.load_data(test_split=1.0)


def test_california_small_version(home, monkeypatch):
    path = datasets_dir(home) / "california_housing.npz"
    np.savez(path, x=np.arange(700 * 8, dtype=np.float32).reshape(700, 8),
             y=np.arange(700, dtype=np.float32))
    accept(monkeypatch, path)
    (xa, ya), (xb, yb) = california_housing.load_data(version="small")
    assert len(xa) + len(xb) == 600 and max(ya.max(), yb.max()) < 600
    with pytest.raises(ValueError, match="version"):
        california_housing.load_data(version="medium")
