"""CIFAR-100: 60,000 colour images of 32×32 pixels in 100 classes grouped into 20
superclasses, as ``keras.datasets.cifar100``."""

from __future__ import annotations

import os

import numpy

from fcnet.datasets import _cifar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"


def load_data(label_mode: str = "fine"):
    """Loads CIFAR-100 from Keras's cache (``datasets/cifar-100-python-target/
    cifar-100-python/``, or tf.keras 2's ``datasets/cifar-100-python/``), downloading and
    unpacking the archive when missing.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape
        ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)`` (channels last), ``y`` int64
        labels of shape ``(50000, 1)`` and ``(10000, 1)``.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")
    path = _cifar.folder("cifar-100-python-target", "cifar-100-python", ORIGIN, "test")
    key = f"{label_mode}_labels"
    x_train, y_train = _cifar.load_batch(os.path.join(path, "train"), label_key=key)
    x_test, y_test = _cifar.load_batch(os.path.join(path, "test"), label_key=key)
    # Keras reshapes the pickled label lists, which gives NumPy's default integer.
    y_train = numpy.reshape(y_train, (len(y_train), 1))
    y_test = numpy.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
