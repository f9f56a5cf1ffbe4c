"""Arrays that one step of ``fit`` or batch of ``predict`` hands on to the next (DESIGN §5:
activations are allocated once per batch shape).

    arrays = workspace.Workspace()          # a loop over batches
    for xb in batches:
        with arrays.batch():                 # its large products write into arrays.empty(...)
            y = workspace.kept(forward(xb))  # (and backward, in a fit)

Within ``batch()``, the k-th ``empty(shape, dtype)`` returns the array that the k-th of
the batch before got, where shape and dtype match, else a new one kept for the batches
after. The arrays of a batch are dead once it is done: a forward (and backward) pass
keeps nothing of its products past its batch, and its outputs, which outlive it (what
``predict`` returns, what the metrics see), are copied where they are one of them
(``kept``). Outside the ``with`` block (the callbacks between batches), products get new
arrays.

Why: glibc gives an array larger than its mmap threshold fresh pages from the system,
and returns them when the array is freed, or when freed arrays at the top of its heap
add up to more than its trim threshold (twice the largest block freed so far). A forward
pass of two 1,024 × 512 float32 products (2 MB each, both alive at once) crossed it at
every batch: ``predict`` of B's 784-512-512-10 network on 10,000 samples at batch 1,024
took 8,928 page faults a call, and 85-97 ms against 72-81 ms without them. Its fit at
batch 1,024 took 1,893 page faults a step (207 with the products reused: the rest are
element-wise temporaries), and 0.87-0.89 of the time without them; at batch 256,
1,044 (none) and 0.80-0.89. At batch 128 (256 KiB products) glibc's threshold, raised
by the first frees, kept them on its heap: no faults either way.

Only arrays of at least ``MIN_ENTRIES`` entries come from here: smaller ones come from
glibc's heap without faults. The arrays are per thread: two threads predicting at once
each have their own.
"""

from __future__ import annotations

import contextlib
import math
import threading

import numpy

MIN_ENTRIES = 32768  # 128 KiB of float32: glibc's first mmap threshold


class _Local(threading.local):
    workspace = None  # each thread's; a class default, so reading it never misses


_local = _Local()


class Workspace:
    """The arrays of the batches of one loop, handed out in request order."""

    def __init__(self):
        self._arrays: list[numpy.ndarray] = []
        self._next = 0

    @contextlib.contextmanager
    def batch(self):
        """The calling thread's products take their outputs from here, from the first
        array on, until the block ends (then the workspace before, if any, is back)."""
        outer = _local.workspace
        _local.workspace, self._next = self, 0
        try:
            yield
        finally:
            _local.workspace = outer

    def empty(self, shape: tuple, dtype) -> numpy.ndarray:
        """An uninitialised C-contiguous array: the previous batch's at this position
        where shape and dtype match and it is still writeable (a subclassed model's
        recorded outputs are made read-only), else a new one that takes its place."""
        k, self._next = self._next, self._next + 1
        if k < len(self._arrays):
            array = self._arrays[k]
            if array.shape == shape and array.dtype == dtype and array.flags.writeable:
                return array
        array = numpy.empty(shape, dtype)
        if k < len(self._arrays):
            self._arrays[k] = array
        else:
            self._arrays.append(array)
        return array

    def holds(self, array) -> bool:
        """Whether ``array`` may share memory with one of these arrays."""
        return isinstance(array, numpy.ndarray) and any(
            numpy.may_share_memory(array, own) for own in self._arrays)


def output(a, b) -> numpy.ndarray | None:
    """An array for the product ``a (..., M, K) · b (K, N)`` from the calling thread's
    workspace; None outside ``Workspace.batch()``, for other operands (NumPy then
    allocates, or names the mismatch), or for fewer than ``MIN_ENTRIES`` entries."""
    workspace = _local.workspace
    if workspace is None or not (b.ndim == 2 and a.ndim >= 2 and a.shape[-1] == b.shape[0]):
        return None
    shape = a.shape[:-1] + b.shape[1:]
    if math.prod(shape) < MIN_ENTRIES:
        return None
    return workspace.empty(shape, numpy.result_type(a, b))


def kept(array):
    """``array``, or a copy of it where the calling thread's workspace holds it: an
    output that outlives its batch (what ``predict`` returns, what a metric may keep)."""
    workspace = _local.workspace
    return numpy.copy(array) if workspace is not None and workspace.holds(array) else array
