"""The compiled element-wise kernels of convolutional networks, ``fcnet._conv``, where
they are built and wanted.

NumPy runs max pooling, ``im2col``, ``col2im`` and the relu backward as many strided whole-array
passes; ``fcnet._conv`` (``fcnet/_conv.c``, an optional extension, DESIGN §4) runs each as
one loop over channels-last float32 arrays, with the reference's arithmetic in the
reference's order (the bias sum excepted: summed in double, rounded once). The NumPy code
in ``fcnet.ops.pooling``, ``fcnet.ops.conv`` and ``fcnet.activations`` stays the
reference and the fallback.

Each function here returns its result, or None where the compiled kernel may not run:
the extension was not built (no compiler), the environment variable ``FCNET_FUSED`` is
``"0"`` (read at each call), the backend is not NumPy, an array is not a float32 NumPy
array, or not C-contiguous where the kernel needs it, or the shape is one the kernel does
not cover. The caller then runs its NumPy code.
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet.backend.switch import fused_wanted

try:
    from fcnet import _conv as kernels
except ImportError:  # built without a C compiler: NumPy alone
    kernels = None


def enabled() -> bool:
    """Whether the compiled kernels may run now (built, wanted, NumPy backend)."""
    return kernels is not None and backend.xp is numpy and fused_wanted()


def _float32(*arrays, contiguous=True) -> bool:
    for a in arrays:
        if (type(a) is not numpy.ndarray or a.dtype != numpy.float32
                or (contiguous and not a.flags.c_contiguous)):
            return False
    return True


def max_pool_forward(padded, out_shape, pool_size, strides):
    """``(y, arg)`` for a 1-D or 2-D max pooling of the padded input ``(N, *P, C)``:
    ``y (N, *O, C)`` the maxima, ``arg`` (int32, same shape) the row-major offset of each
    window's first maximum (a strided input is copied first). None where the kernel may
    not run."""
    if len(pool_size) not in (1, 2) or not enabled() or not _float32(padded, contiguous=False):
        return None
    padded = numpy.ascontiguousarray(padded)
    n, c = padded.shape[0], padded.shape[-1]
    h, w = (1,) + padded.shape[1:-1] if len(pool_size) == 1 else padded.shape[1:-1]
    oh, ow = (1,) + tuple(out_shape) if len(pool_size) == 1 else out_shape
    ph, pw = (1,) + tuple(pool_size) if len(pool_size) == 1 else pool_size
    sh, sw = (1,) + tuple(strides) if len(strides) == 1 else strides
    shape = (n,) + tuple(out_shape) + (c,)
    y = numpy.empty(shape, dtype=numpy.float32)
    arg = numpy.empty(shape, dtype=numpy.int32)
    if y.size:
        kernels.max_pool2d_forward(padded, y, arg, n, h, w, c, oh, ow, ph, pw, sh, sw)
    return y, arg


def max_pool_backward(dy, arg, padded_shape, pool_size, strides):
    """``dx̃ (N, *P, C)``: ``dy`` routed to the argmax ``arg`` of each window (added where
    windows overlap). None where the kernel may not run."""
    if not enabled() or not _float32(dy, contiguous=False) or dy.shape != arg.shape:
        return None
    dy = numpy.ascontiguousarray(dy)
    n, c = padded_shape[0], padded_shape[-1]
    one = len(pool_size) == 1
    h, w = (1,) + tuple(padded_shape[1:-1]) if one else padded_shape[1:-1]
    oh, ow = (1,) + tuple(dy.shape[1:-1]) if one else dy.shape[1:-1]
    ph, pw = (1,) + tuple(pool_size) if one else pool_size
    sh, sw = (1,) + tuple(strides) if one else strides
    dx = numpy.empty(padded_shape, dtype=numpy.float32)
    if dy.size:
        kernels.max_pool2d_backward(dy, arg, dx, n, h, w, c, oh, ow, ph, pw, sh, sw)
    else:
        dx.fill(0)
    return dx


def _plane(geometry):
    """``(h, w, oh, ow, kh, kw, sh, sw, dh, dw)`` of a 1-D or 2-D geometry (1-D as one row)."""
    one = len(geometry.out) == 1
    fields = (geometry.padded, geometry.out, geometry.kernel, geometry.strides,
              geometry.dilation)
    return tuple(v for f in fields for v in ((1,) + tuple(f) if one else tuple(f)))


def im2col(x_padded, geometry, transposed: bool = False):
    """The patch matrix of a 1-D or 2-D convolution from the padded input
    ``x̃ (N, *P, C)`` (C-contiguous), ``cols[(n, o), (g, j, c)] = x̃[n, o·s + j·d, (g, c)]``,
    in either layout ``fcnet.ops.conv`` makes: rows, ``(M, g·K)``, or, ``transposed`` (few
    channels), ``(g·K, M)``. A copy: the reference's bits. None where the kernel may not
    run."""
    r = len(geometry.out)
    if r not in (1, 2) or not enabled() or not _float32(x_padded) or x_padded.ndim != r + 2:
        return None
    n, channels = x_padded.shape[0], x_padded.shape[-1]
    if tuple(x_padded.shape[1:-1]) != tuple(geometry.padded) or channels % geometry.groups:
        return None
    m = n * math.prod(geometry.out)
    k = math.prod(geometry.kernel) * channels
    cols = numpy.empty((k, m) if transposed else (m, k), dtype=numpy.float32)
    if cols.size:
        h, w, oh, ow, kh, kw, sh, sw, dh, dw = _plane(geometry)
        kernels.im2col2d(x_padded, cols, n, h, w, channels, geometry.groups, oh, ow, kh, kw,
                         sh, sw, dh, dw, transposed)
    return cols


def col2im(dcols, geometry, n: int, channels: int, transposed: bool = False):
    """``dx̃ (N, *P, C)``, the padded input's gradient, from the patch gradients
    ``dcols (g, M, K)`` of a 1-D or 2-D convolution in either layout ``fcnet.ops.conv``
    makes: rows (``dcols[g]`` rows ``(n, o)``, columns ``(j, c)``;
    ``dcols.transpose(1, 0, 2)`` C-contiguous) or, ``transposed`` (few channels),
    ``dcols.transpose(0, 2, 1)`` ``(g, K, M)`` C-contiguous. Each entry's terms are
    added in the reference's order (kernel offsets row-major): the reference's bits. None
    where the kernel may not run."""
    r = len(geometry.out)
    if r not in (1, 2) or not enabled():
        return None
    rows = dcols.transpose(0, 2, 1) if transposed else dcols.transpose(1, 0, 2)
    if not _float32(rows):
        return None
    one = r == 1
    h, w = (1,) + geometry.padded if one else geometry.padded
    oh, ow = (1,) + geometry.out if one else geometry.out
    kh, kw = (1,) + geometry.kernel if one else geometry.kernel
    sh, sw = (1,) + geometry.strides if one else geometry.strides
    dh, dw = (1,) + geometry.dilation if one else geometry.dilation
    dx = numpy.empty((n,) + geometry.padded + (channels,), dtype=numpy.float32)
    if dx.size and rows.size:
        kernels.col2im2d(rows, dx, n, h, w, channels, geometry.groups, oh, ow, kh, kw,
                         sh, sw, dh, dw, transposed)
    else:
        dx.fill(0)
    return dx


def relu_backward_bias(dy, y, db, add: bool):
    """``dz = dy · [y > 0]`` (a new array; ``dy`` is never written) with ``db``, the bias
    gradient ``Σ_{rows} dz`` over every axis but the last, written into ``db`` (``add``
    False) or added to it (``add`` True). None where the kernel may not run."""
    if (not enabled() or not _float32(dy, y, db) or dy.shape != y.shape or db.ndim != 1
            or dy.ndim == 0 or dy.shape[-1] != db.shape[0] or db.shape[0] == 0):
        return None
    if numpy.may_share_memory(db, dy) or numpy.may_share_memory(db, y):
        return None
    dz = numpy.empty_like(dy)
    kernels.relu_backward_bias(dy, y, dz, db, dy.size // db.shape[0], db.shape[0], add)
    return dz


def bias_relu(z, bias):
    """``z = max(z + bias, 0)`` in place over the last axis (a layer's bias and relu in
    one pass); ``z``, or None where the kernel may not run."""
    if (not enabled() or not _float32(z, bias) or bias.ndim != 1 or z.ndim == 0
            or z.shape[-1] != bias.shape[0] or bias.shape[0] == 0
            or numpy.may_share_memory(z, bias)):
        return None
    kernels.bias_relu(z, bias, z.size // bias.shape[0], bias.shape[0])
    return z


# The most patch columns ``relu_backward_conv`` takes (a few channels times a small kernel).
CONV_MAX_K = 16


def relu_backward_conv(dy, y, cols_t, dkernel, db, add: bool, need_dz: bool):
    """A convolution's relu backward in one pass over its output: ``dz = dy · [y > 0]``,
    ``db = Σ_rows dz`` and the kernel gradient ``dW = colsᵀ · dz`` (``dkernel``, the
    kernel's gradient slot, viewed as ``(K, F)``), each written (``add`` False) or added
    (``add`` True), from the transposed patch matrix ``cols_t (K, M)`` (C-contiguous,
    ``K ≤ CONV_MAX_K``; the few-channel layout of ``fcnet.ops.conv.im2col``).

    ``dz`` has the reference's bits; each sum over the rows runs in float32 over tiles of
    128 rows in row order, the tiles' sums added in double and rounded once (the reference
    sums in float32: the two agree to ~1e-6 relative). Returns ``(dz,)``, ``dz`` a new
    array (``dy`` is never written) or None when not ``need_dz`` (then never stored), or
    None where the kernel may not run."""
    if (not enabled() or not _float32(dy, y, cols_t, dkernel, db) or dy.shape != y.shape
            or dy.ndim == 0 or db.ndim != 1 or cols_t.ndim != 2 or dkernel.ndim == 0):
        return None
    f, k = db.shape[0], cols_t.shape[0]
    if (f == 0 or dy.shape[-1] != f or not 0 < k <= CONV_MAX_K
            or cols_t.shape[1] * f != dy.size or dkernel.size != k * f
            or dkernel.shape[-1] != f):
        return None
    if any(numpy.may_share_memory(out, a) for out in (db, dkernel)
           for a in (dy, y, cols_t)) or numpy.may_share_memory(db, dkernel):
        return None
    dz = numpy.empty_like(dy) if need_dz else None
    kernels.relu_backward_conv(dy, y, cols_t, dz, dkernel, db, cols_t.shape[1], f, k, add)
    return (dz,)


def conv_bias_relu(cols_t, kernel, bias):
    """A convolution's forward ``z = max(cols · W₂ + b, 0)`` in one pass from the
    transposed patch matrix ``cols_t (K, M)`` (C-contiguous, ``K ≤ CONV_MAX_K``; the
    few-channel layout of ``fcnet.ops.conv.im2col``, one group), ``kernel`` viewed as
    ``W₂ (K, F)`` and ``bias (F,)``: ``z (M, F)``, a new array.

    Each entry is ``max(b[f] + Σ_k cols_t[k, m] · W₂[k, f], 0)`` with the products summed
    in float32 in ``k`` order (from 0; each step one fused multiply-add where the CPU has
    AVX2 and FMA), then the bias added: not BLAS's order, so ``z`` may
    differ from the reference's in the last bits (and the relu mask where ``z`` is within
    rounding of 0). None where the kernel may not run."""
    if not enabled() or not _float32(cols_t, kernel, bias) or cols_t.ndim != 2:
        return None
    k, m = cols_t.shape
    if bias.ndim != 1 or bias.shape[0] == 0 or not 0 < k <= CONV_MAX_K:
        return None
    f = bias.shape[0]
    if kernel.ndim == 0 or kernel.shape[-1] != f or kernel.size != k * f:
        return None
    z = numpy.empty((m, f), dtype=numpy.float32)
    kernels.conv_bias_relu(cols_t, kernel, bias, z, m, f, k)
    return z


def relu_backward_conv_dx(dy, y, cols_t, kernel, dkernel, db, add: bool, geometry, n: int):
    """``relu_backward_conv`` (``dz`` never stored) that also returns the padded input's
    gradient ``dx̃ (N, *P, C)`` (a new array; crop it to the input), computed in the same
    pass: for each output row ``m = (n, o)``, ``Σ_f dz[m, f] · W₂[k, f]`` is added at the
    pixel patch column ``k = (j, c)`` read, ``x̃[n, o·s + j·d, c]``. A 1-D or 2-D
    convolution of one group, ``kernel`` viewed as ``W₂ (K, F)``, ``K ≤ CONV_MAX_K``.

    Not the reference's order: each term's sum over ``f`` runs in float32 in ``f`` order
    (fused multiply-adds where the CPU has AVX2 and FMA and ``F`` is a multiple of 8,
    patch columns from 8 on in eight lanes summed across; the reference's is BLAS's), and
    each ``dx̃`` entry gets its terms from 0 tile by tile (128 rows), within a tile by patch
    column, then row (the reference: by kernel offset), so ``dx̃`` agrees with
    ``col2im(dz · W₂ᵀ)`` to ~1e-6 of the sum of the terms' magnitudes. ``dW`` and ``db``
    are ``relu_backward_conv``'s bits.
    None where the kernel may not run."""
    r = len(geometry.out)
    if r not in (1, 2) or geometry.groups != 1 or not enabled():
        return None
    if not _float32(dy, y, cols_t, kernel, dkernel, db) or cols_t.ndim != 2 or db.ndim != 1:
        return None
    f, k = db.shape[0], cols_t.shape[0]
    h, w, oh, ow, kh, kw, sh, sw, dh, dw = _plane(geometry)
    m = n * oh * ow
    if (f == 0 or n <= 0 or k % (kh * kw) or not 0 < k <= CONV_MAX_K or cols_t.shape[1] != m
            or dy.shape != y.shape or dy.size != m * f or dy.shape[-1] != f
            or kernel.size != k * f or kernel.shape[-1] != f or dkernel.size != k * f
            or dkernel.shape[-1] != f):
        return None
    if any(numpy.may_share_memory(out, a) for out in (db, dkernel)
           for a in (dy, y, cols_t, kernel)) or numpy.may_share_memory(db, dkernel):
        return None
    c = k // (kh * kw)
    dx = numpy.empty((n,) + tuple(geometry.padded) + (c,), dtype=numpy.float32)
    kernels.relu_backward_conv_dx(dy, y, cols_t, kernel, dkernel, db, dx, f, n, h, w, c, oh,
                                  ow, kh, kw, sh, sw, dh, dw, add)
    return dx
