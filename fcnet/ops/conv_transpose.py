"""The transposed convolution: the adjoint of a convolution's input map (channels last).

For the convolution with kernel ``W₂ (Π k · F, C)`` that reads the transposed one's output
(geometry ``Geometry.of_conv_transpose``), the transposed convolution is

    forward:   z = col2im(x · W₂ᵀ) + b     each input pixel times the kernel, added in
    backward:  cols = im2col(dz̃)           one row per input pixel
               dW₂ = colsᵀ · x;   db = Σ dz;   dx = cols · W₂
"""

from __future__ import annotations

from fcnet import backend
from fcnet.ops.conv import Geometry, col2im, empty_cols, im2col, pad, patches_transposed


def conv_transpose_forward(x, kernel, bias, geometry: Geometry):
    """``y = col2im(x · W₂ᵀ) + b`` for ``W (*k, F, C)``: each input pixel times the kernel,
    added into the output at ``i·s + j·d − shift``. ``geometry`` from ``of_conv_transpose``;
    returns ``(z (N, *O, F), None)``."""
    xp = backend.xp
    n, c = x.shape[0], x.shape[-1]
    f = kernel.shape[-2]
    w2 = kernel.reshape(-1, c)  # (Π k · F, C)
    dcols = empty_cols(geometry, n, f, x.dtype)
    x2 = x.reshape(-1, c)
    if not patches_transposed(f):
        xp.matmul(x2, w2.T, out=dcols[0])
    else:
        xp.matmul(w2, x2.T, out=dcols[0].T)
    z = col2im(dcols, geometry, n, f)
    if not geometry.trivial:
        z = xp.ascontiguousarray(z)
    if bias is not None:
        z += bias
    return z, None


def conv_transpose_patches(dz, geometry: Geometry):
    """``cols = im2col(dz̃)`` ``(M, Π k · F)``: what both gradients of a transposed
    convolution read (one row per input pixel)."""
    return im2col(pad(dz, geometry), geometry)[0]


def conv_transpose_kernel_gradient(cols, x, kernel_shape, out=None):
    """``dW₂ = colsᵀ · x`` in the kernel's shape ``(*k, F, C)`` (into ``out`` when given)."""
    c = x.shape[-1]
    target = None if out is None else out.reshape(-1, c)
    dkernel = backend.xp.matmul(cols.T, x.reshape(-1, c), out=target)
    return out if out is not None else dkernel.reshape(kernel_shape)


def conv_transpose_input_gradient(cols, kernel, input_shape):
    """``dx = cols · W₂``, shaped as the input."""
    return (cols @ kernel.reshape(-1, input_shape[-1])).reshape(input_shape)
