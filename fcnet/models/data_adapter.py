"""Turns what users pass to ``fit``/``evaluate``/``predict`` into batches.

NumPy arrays are checked and converted once (float32 inputs, 1-D inputs expanded to
``(n, 1)``), split for validation (the **last** fraction, before shuffling, as Keras
does), shuffled once per epoch and then cut into contiguous views, so a step costs
no copy. Python generators and ``PyDataset`` objects yield their own batches.
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend


class PyDataset:
    """Base class for datasets that produce whole batches (``keras.utils.PyDataset``).

    Subclasses define ``__len__`` (batches per epoch) and ``__getitem__(index)``
    returning ``(x, y)`` or ``(x, y, sample_weight)``; ``on_epoch_end`` runs after
    each epoch.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        pass

    @property
    def num_batches(self):
        return len(self)


def as_input_array(x, name: str = "x"):
    """A float32 array with a batch axis; a 1-D array becomes ``(n, 1)``."""
    if isinstance(x, (dict, tuple)) or (isinstance(x, list) and x and hasattr(x[0], "shape")):
        raise TypeError(f"fcnet models take one input array. Received: {name} of type "
                        f"{type(x).__name__}")
    array = numpy.asarray(backend.to_numpy(x))
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data for `{name}`, received an array of dtype "
                        f"{array.dtype}.")
    if array.ndim == 0:
        raise ValueError(f"Expected `{name}` with a batch axis, received a scalar: {array!r}")
    if array.ndim == 1:
        array = array[:, None]
    return numpy.ascontiguousarray(array, dtype=backend.floatx())


def as_target_array(y):
    """Targets: floats become float32, integer labels stay integers."""
    array = numpy.asarray(y)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data for `y`, received an array of dtype "
                        f"{array.dtype}.")
    if array.dtype.kind in "fb":
        array = array.astype(backend.floatx())
    return numpy.ascontiguousarray(array)


def check_lengths(*arrays) -> int:
    """The common number of samples; different counts raise naming every count."""
    sizes = {name: len(a) for name, a in arrays if a is not None}
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"{name} sizes: {size}" for name, size in sizes.items())
        raise ValueError(f"Data cardinality is ambiguous: {detail}. Make sure all arrays "
                         "contain the same number of samples.")
    return next(iter(sizes.values()))


def split_validation(arrays, validation_split: float):
    """``(train, val)``: the last ``validation_split`` fraction, before any shuffling."""
    if not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be in the interval (0, 1). "
                         f"Received: validation_split={validation_split}")
    n = len(arrays[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by `validation_split={validation_split}`."
            " Either provide more data, or a different value for the `validation_split` "
            "argument.")
    train = tuple(None if a is None else a[:split_at] for a in arrays)
    val = tuple(None if a is None else a[split_at:] for a in arrays)
    return train, val


def as_arrays(x, y, sample_weight=None, class_weight=None):
    """``(x, y, sample_weight)`` checked and converted once: float32 inputs, equal
    lengths, class weights folded into the sample weights."""
    if y is None:
        raise ValueError("Targets are missing: pass `y` along with `x`.")
    x, y = as_input_array(x), as_target_array(y)
    if sample_weight is not None:
        sample_weight = numpy.asarray(sample_weight, backend.floatx())
    check_lengths(("x", x), ("y", y), ("sample_weight", sample_weight))
    if class_weight is not None:
        weights = class_weights_to_sample_weights(y, class_weight)
        sample_weight = weights if sample_weight is None else sample_weight * weights
    return x, y, sample_weight


def class_weights_to_sample_weights(y, class_weight: dict):
    """Per-sample weights from ``{class: weight}``; one-hot targets use their argmax."""
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y))
    labels = labels.astype(numpy.int64)
    table = numpy.ones(int(max(max(class_weight), labels.max())) + 1, backend.floatx())
    for cls, weight in class_weight.items():
        table[int(cls)] = weight
    return table[labels]


def to_device(*arrays):
    """The batch's arrays on the backend's device (CuPy), once per batch; None stays None.

    On NumPy the arrays are returned as they are.
    """
    xp = backend.xp
    if xp is numpy:
        return arrays
    return tuple(None if a is None else xp.asarray(a) for a in arrays)


class ArrayBatches:
    """Contiguous batches over arrays, reshuffled each epoch when ``shuffle``."""

    def __init__(self, arrays, batch_size: int, shuffle: bool = False, rng=None):
        self.arrays = arrays
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng
        self.n = len(arrays[0])
        self.steps = math.ceil(self.n / batch_size)

    def epoch(self):
        """Yields ``(x, y, sample_weight)`` batches; shuffled batches are gathered one at a
        time (``a[order[start:stop]]``), never as a shuffled copy of the whole data."""
        order = self.rng.permutation(self.n) if self.shuffle else None
        size = self.batch_size
        for start in range(0, self.n, size):
            rows = slice(start, start + size) if order is None else order[start:start + size]
            yield tuple(None if a is None else a[rows] for a in self.arrays)


class IterableBatches:
    """Batches from a PyDataset, or a generator / iterable of tuples."""

    def __init__(self, source, steps=None):
        self.source = source
        self.steps = steps if steps is not None else (
            len(source) if isinstance(source, PyDataset) else None)
        self._iterator = None

    def epoch(self):
        if isinstance(self.source, PyDataset):
            for i in range(self.steps):
                yield _unpack(self.source[i])
            self.source.on_epoch_end()
            return
        if self._iterator is None or self.steps is None:
            self._iterator = iter(self.source)
        for i, item in enumerate(self._iterator):
            yield _unpack(item)
            if self.steps is not None and i + 1 >= self.steps:
                return


def _unpack(item):
    if not isinstance(item, tuple):
        return as_input_array(item), None, None
    x, y, sw = (tuple(item) + (None, None))[:3]
    return (as_input_array(x), None if y is None else as_target_array(y),
            None if sw is None else numpy.asarray(sw, backend.floatx()))
