"""Convolutions on channels-last (NHWC) arrays as matrix products over patches.

A convolution (Keras's: a cross-correlation) with kernel ``W (k_1, …, k_r, C/g, F)``,
strides ``s``, dilation ``d`` and ``g`` groups, on an input padded to ``x̃``:

    z[n, o, f] = Σ_{j, c} x̃[n, o·s + j·d, c] · W[j, c, f] (+ b[f])

for every output position ``o`` (a tuple over the ``r`` spatial axes), kernel offset ``j``
and input channel ``c`` of the output channel's group. With the patch matrix

    cols[(n, o), (j, c)] = x̃[n, o·s + j·d, c]          (im2col: M × K, M = N·Π O_i,
                                                        K = Π k_i · C/g per group)

it is a Dense layer on the patches: ``z = cols · W₂ + b`` with ``W₂ = W.reshape(K, F)``,
and the gradients are Dense's:

    dW₂ = colsᵀ · dz            db = Σ_{n, o} dz
    dcols = dz · W₂ᵀ            dx̃ = col2im(dcols)

``col2im`` is the adjoint of ``im2col``: every patch entry's gradient is added back to the
input pixel it was read from (``dx̃[n, o·s + j·d, c] += dcols[(n, o), (j, c)]``), one strided
add per kernel offset ``j``; the padding is then cut off.

The transposed convolution (``fcnet.ops.conv_transpose``) is the adjoint of a convolution: its
forward pass is ``col2im(x · W₂ᵀ)``, its input gradient ``im2col(dy) · W₂``.

Padding, per spatial axis of input size ``I`` (Keras's rules):
    valid:  O = ⌊(I − k_eff) / s⌋ + 1, no padding (k_eff = (k − 1)·d + 1)
    same:   O = ⌈I / s⌉; total pad = max((O − 1)·s + k_eff − I, 0), half before
            (rounded down), the rest after
    causal: O = ⌈I / s⌉; k_eff − 1 zeros before (Conv1D only)

The patch matrix is read from the padded input through one strided view (no copy) and
copied once into the contiguous layout the matrix product needs: rows ``(n, o)`` ×
columns ``(j, c)`` when channels are many, the transpose (one contiguous row per ``(j, c)``)
when they are few (e.g. one grey channel), where the copy would otherwise move 4 bytes at a
time. A 1×1 kernel without padding or stride, and a kernel covering the whole input, need
no copy at all (a reshape). The products of one group go through Dense's ``matmul``
(``fcnet.ops.dense``), so a busy machine's thread team shares them as it shares Dense's.
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet.ops import compiled
from fcnet.ops.dense import matmul

# Below this many channels per group the patches are laid out one row per (j, c).
_FEW_CHANNELS = 8


def conv_padding(size, kernel: int, stride: int, dilation: int, padding: str):
    """``(before, after, out)``: zeros before/after one spatial axis of size ``size``, and
    the output length (None where ``size`` is None) for a convolution."""
    k_eff = (kernel - 1) * dilation + 1
    if size is None:
        return 0, 0, None
    if padding == "valid":
        return 0, 0, (size - k_eff) // stride + 1
    out = -(-size // stride)
    if padding == "causal":
        return k_eff - 1, 0, out
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2, out


def conv_transpose_padding(size, kernel: int, stride: int, dilation: int, padding: str,
                           output_padding=None):
    """``(shift, out)`` of a transposed convolution along one axis (Keras's output size):
    input position ``i`` and kernel offset ``j`` land on output ``i·s + j·d − shift``."""
    k_eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        out = None if size is None else (size - 1) * stride + k_eff + extra
        return 0, out
    if output_padding is None:
        pad_len = stride + k_eff - 2
        out = None if size is None else size * stride
    else:
        pad_len = k_eff + k_eff % 2 - 2 + output_padding
        out = None if size is None else (size - 1) * stride + k_eff % 2 + output_padding
    before = min(pad_len // 2 + pad_len % 2, k_eff - 1)
    return k_eff - 1 - before, out


class Geometry:
    """How one convolution reads its (padded) input: the spatial sizes of the input ``I``,
    padded input ``P`` and output ``O``, the zeros ``before`` each axis, the kernel sizes,
    strides, dilations and the number of groups."""

    __slots__ = ("size", "padded", "out", "before", "kernel", "strides", "dilation", "groups")

    def __init__(self, size, padded, out, before, kernel, strides, dilation, groups=1):
        self.size, self.padded, self.out, self.before = size, padded, out, before
        self.kernel, self.strides, self.dilation = kernel, strides, dilation
        self.groups = groups

    @classmethod
    def of_conv(cls, size, kernel, strides, dilation, padding, groups=1):
        pads = [conv_padding(*a, padding) for a in zip(size, kernel, strides, dilation)]
        padded = tuple(None if i is None else i + b + a for i, (b, a, _) in zip(size, pads))
        return cls(tuple(size), padded, tuple(p[2] for p in pads), tuple(p[0] for p in pads),
                   tuple(kernel), tuple(strides), tuple(dilation), groups)

    @classmethod
    def of_conv_transpose(cls, size, kernel, strides, dilation, padding, output_padding=None):
        """The geometry of the convolution whose adjoint the transposed one is: it reads
        the transposed convolution's output (size ``O``) and gives its input's size."""
        output_padding = output_padding or (None,) * len(size)
        shifts = [conv_transpose_padding(*a, padding, op) for a, op in
                  zip(zip(size, kernel, strides, dilation), output_padding)]
        out = tuple(o for _, o in shifts)
        before = tuple(b for b, _ in shifts)
        padded = tuple(max(o + b, (i - 1) * s + (k - 1) * d + 1) for o, b, i, s, k, d in
                       zip(out, before, size, strides, kernel, dilation))
        return cls(out, padded, tuple(size), before, tuple(kernel), tuple(strides),
                   tuple(dilation))

    @property
    def trivial(self) -> bool:
        """Whether the patches are the input itself, reshaped (a 1×1 kernel with unit
        strides and no padding, or one kernel position covering the whole input)."""
        no_pad = self.padded == self.size
        ones = all(k == 1 for k in self.kernel) and all(s == 1 for s in self.strides)
        whole = self.groups == 1 and all(o == 1 for o in self.out) and all(
            (k - 1) * d + 1 == p for k, d, p in zip(self.kernel, self.dilation, self.padded))
        return no_pad and (ones or whole)


def pad(x, geometry: Geometry):
    """``x̃``: ``x (N, *I, C)`` with zeros around its spatial axes (x itself when none)."""
    if geometry.padded == geometry.size:
        return x
    xp = backend.xp
    padded = xp.zeros((x.shape[0],) + geometry.padded + (x.shape[-1],), dtype=x.dtype)
    padded[_inner(geometry)] = x
    return padded


def _inner(geometry: Geometry):
    """The index of the unpadded input inside the padded one."""
    return (slice(None),) + tuple(slice(b, b + i) for b, i in
                                  zip(geometry.before, geometry.size)) + (slice(None),)


def patches_transposed(channels_per_group: int) -> bool:
    """Whether patches are laid out one row per (j, c) (few channels per group)."""
    return channels_per_group < _FEW_CHANNELS


def _patch_view(x_padded, geometry: Geometry):
    """A strided view ``(N, *O, g, *k, C/g)`` of the padded input: entry ``[n, o, group, j, c]``
    is ``x̃[n, o·s + j·d, group·C/g + c]`` (no copy)."""
    n, channels = x_padded.shape[0], x_padded.shape[-1]
    g = geometry.groups
    st = x_padded.strides
    spatial = st[1:-1]
    shape = ((n,) + geometry.out + (g,) + geometry.kernel + (channels // g,))
    strides = ((st[0],) + tuple(s * a for s, a in zip(geometry.strides, spatial))
               + (st[-1] * (channels // g),)
               + tuple(d * a for d, a in zip(geometry.dilation, spatial)) + (st[-1],))
    if backend.xp.__name__ != "numpy":  # CuPy's as_strided has no `writeable`
        return backend.xp.lib.stride_tricks.as_strided(x_padded, shape=shape, strides=strides)
    return numpy.lib.stride_tricks.as_strided(x_padded, shape=shape, strides=strides,
                                              writeable=False)


def _buffer_axes(r: int, few: bool):
    """Axis order of the patch buffer, in terms of the view's axes (N, *O, g, *k, c)."""
    n_o = tuple(range(r + 1))
    g_k_c = tuple(range(r + 1, 2 * r + 3))
    return g_k_c + n_o if few else n_o + g_k_c


def im2col(x_padded, geometry: Geometry):
    """The patch matrices ``(g, M, K)`` of a padded input (a view of one contiguous copy, or
    of the input itself for the trivial geometries): ``cols[group, (n, o), (j, c)]``.

    A 1-D or 2-D float32 convolution's patches are copied by the compiled kernel
    (``fcnet.ops.compiled.im2col``, either layout), the same bits; otherwise NumPy copies
    from the strided view."""
    xp = backend.xp
    n, channels = x_padded.shape[0], x_padded.shape[-1]
    g, r = geometry.groups, len(geometry.out)
    m = n * math.prod(geometry.out)
    k = math.prod(geometry.kernel) * (channels // g)
    if geometry.trivial:
        return x_padded.reshape(m, g, k).transpose(1, 0, 2)
    few = patches_transposed(channels // g)
    cols = compiled.im2col(x_padded, geometry, transposed=few)  # 1-D or 2-D float32
    if cols is not None:
        if few:
            return cols.reshape(g, k, m).transpose(0, 2, 1)
        return cols.reshape(m, g, k).transpose(1, 0, 2)
    view = _patch_view(x_padded, geometry)
    axes = _buffer_axes(r, few)
    buffer = xp.empty(tuple(view.shape[a] for a in axes), dtype=x_padded.dtype)
    buffer[...] = view.transpose(axes)
    if axes[0] == 0:  # rows (n, o)
        return buffer.reshape(m, g, k).transpose(1, 0, 2)
    return buffer.reshape(g, k, m).transpose(0, 2, 1)


def empty_cols(geometry: Geometry, n: int, channels: int, dtype):
    """An uninitialised ``(g, M, K)`` patch-gradient matrix in the layout ``col2im`` adds
    from fastest (the one ``im2col`` builds for this geometry)."""
    xp = backend.xp
    g = geometry.groups
    m = n * math.prod(geometry.out)
    k = math.prod(geometry.kernel) * (channels // g)
    if patches_transposed(channels // g):
        return xp.empty((g, k, m), dtype=dtype).transpose(0, 2, 1)
    return xp.empty((m, g, k), dtype=dtype).transpose(1, 0, 2)


def col2im(dcols, geometry: Geometry, n: int, channels: int, crop: bool = True):
    """The adjoint of ``im2col``: ``dx̃[n, o·s + j·d, c] += dcols[(n, o), (j, c)]``, one
    strided add per kernel offset ``j``; the padding is cut off when ``crop``.

    ``dcols``: ``(g, M, K)`` in either layout ``empty_cols`` makes. A 1-D or 2-D float32
    convolution runs on the compiled kernel (``fcnet.ops.compiled``), either layout, which
    adds in the same order.
    """
    xp = backend.xp
    g, r = geometry.groups, len(geometry.out)
    if geometry.trivial:
        dx = dcols.transpose(1, 0, 2).reshape((n,) + geometry.padded + (channels,))
        return dx
    cg = channels // g
    dx = compiled.col2im(dcols, geometry, n, channels, transposed=patches_transposed(cg))
    if dx is None:  # the reference
        dview = _cols_as_view(dcols, geometry, n, cg)  # (N, *O, g, *k, C/g)
        dx = xp.zeros((n,) + geometry.padded + (g, cg), dtype=dcols.dtype)
        for j in _offsets(geometry.kernel):
            target = (slice(None),) + tuple(
                slice(jj * d, jj * d + (o - 1) * s + 1, s) for jj, d, o, s in
                zip(j, geometry.dilation, geometry.out, geometry.strides))
            dx[target] += dview[(slice(None),) * (r + 2) + j]
        dx = dx.reshape((n,) + geometry.padded + (channels,))
    return dx[_inner(geometry)] if crop else dx


def _cols_as_view(dcols, geometry: Geometry, n: int, cg: int):
    """``(g, M, K)`` → ``(N, *O, g, *k, C/g)`` without a copy (both layouts are contiguous
    in some order of these axes)."""
    g, r = geometry.groups, len(geometry.out)
    if not patches_transposed(cg):  # rows (n, o), then (g, j, c)
        full = dcols.transpose(1, 0, 2).reshape((n,) + geometry.out + (g,) + geometry.kernel
                                                + (cg,))
        return full
    full = dcols.transpose(0, 2, 1).reshape((g,) + geometry.kernel + (cg, n) + geometry.out)
    # axes now (g, *k, c, n, *o) → (n, *o, g, *k, c)
    order = (r + 2,) + tuple(range(r + 3, 2 * r + 3)) + (0,) + tuple(range(1, r + 1)) + (r + 1,)
    return full.transpose(order)


def _offsets(kernel):
    """Every kernel offset ``j`` as a tuple, row-major."""
    if len(kernel) == 1:
        return [(a,) for a in range(kernel[0])]
    return [(a,) + rest for a in range(kernel[0]) for rest in _offsets(kernel[1:])]


def grouped_kernel(kernel, groups: int):
    """``W (*k, C/g, F)`` as ``(g, K, F/g)`` matrices (a view)."""
    f = kernel.shape[-1]
    k = kernel.size // f
    return kernel.reshape(k, groups, f // groups).transpose(1, 0, 2)


def conv_forward(x, kernel, bias, geometry: Geometry):
    """``(z, cols)``: ``z = im2col(x̃) · W₂ + b`` of shape ``(N, *O, F)``, and the patches
    (kept for the kernel gradient)."""
    xp = backend.xp
    cols = im2col(pad(x, geometry), geometry)
    n, f = x.shape[0], kernel.shape[-1]
    g = geometry.groups
    if g == 1:
        z = matmul(cols[0], kernel.reshape(-1, f))
    else:
        z = xp.empty((cols.shape[1], f), dtype=x.dtype)
        xp.matmul(cols, grouped_kernel(kernel, g),
                  out=z.reshape(-1, g, f // g).transpose(1, 0, 2))
    if bias is not None:
        z += bias
    return z.reshape((n,) + geometry.out + (f,)), cols


def conv_forward_relu(x, kernel, bias, geometry: Geometry):
    """``(y, cols)`` with ``y = max(im2col(x̃) · W₂ + b, 0)`` of shape ``(N, *O, F)`` from
    one compiled pass over the output (``fcnet.ops.compiled.conv_bias_relu``: the product,
    bias and relu together), or None where that pass does not apply: more than one group,
    not the few-channel (transposed) patch layout, more than ``compiled.CONV_MAX_K`` patch
    columns, not float32, or the compiled kernels off. Its products are summed in float32
    in patch-column order, not BLAS's: ``y`` may differ from ``conv_forward``'s in the last
    bits."""
    xp = backend.xp
    channels, f = x.shape[-1], kernel.shape[-1]
    if (geometry.groups != 1 or not patches_transposed(channels) or geometry.trivial
            or kernel.size // f > compiled.CONV_MAX_K or bias is None
            or not x.dtype == kernel.dtype == bias.dtype == "float32"
            or not compiled.enabled()):
        return None
    cols = im2col(pad(x, geometry), geometry)
    z = compiled.conv_bias_relu(cols[0].T, kernel, bias)
    if z is None:  # the reference's product, bias and relu
        z = matmul(cols[0], kernel.reshape(-1, f))
        z += bias
        xp.maximum(z, 0, out=z)
    return z.reshape((x.shape[0],) + geometry.out + (f,)), cols


def conv_kernel_gradient(cols, dz, kernel_shape, groups: int = 1, out=None):
    """``dW = colsᵀ · dz`` in the kernel's shape (written into ``out`` when given)."""
    xp = backend.xp
    f = kernel_shape[-1]
    dz2 = dz.reshape(-1, f)
    if groups == 1:
        target = None if out is None else out.reshape(-1, f)
        dk = matmul(cols[0].T, dz2, out=target)
        return out if out is not None else dk.reshape(kernel_shape)
    if out is None:
        out = xp.empty(kernel_shape, dtype=dz.dtype)
    dz3 = dz2.reshape(-1, groups, f // groups).transpose(1, 0, 2)
    xp.matmul(cols.transpose(0, 2, 1), dz3, out=grouped_kernel(out, groups))
    return out


def conv_bias_gradient(dz, out=None):
    """``db = Σ_{n, o} dz``."""
    return dz.reshape(-1, dz.shape[-1]).sum(axis=0, out=out)


def conv_input_gradient(dz, kernel, geometry: Geometry, input_shape):
    """``dx = col2im(dz · W₂ᵀ)`` cropped to the input's shape ``(N, *I, C)``."""
    xp = backend.xp
    n, channels = input_shape[0], input_shape[-1]
    g, f = geometry.groups, kernel.shape[-1]
    dz3 = dz.reshape(-1, g, f // g).transpose(1, 0, 2)
    wt = grouped_kernel(kernel, g).transpose(0, 2, 1)
    if geometry.trivial:
        dcols = xp.matmul(dz3, wt)
        return dcols.transpose(1, 0, 2).reshape(input_shape)
    dcols = empty_cols(geometry, n, channels, dz.dtype)
    if not patches_transposed(channels // g):
        if g == 1:
            matmul(dz3[0], wt[0], out=dcols[0])
        else:
            xp.matmul(dz3, wt, out=dcols)
    else:  # (g, K, M) rows: dcolsᵀ = W₂ · dzᵀ, contiguous
        xp.matmul(wt.transpose(0, 2, 1), dz3.transpose(0, 2, 1), out=dcols.transpose(0, 2, 1))
    return col2im(dcols, geometry, n, channels)


def conv_relu_backward_dx(dy, y, cols, kernel, bias, add: bool, geometry: Geometry,
                          input_shape):
    """A relu convolution's whole backward in one compiled pass
    (``fcnet.ops.compiled.relu_backward_conv_dx``): ``dz = dy · [y > 0]`` (never stored),
    the bias and kernel gradients written (``add`` False) or added into ``bias.grad`` and
    ``kernel.grad``, and ``dx`` ``(N, *I, C)`` returned: each row's ``dz · W₂ᵀ`` added into
    the padded input's gradient where its patch was read, then cropped. Only for the
    few-channel (transposed) patch layout of one group, at most ``compiled.CONV_MAX_K``
    patch columns, float32; None otherwise (and nothing written)."""
    if geometry.trivial or cols.shape[0] != 1:
        return None
    dx = compiled.relu_backward_conv_dx(dy, y, cols[0].T, kernel.value, kernel.grad,
                                        bias.grad, add, geometry, input_shape[0])
    return None if dx is None else dx[_inner(geometry)]
