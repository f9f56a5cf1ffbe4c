"""A product of a few rows by a large matrix, its columns shared over fcnet's threads.

    y = a · b        a: (M, K), M ≤ MAX_ROWS (32);   b: (K, N), K·N ≥ MIN_SIZE;   y: (M, N)

One sample through ``predict`` is such a product in every Dense layer: a matrix–vector
product, bound by how fast ``b`` is read, which OpenBLAS runs on one thread. So is the
input gradient ``dx = dz · kernelᵀ`` of a fit at a small batch: ``b`` may be a
transposed view, which BLAS reads as it is. Where ``b`` is larger than one core's L2
cache, that core reads it from farther away at every call; cut into one block of columns
per thread, each thread reads only its block (784-512-512-10, one sample: the products
took 111 µs on one core, 52–63 µs on two). ``fcnet._pool.columns`` runs each block as a
call of BLAS's own gemm on the threads of ``fcnet._pool`` (``fcnet/_pool.c``). Every entry of
``y`` is still one BLAS sum over K; BLAS's kernels for a block and for the whole product
may differ, so results agree with ``numpy.matmul`` to float32 rounding.

It runs only where every condition holds, else ``matmul`` returns None and the caller
runs ``numpy.matmul``: ``fcnet._pool`` is built, ``FCNET_FUSED`` is not ``"0"`` (read at
each call, as for the other compiled kernels), the pool serves OpenBLAS
(``fcnet.backend.blas_pool.install``: otherwise OpenBLAS's own spinning threads would
share the cores with it), BLAS runs more than one thread (while the training governor
has it at one, on a crowded machine, products stay whole), and the arrays are NumPy
float32 or float64 arrays BLAS can take as they are.
"""

from __future__ import annotations

import functools

import numpy

from fcnet.backend import blas, blas_pool
from fcnet.backend.switch import fused_wanted

try:
    from fcnet import _pool
except ImportError:  # built without a C compiler
    _pool = None

# Measured on 784-512-512-10's products (2 cores, bench/few_rows.py): 0.71 of matmul's
# time at 1 row, 0.93-0.94 at 32 (predict's default batch), 0.96-1.01 from 64 rows on.
MAX_ROWS = 32
MIN_SIZE = 65536  # entries of b below which one core's cache holds it anyway

_FLOATS = (numpy.dtype("float32"), numpy.dtype("float64"))  # native byte order


@functools.cache
def _functions():
    """``fcnet.backend.blas.addresses("f")`` where the blocks can run in this process:
    ``fcnet._pool`` built and serving NumPy's OpenBLAS (installed here, once); else None."""
    functions = blas.addresses("f")
    if (_pool is None or not hasattr(_pool, "columns") or functions is None
            or not blas_pool.install()):
        return None
    return functions


def ready() -> bool:
    """Whether the blocks can run in this process (see ``_functions``)."""
    return _functions() is not None


def matmul(a, b, out=None):
    """``a · b`` (into ``out``, a C-contiguous ``(M, N)`` array of their dtype, or a new
    array), its columns shared over the threads; None where that does not apply (see the
    module's conditions)."""
    if not (type(a) is numpy.ndarray and type(b) is numpy.ndarray and a.ndim == b.ndim == 2
            and 0 < a.shape[0] <= MAX_ROWS and b.size >= MIN_SIZE
            and a.dtype == b.dtype and a.dtype in _FLOATS and a.shape[1] == b.shape[0]
            and a.strides[1] == a.itemsize  # a not a transposed view; b may be one
            and a.itemsize in b.strides):   # (BLAS takes it transposed: dz · kernelᵀ)
        return None
    functions = _functions()  # one BLAS thread (the governor's crowded-machine mode) first;
    # a count held at one by another thread's blocks meanwhile is not what BLAS runs
    if (functions is None or _pool.blas_threads(functions[2]) < 2
            or not fused_wanted()):
        return None
    y = numpy.empty((a.shape[0], b.shape[1]), dtype=a.dtype) if out is None else out
    # False: BLAS runs one thread now, b has too few columns to cut, or BLAS cannot take
    # a or b as they are (overlapping rows)
    return y if _pool.columns(*blas.addresses(a.dtype.char), a, b, y) else None
