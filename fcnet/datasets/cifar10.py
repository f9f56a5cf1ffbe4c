"""CIFAR-10: 60,000 colour images of 32×32 pixels in 10 classes, as
``keras.datasets.cifar10`` (airplane, automobile, bird, cat, deer, dog, frog, horse,
ship, truck)."""

from __future__ import annotations

import os

import numpy

from fcnet.datasets import _cifar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def load_data():
    """Loads CIFAR-10 from Keras's cache (``datasets/cifar-10-batches-py-target/
    cifar-10-batches-py/``, or tf.keras 2's ``datasets/cifar-10-batches-py/``),
    downloading and unpacking the archive when missing.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape
        ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)`` (channels last), ``y`` uint8
        labels 0–9 of shape ``(50000, 1)`` and ``(10000, 1)``.
    """
    path = _cifar.folder("cifar-10-batches-py-target", "cifar-10-batches-py", ORIGIN,
                         "test_batch")
    batches = [_cifar.load_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = numpy.concatenate([x for x, _ in batches]).astype("uint8")
    y_train = numpy.concatenate([numpy.asarray(y).reshape(-1) for _, y in batches])
    x_test, y_test = _cifar.load_batch(os.path.join(path, "test_batch"))
    y_train = y_train.astype("uint8").reshape(-1, 1)
    y_test = numpy.asarray(y_test).astype("uint8").reshape(-1, 1)
    return ((x_train.transpose(0, 2, 3, 1), y_train),
            (x_test.transpose(0, 2, 3, 1).astype("uint8"), y_test))
