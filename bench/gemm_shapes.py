"""The matrix products of workload C (MLP 1024-2048-2048-1024, batch 256), one at a time,
in NumPy (OpenBLAS) and PyTorch (its own BLAS), interleaved; median ms and GFLOP/s.

Tells whether C's gap to PyTorch is in the products themselves (BLAS against BLAS) or in
fcnet's work around them. Run with OpenBLAS's native kernels:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm_shapes.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from common import blas_report, optional

BATCH, SIZES = 256, (1024, 2048, 2048, 1024)


def products():
    """``(name, a, b)``: forward ``x·W``, kernel gradient ``xᵀ·dz``, input gradient
    ``dz·Wᵀ`` of every layer (no input gradient for the first)."""
    rng = np.random.default_rng(0)
    out = []
    for i, (m, n) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        x = rng.random((BATCH, m), dtype=np.float32)
        w = rng.random((m, n), dtype=np.float32)
        dz = rng.random((BATCH, n), dtype=np.float32)
        out.append((f"x·W {BATCH}x{m}x{n}", x, w))
        out.append((f"xT·dz {m}x{BATCH}x{n}", x.T, dz))
        if i:
            out.append((f"dz·WT {BATCH}x{n}x{m}", dz, w.T))
    return out


def timed(fn, repeats=15):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(blas_report())
    torch = optional("torch")
    total = {"numpy": 0.0, "torch": 0.0}
    print(f"{'product':28s} {'numpy ms':>9s} {'GFLOP/s':>8s} {'torch ms':>9s} {'GFLOP/s':>8s}")
    for name, a, b in products():
        flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
        row = {"numpy": timed(lambda a=a, b=b: a @ b)}
        if torch is not None:
            ta, tb = torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(
                np.ascontiguousarray(b))
            if not a.flags.c_contiguous:
                ta = torch.from_numpy(np.ascontiguousarray(a.T)).T
            if not b.flags.c_contiguous:
                tb = torch.from_numpy(np.ascontiguousarray(b.T)).T
            row["torch"] = timed(lambda ta=ta, tb=tb: ta @ tb)
        for key, seconds in row.items():
            total[key] += seconds
        cells = "".join(f" {s * 1e3:9.2f} {flops / s / 1e9:8.1f}" for s in row.values())
        print(f"{name:28s}{cells}")
    print(f"{'all products':28s} {total['numpy'] * 1e3:9.2f} {'':8s} "
          f"{total['torch'] * 1e3:9.2f}")
    if total["torch"]:
        print(f"NumPy's products take {total['numpy'] / total['torch']:.2f}x PyTorch's")


if __name__ == "__main__":
    main()
