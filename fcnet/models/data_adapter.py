"""Turns what users pass to ``fit``/``evaluate``/``predict`` into batches.

NumPy arrays are checked and converted once (float32 inputs, 1-D inputs expanded to
``(n, 1)``, NaN and inf refused), split for validation (the **last** fraction, before
shuffling, as Keras does), shuffled once per epoch and then cut into contiguous views,
so a step costs no copy. Inputs may be one array or a list or dict of arrays (a model
with several inputs); targets and sample weights arrive as one list per output.
Python generators and ``PyDataset`` objects yield their own batches.
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet.backend import tree


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


def is_structure(x) -> bool:
    """A dict, tuple, or list of arrays (several inputs), not a nested list of numbers."""
    return isinstance(x, (dict, tuple)) or (
        isinstance(x, list) and bool(x) and hasattr(x[0], "shape"))


def as_inputs(x, name: str = "x", model=None):
    """``as_input_array`` on one array, or on each array of a list or dict; where
    ``model`` declares an input of an integer or string dtype (``Input(dtype="int64")``),
    that input keeps it."""
    dtypes = declared_dtypes(model, x)
    if isinstance(x, dict):
        dtypes = dtypes if isinstance(dtypes, dict) else {}
        return {k: _as_input(x[k], name, dtypes.get(k)) for k in sorted(x)}
    if is_structure(x):
        dtypes = dtypes if isinstance(dtypes, list) else [None] * len(x)
        return type(x)(_as_input(a, name, d) for a, d in zip(x, dtypes))
    return as_input_array(x, name, dtypes)


def _as_input(a, name, dtype):
    if is_structure(a):
        return tree.map_structure(lambda leaf: as_input_array(leaf, name), a)
    return as_input_array(a, name, dtype)


def declared_dtypes(model, x):
    """The dtypes of ``model``'s inputs, shaped as ``x`` (a dict keyed as the model
    reads it, a list, or one dtype); None where the model declares none."""
    if model is None:
        return None
    try:
        tensors = list(model.inputs)
    except Exception:  # an unbuilt or subclassed model: nothing declared
        return None
    dtypes = [getattr(t.source, "dtype", None) or t.dtype for t in tensors]
    if isinstance(x, dict):
        struct = getattr(model, "_inputs_struct", None)
        keys = sorted(struct) if isinstance(struct, dict) else list(
            getattr(model, "input_names", []))
        return dict(zip(keys, dtypes))
    if is_structure(x):
        return dtypes if len(dtypes) == len(x) else None
    return dtypes[0] if len(dtypes) == 1 else None


def _kind_of(dtype) -> str | None:
    """"string", "int" or None (a float input, or none declared)."""
    if dtype is None:
        return None
    name = str(dtype)
    if name in ("string", "str", "object") or name.startswith(("<U", "|S")):
        return "string"
    if name.startswith(("int", "uint")):
        return "int"
    return None


def as_input_array(x, name: str = "x", dtype=None):
    """A float32 array with a batch axis; a 1-D array becomes ``(n, 1)``.

    Where ``dtype`` (the model input's declared dtype) is an integer dtype the array is
    cast to it; string arrays pass as they are unless the input is declared float."""
    array = numpy.asarray(backend.to_numpy(x))
    kind = _kind_of(dtype)
    if array.dtype.kind in "USO" and (kind == "string" or dtype is None):
        return _batched(array, name)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data for `{name}`, received an array of dtype "
                        f"{array.dtype}.")
    array = _batched(array, name)
    if kind == "int":
        return numpy.ascontiguousarray(array, dtype=str(dtype))
    return numpy.ascontiguousarray(array, dtype=backend.floatx())


def _batched(array, name: str):
    if array.ndim == 0:
        raise ValueError(f"Expected `{name}` with a batch axis, received a scalar: {array!r}")
    return array[:, None] if array.ndim == 1 else array


def as_target_array(y):
    """Targets: floats become float32, integer labels stay integers."""
    array = numpy.asarray(backend.to_numpy(y))
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data for `y`, received an array of dtype "
                        f"{array.dtype}.")
    if array.dtype.kind in "fb":
        array = array.astype(backend.floatx())
    return numpy.ascontiguousarray(array)


def check_lengths(*arrays) -> int:
    """The common number of samples; different counts raise naming every count."""
    sizes = [(name, len(a)) for name, a in arrays if a is not None]
    if len({size for _, size in sizes}) > 1:
        detail = ", ".join(f"{name} sizes: {size}" for name, size in sizes)
        raise ValueError(f"Data cardinality is ambiguous: {detail}. Make sure all arrays "
                         "contain the same number of samples.")
    return sizes[0][1]


def split_validation(arrays, validation_split: float):
    """``(train, val)``: the last ``validation_split`` fraction, before any shuffling.

    ``arrays`` is ``(x, ys, sample_weights)``."""
    if not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be in the interval (0, 1). "
                         f"Received: validation_split={validation_split}")
    n = len(tree.flatten(arrays[0])[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by `validation_split={validation_split}`."
            " Either provide more data, or a different value for the `validation_split` "
            "argument.")
    return _rows(arrays, slice(None, split_at)), _rows(arrays, slice(split_at, None))


def _rows(arrays, rows):
    x, ys, sws = arrays
    take = _take(rows)
    return (tree.map_structure(take, x), [take(y) for y in ys],
            None if sws is None else [take(w) for w in sws])


def _take(rows):
    return lambda a: None if a is None else a[rows]


def check_finite(array, name: str) -> None:
    """NaN or inf in floating data raises, naming the argument and the count.

    First one BLAS dot product of the data with itself, ``Σ x²``, which is finite exactly
    when every entry is, unless the sum overflows (one float32 entry beyond about 1.8e19
    is enough): 0.4 of the time of an element-wise ``isfinite`` on 60,000×784 floats,
    and no mask is made. Only where that sum is not finite is each entry checked.
    """
    if array is None or array.dtype.kind != "f":
        return
    if array.dtype.itemsize >= 4 and array.flags.c_contiguous:
        flat = array.reshape(-1)
        with numpy.errstate(over="ignore", invalid="ignore"):
            if numpy.isfinite(numpy.dot(flat, flat)):
                return
    finite = numpy.isfinite(array)
    if not finite.all():
        bad = int(finite.size - finite.sum())
        raise ValueError(f"`{name}` contains {bad} non-finite value(s) (NaN or inf); fcnet "
                         "would train on them silently to NaN weights. Clean or impute them "
                         "first.")


def check_not_empty(x, name: str = "x") -> None:
    for array in tree.flatten(x):
        if len(array) == 0:
            raise ValueError(f"Expected `{name}` to hold at least one sample. Received: "
                             f"`{name}` of shape {array.shape} (0 samples).")


def as_arrays(x, ys, sample_weights=None, class_weight=None, check=True, model=None):
    """``(x, ys, sample_weights)`` checked and converted once: float32 inputs (integer
    or string ones where ``model`` declares them), finite values, equal lengths, class
    weights folded into the sample weights.

    ``ys`` and ``sample_weights`` are lists with one entry per output (None where an
    output has none); ``sample_weights`` may also be None.
    """
    if ys is None or all(y is None for y in ys):
        raise ValueError("Targets are missing: pass `y` along with `x`.")
    x = as_inputs(x, model=model)
    ys = [None if y is None else as_target_array(y) for y in ys]
    if sample_weights is not None:
        sample_weights = [None if w is None else numpy.asarray(backend.to_numpy(w),
                                                                backend.floatx())
                          for w in sample_weights]
    if check:
        check_not_empty(x)
        for array in tree.flatten(x):
            check_finite(array, "x")
        for y in ys:
            check_finite(y, "y")
        for w in sample_weights or []:
            check_finite(w, "sample_weight")
    check_lengths(*[("x", a) for a in tree.flatten(x)], *[("y", y) for y in ys],
                  *[("sample_weight", w) for w in sample_weights or []])
    if class_weight is not None:
        if len(ys) != 1:
            raise ValueError("`class_weight` is only supported for models with a single "
                             f"output; this model has {len(ys)}.")
        weights = class_weights_to_sample_weights(ys[0], class_weight)
        current = sample_weights[0] if sample_weights else None
        sample_weights = [weights if current is None else current * weights]
    return x, ys, sample_weights


def class_weights_to_sample_weights(y, class_weight: dict):
    """Per-sample weights from ``{class: weight}``; one-hot targets use their argmax."""
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y))
    labels = labels.astype(numpy.int64)
    table = numpy.ones(int(max(max(class_weight), labels.max())) + 1, backend.floatx())
    for cls, weight in class_weight.items():
        table[int(cls)] = weight
    return table[labels]


def to_device(*parts):
    """The batch's arrays (structures of them) on the backend's device (CuPy), once per
    batch; None stays None, and so do strings (the lookup layers read them in host
    memory). On NumPy the parts are returned as they are."""
    xp = backend.xp
    if xp is numpy:
        return parts
    return tuple(tree.map_structure(
        lambda a: a if a is None or a.dtype.kind in "USO" else xp.asarray(a), part)
        for part in parts)


class ArrayBatches:
    """Contiguous batches of ``(x, ys, sample_weights)``, reshuffled each epoch when
    ``shuffle``; ``x`` may be a structure, ``ys``/``sample_weights`` are lists."""

    raw = False  # the batches are converted and matched to the outputs already

    def __init__(self, arrays, batch_size: int, shuffle: bool = False, rng=None, shard=None):
        x, ys, sws = arrays
        self.x_structure = x if tree.is_nested(x) else None
        self.leaves = tree.flatten(x) + list(ys) + list(sws or [])
        self.nx, self.ny, self.with_weights = len(tree.flatten(x)), len(ys), sws is not None
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng
        self.n = len(self.leaves[0])
        self.steps = math.ceil(self.n / batch_size)
        self.order = None  # the current epoch's permutation (None: data order)
        # Data parallel: (rank, world_size); each batch then holds this process's rows
        # of the global batch, and `window` is (start, stop, global batch rows).
        self.shard = shard
        self.window = None

    def epoch(self, order=None, start: int = 0):
        """Yields ``(x, ys, sample_weights)`` batches; shuffled batches are gathered one at
        a time (``a[order[start:stop]]``), never as a shuffled copy of the whole data.

        Args:
            order: the epoch's permutation of the samples, to resume an epoch; by default
                a new one is drawn from ``rng`` when ``shuffle`` (kept in ``self.order``).
            start: the index of the first batch to yield (the batches before it are done).
        """
        if order is None and self.shuffle:
            order = self.rng.permutation(self.n)
        self.order = order
        size, nx, ny = self.batch_size, self.nx, self.ny
        for first in range(start * size, self.n, size):
            rows = slice(first, first + size) if order is None else order[first:first + size]
            if self.shard is not None:
                rows = self._shard_rows(rows, first)
            batch = [None if a is None else a[rows] for a in self.leaves]
            x = batch[0] if self.x_structure is None else tree.pack_sequence_as(
                self.x_structure, batch[:nx])
            yield x, batch[nx:nx + ny], batch[nx + ny:] if self.with_weights else None


    def _shard_rows(self, rows, first):
        total = min(self.batch_size, self.n - first)
        rank, world_size = self.shard
        start, stop = total * rank // world_size, total * (rank + 1) // world_size
        self.window = (start, stop, total)
        if isinstance(rows, slice):
            return slice(first + start, first + stop)
        return rows[start:stop]


class IterableBatches:
    """Batches from a PyDataset, or a generator / iterable of tuples."""

    raw = True  # the targets are as the source gives them

    def __init__(self, source, steps=None, shard=None):
        self.source = source
        self.shard = shard  # as ArrayBatches's: every process reads every batch
        self.window = None
        self.steps = steps if steps is not None else (
            len(source) if isinstance(source, PyDataset) else None)
        self._iterator = None

    def epoch(self, start: int = 0):
        """Yields the epoch's batches from batch ``start`` on: a PyDataset is indexed from
        there; a generator's first ``start`` batches are drawn and dropped."""
        if isinstance(self.source, PyDataset):
            for i in range(start, self.steps):
                yield self._local(_unpack(self.source[i]))
            self.source.on_epoch_end()
            return
        if self._iterator is None or self.steps is None:
            self._iterator = iter(self.source)
        for i, item in enumerate(self._iterator):
            if i < start:
                continue
            yield self._local(_unpack(item))
            if self.steps is not None and i + 1 >= self.steps:
                return

    def _local(self, batch):
        """This process's rows of a global batch (the whole batch without a shard)."""
        if self.shard is None:
            return batch
        total = len(tree.flatten(batch[0])[0])
        rank, world_size = self.shard
        start, stop = total * rank // world_size, total * (rank + 1) // world_size
        self.window = (start, stop, total)
        return tuple(None if part is None else tree.map_structure(
            lambda a: numpy.asarray(a)[start:stop], part) for part in batch)


def _unpack(item):
    """``(x, y, sample_weight)`` as a generator or PyDataset gives it (raw targets)."""
    if not isinstance(item, tuple):
        return as_inputs(item), None, None
    x, y, sw = (tuple(item) + (None, None))[:3]
    return as_inputs(x), y, sw


def check_batch_size(batch_size) -> int:
    """``batch_size`` checked (32 when None, as Keras)."""
    if batch_size is None:
        return 32
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer. Received: "
                         f"batch_size={batch_size}")
    return batch_size


def is_iterator(x) -> bool:
    """Whether ``x`` is a generator or iterable of batches (not arrays with a length)."""
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__len__")
                                       and not isinstance(x, (str, bytes)))
