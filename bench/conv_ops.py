"""Conv2D forward + backward against its three matrix products alone (DESIGN §5).

For each convolution of seed 003's CNN at batch 64 (28×28×1→32, 13×13×32→64, 5×5×64→64,
3×3 kernels, relu), times

  (a) the layer: ``forward_step`` + ``backward_step`` with a fresh ``Step``, im2col, bias,
      relu and col2im included; the first convolution twice: with its input gradient,
      and without it, as it runs first in a model;
  (b) NumPy alone: the products the layer runs, ``cols @ W``, ``cols.T @ dz`` and (with
      the input gradient) ``dz @ W.T``, on contiguous arrays of the same shapes, made
      beforehand;

median of many interleaved repeats, and prints (a) / (b). The target is at most 2×. BLAS
and the compiled loops run on fcnet._pool's threads where ``fit`` would put them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/conv_ops.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import blas_report

from fcnet.backend import blas_pool, blas_threads
from fcnet.layers import Step
from fcnet.layers.convolutional import Conv2D

CASES = [  # (height/width, in channels, filters, input gradient)
    (28, 1, 32, True),
    (28, 1, 32, False),
    (13, 32, 64, True),
    (5, 64, 64, True),
]


def medians(runs: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each run, timed round-robin after one warm-up each."""
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def case(size, channels, filters, need_dx, batch, repeats):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, size, size, channels)).astype("float32")
    layer = Conv2D(filters, 3, activation="relu")
    layer(x[:1])
    out = size - 2
    dy = rng.normal(size=(batch, out, out, filters)).astype("float32")

    def through_layer():
        step = Step()
        y, ctx = layer.forward_step(x, True, step)
        layer.backward_step(ctx, dy, step, need_dx=need_dx)

    m, k = batch * out * out, 9 * channels
    cols = rng.normal(size=(m, k)).astype("float32")
    w = layer.kernel.value.reshape(k, filters).copy()
    dz = dy.reshape(m, filters).copy()

    def products():
        cols @ w
        cols.T @ dz
        if need_dx:
            dz @ w.T

    result = medians({"layer": through_layer, "gemm": products}, repeats)
    name = f"{size}x{size}x{channels}->{filters}" + ("" if need_dx else " (no dx)")
    print(f"  {name:<24} layer {result['layer'] * 1e3:7.3f} ms   its {2 + need_dx} GEMMs "
          f"{result['gemm'] * 1e3:7.3f} ms   ratio {result['layer'] / result['gemm']:5.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (threadpoolctl); default: as the environment sets")
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    if blas_threads.governor().threads > 1 and blas_pool.install():  # as `fit` runs them
        blas_pool.set_threads(blas_threads.governor().threads)
    print(blas_report())
    print(f"Conv2D 3x3 relu, batch {args.batch}: forward+backward vs its matrix products "
          f"(median of {args.repeats}; BLAS and the compiled loops on "
          f"{'fcnet._pool' if blas_pool.installed() else 'their own threads'})")
    for size, channels, filters, need_dx in CASES:
        case(size, channels, filters, need_dx, args.batch, args.repeats)


if __name__ == "__main__":
    main()
