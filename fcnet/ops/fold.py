"""Plain SGD's step folded into Dense's kernel-gradient product.

For a Dense kernel ``W`` the gradient is one product, ``g = xᵀ·dz``, and SGD without
momentum steps ``W ← W − lr·g``. BLAS adds a product into its output (``gemm`` with
``beta = 1``, ``fcnet.backend.blas.accumulate``), so the step is that product alone:

    W ← W + (−lr) · xᵀ · dz

The gradient is never written to the flat buffer and the optimizer makes no pass over
``W`` afterwards (on a 1024-2048-2048-1024 MLP at batch 256 that pass is 7% of a step).
Only the backward pass's last use of ``W`` may change it, so the layer computes its
``dx = dz · Wᵀ`` first, and folds only where it was called once in the pass.

A training step folds where every condition holds (``TrainStep.fold``,
``SGD.fold_rate``): one process (data-parallel training averages the gradient first);
SGD with ``momentum=0``, no weight decay, clipping, EMA, gradient accumulation or loss
scale; the compiled optimizer path on (``FCNET_FUSED`` not ``"0"``; ``fcnet._fused``
built); NumPy's BLAS exporting its ``gemm``; and, per kernel, a trainable variable
without a regularizer (whose gradient would be added after the backward pass) in a
layer called once. Elsewhere the gradient is written and the optimizer steps as usual;
the two give the same weights to float32 rounding.
"""

from __future__ import annotations

from fcnet.backend import blas


class Fold:
    """One step's folding: the rate, each Dense layer's calls in the forward pass, and
    the variables already stepped (whose update the optimizer then skips)."""

    __slots__ = ("lr", "params", "calls", "stepped")

    def __init__(self, lr: float, params):
        self.lr = lr
        self.params = params
        self.calls: dict = {}
        self.stepped: list = []

    def called(self, layer) -> None:
        """The forward pass called ``layer`` (once more)."""
        self.calls[layer] = self.calls.get(layer, 0) + 1

    def may_step(self, layer, kernel, *arrays) -> bool:
        """Whether ``kernel`` of ``layer`` may take its step in its gradient product."""
        value = kernel.value
        return (self.calls.get(layer) == 1 and kernel.trainable and kernel.regularizer is None
                and value.base is self.params and all(a.dtype == value.dtype for a in arrays))

    def step(self, kernel, x, dz) -> None:
        """``kernel ← kernel − lr · xᵀ·dz`` (every leading axis of ``x`` and ``dz`` a batch
        axis), and the kernel marked as stepped."""
        if x.ndim != 2:
            x, dz = x.reshape(-1, x.shape[-1]), dz.reshape(-1, dz.shape[-1])
        blas.accumulate(kernel.value, x, dz, -self.lr)
        self.stepped.append(kernel)
