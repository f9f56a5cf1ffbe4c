"""Reading the CIFAR batches: Python pickles of ``{b"data": uint8 (n, 3072), b"labels":
[...]}``, read by the refusing unpickler (no code from the file runs)."""

from __future__ import annotations

import os

import numpy

from fcnet.datasets import _cache
from fcnet.utils.file_utils import keras_home


def folder(dirname: str, inner: str, origin: str, probe: str) -> str:
    """The folder holding the batches: Keras 3's layout
    (``datasets/<dirname>/<inner>``), tf.keras 2's (``datasets/<inner>``), or a fresh
    download unpacked in Keras 3's layout."""
    datadir = os.path.join(keras_home(), "datasets")
    for candidate in (os.path.join(datadir, dirname, inner), os.path.join(datadir, inner)):
        if os.path.isfile(os.path.join(candidate, probe)):
            return candidate
    return os.path.join(_cache.fetch(dirname, origin=origin, extract=True), inner)


def load_batch(fpath, label_key: str = "labels"):
    """``(data uint8 (n, 3, 32, 32), labels)`` of one pickled CIFAR batch."""
    if not os.path.isfile(fpath):
        raise FileNotFoundError(f"The CIFAR batch {fpath} is missing: the cached copy is "
                                "incomplete; delete its folder to download it again.")
    batch = _cache.unpickle(fpath, encoding="bytes")
    if not isinstance(batch, dict):
        raise ValueError(f"{fpath} does not hold a CIFAR batch (a dict).")
    batch = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"{fpath} lacks 'data' or {label_key!r}; it holds {sorted(batch)}.")
    data = numpy.asarray(batch["data"])
    if data.dtype != numpy.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{fpath}: 'data' must be uint8 rows of 3072 pixels. Received: "
                         f"{data.dtype} {data.shape}")
    return data.reshape(len(data), 3, 32, 32), batch[label_key]
