"""Fashion-MNIST: 70,000 clothing images of 28×28 pixels in 10 classes, as
``keras.datasets.fashion_mnist``.

| label | class | label | class |
|---|---|---|---|
| 0 | T-shirt/top | 5 | Sandal |
| 1 | Trouser | 6 | Shirt |
| 2 | Pullover | 7 | Sneaker |
| 3 | Dress | 8 | Bag |
| 4 | Coat | 9 | Ankle boot |
"""

from __future__ import annotations

import gzip
import os

import numpy

from fcnet.datasets import _cache

FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _idx(path, header: int):
    """The bytes after an IDX header (8 bytes for labels, 16 for images) as uint8."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} is not a gzip-compressed IDX file ({error}).") from None
    if len(raw) < header:
        raise ValueError(f"{path} is shorter than its {header}-byte IDX header.")
    return numpy.frombuffer(raw, numpy.uint8, offset=header)


def load_data():
    """Loads Fashion-MNIST from Keras's cache folder ``datasets/fashion-mnist`` (four
    gzip IDX files), downloading the files there when missing.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` uint8 of shape ``(60000, 28, 28)``
        and ``(10000, 28, 28)``, ``y`` uint8 labels 0–9 of shape ``(60000,)`` and
        ``(10000,)``.
    """
    paths = [_cache.fetch(name, cache_subdir=os.path.join("datasets", "fashion-mnist"))
             for name in FILES]
    y_train, y_test = _idx(paths[0], 8), _idx(paths[2], 8)
    x_train, x_test = _idx(paths[1], 16), _idx(paths[3], 16)
    for x, y, path in ((x_train, y_train, paths[1]), (x_test, y_test, paths[3])):
        if x.size != len(y) * 28 * 28:
            raise ValueError(f"{path} holds {x.size} pixels, not the {len(y)} images of "
                             "28×28 its label file announces.")
    return ((x_train.reshape(len(y_train), 28, 28), y_train),
            (x_test.reshape(len(y_test), 28, 28), y_test))
