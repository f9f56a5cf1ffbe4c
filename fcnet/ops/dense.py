"""The affine map of a Dense layer and its three gradients.

Forward:   z = x · W + b            x: (batch, ..., d_in), W: (d_in, units), b: (units,)
Backward:  dW = Σ_batch xᵀ · dz     (every leading axis counts as a batch axis)
           db = Σ_batch dz
           dx = dz · Wᵀ
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet.backend import few_rows, thread_team, workspace


def matmul(a, b, out=None):
    """``a · b`` (into ``out``): on NumPy, a few rows by a large ``b`` (one sample through
    ``predict``, or its default batch of 32) share ``b``'s columns between the threads
    (``fcnet.backend.few_rows``); other products go through ``fcnet.backend.thread_team``,
    which shares the blocks of a large 2-D product between its threads while the BLAS
    thread governor has it on (a part-busy machine); else the array library's product.

    A product over one term (``a (..., M, 1) · b (1, N)``: one input feature, one output
    unit's input gradient, a batch of one's kernel gradient) is the outer product
    ``a_m · b_n``, the same bits as ``numpy.matmul``'s, which runs it without BLAS and 2-3×
    slower than a broadcast multiply. A stack ``a (B, ..., M, K) · b (K, N)`` (a Dense
    layer on sequences) is one product of all of ``a``'s rows (``_rows``). Within a step
    of ``fit`` or a batch of ``predict``, a large product's output is the array the one
    before used (``fcnet.backend.workspace``)."""
    if backend.xp is numpy:
        fresh = out is None
        if fresh:
            out = workspace.output(a, b)
        if b.ndim == 2 and b.shape[0] == 1 and a.ndim >= 2 and a.shape[-1] == 1:
            return numpy.multiply(a, b, out=out)
        if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous and (out is None or (
                out.flags.c_contiguous and out.shape == a.shape[:-1] + b.shape[1:])):
            return _rows(a, b, out)
        y = few_rows.matmul(a, b, out) if fresh else None
        return thread_team.matmul(a, b, out=out) if y is None else y
    return backend.xp.matmul(a, b, out=out)


def _rows(a, b, out):
    """``a (..., K) · b (K, N)`` as one product of all of ``a``'s rows, a C-contiguous
    ``a`` seen as ``(rows, K)``: NumPy's ``matmul`` runs one product per leading index,
    1.7-1.9× slower for a batch of sequences. Equal to it to float32 rounding (BLAS may
    take another kernel path for more rows)."""
    rows = a.reshape(math.prod(a.shape[:-1]), a.shape[-1])
    y = matmul(rows, b, out=None if out is None else out.reshape(rows.shape[0], b.shape[1]))
    return y.reshape(a.shape[:-1] + (b.shape[1],)) if out is None else out


def dense_forward(x, kernel, bias=None):
    """``z = x · kernel + bias``; a rank > 2 ``x`` is contracted on its last axis only."""
    z = matmul(x, kernel)
    if bias is not None:
        z += bias  # in place: z is a fresh array
    return z


def dense_backward(x, dz, kernel, use_bias: bool = True, need_dx: bool = True,
                   dkernel=None, dbias=None):
    """``(dkernel, dbias, dx)`` for ``z = x · kernel + bias``; None for what is not needed.

    ``dkernel`` / ``dbias``, when given, receive the gradients in place (no temporaries).
    """
    dkernel = dense_kernel_gradient(x, dz, out=dkernel)
    dbias = dense_bias_gradient(dz, out=dbias) if use_bias else None
    dx = dense_input_gradient(dz, kernel) if need_dx else None
    return dkernel, dbias, dx


def dense_kernel_gradient(x, dz, out=None):
    """``dW = xᵀ · dz``: dL/dW_ij = Σ_n x_ni dz_nj (every leading axis is a batch axis)."""
    if x.ndim != 2:
        x, dz = x.reshape(-1, x.shape[-1]), dz.reshape(-1, dz.shape[-1])
    return matmul(x.T, dz, out=out)


def dense_bias_gradient(dz, out=None):
    """``db = Σ_batch dz``: dL/db_j = Σ_n dz_nj."""
    return dz.reshape(-1, dz.shape[-1]).sum(axis=0, out=out)


def dense_input_gradient(dz, kernel):
    """``dx = dz · kernelᵀ``: dL/dx_ni = Σ_j dz_nj W_ij (each row of dz on its own)."""
    return matmul(dz, kernel.T)
