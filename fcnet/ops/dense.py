"""The affine map of a Dense layer and its three gradients.

Forward:   z = x · W + b            x: (batch, ..., d_in), W: (d_in, units), b: (units,)
Backward:  dW = Σ_batch xᵀ · dz     (every leading axis counts as a batch axis)
           db = Σ_batch dz
           dx = dz · Wᵀ
"""

from __future__ import annotations


def dense_forward(x, kernel, bias=None):
    """``z = x · kernel + bias``; a rank > 2 ``x`` is contracted on its last axis only."""
    z = x @ kernel
    if bias is not None:
        z += bias  # in place: z is a fresh array
    return z


def dense_backward(x, dz, kernel, need_dx: bool = True):
    """``(dkernel, dbias, dx)`` for ``z = x · kernel + bias``; ``dx`` is None when not needed."""
    units = kernel.shape[1]
    x2 = x.reshape(-1, kernel.shape[0])
    dz2 = dz.reshape(-1, units)
    dkernel = x2.T @ dz2  # dL/dW_ij = Σ_n x_ni dz_nj
    dbias = dz2.sum(axis=0)  # dL/db_j = Σ_n dz_nj
    dx = dz @ kernel.T if need_dx else None  # dL/dx_ni = Σ_j dz_nj W_ij
    return dkernel, dbias, dx
