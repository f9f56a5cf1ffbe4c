"""MNIST: 70,000 handwritten digits of 28×28 pixels, as ``keras.datasets.mnist``."""

from __future__ import annotations

from fcnet.datasets import _cache


def load_data(path: str = "mnist.npz"):
    """Loads MNIST from Keras's cache (``$KERAS_HOME/datasets/mnist.npz`` or
    ``~/.keras/datasets/mnist.npz``), downloading it there when missing.

    Args:
        path: the file's name in the cache folder.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape ``(60000, 28, 28)``
        and ``(10000, 28, 28)`` (grey levels 0–255), ``y`` uint8 digits 0–9 of shape
        ``(60000,)`` and ``(10000,)``.

    Example:
        ```python
        (x_train, y_train), (x_test, y_test) = fcnet.datasets.mnist.load_data()
        ```
    """
    path = _cache.fetch(path, origin_name="mnist.npz")
    arrays = _cache.load_npz(path)
    x_train, y_train, x_test, y_test = _cache.require(
        arrays, ("x_train", "y_train", "x_test", "y_test"), path)
    return (x_train, y_train), (x_test, y_test)
