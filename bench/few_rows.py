"""B's products for a few rows: ``numpy.matmul`` against fcnet's blocks of columns.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/few_rows.py [--threads 2,4]

The three forward products of 784-512-512-10 (the kernels fcnet's ``predict`` multiplies
one sample, or a batch of up to 32, by) and the two input gradients a fit computes
(``dz · kernelᵀ``), timed as ``numpy.matmul`` runs them and as ``fcnet.backend.few_rows``
cuts them (one block of each kernel's columns per BLAS thread), in interleaved rounds,
for each BLAS thread count and row count; prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time

import numpy
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnet.backend import few_rows  # noqa: E402

SHAPES = [(784, 512), (512, 512), (512, 10)]


def median_us(fn, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default=str(os.cpu_count() or 1))
    parser.add_argument("--rows", default="1,8,32,64,128,256")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for info in threadpool_info():
        print(f"{info['internal_api']} {info['version']} kernel={info.get('architecture')} "
              f"threads={info['num_threads']}")
    print(f"fcnet's blocks of columns available: {few_rows.ready()}")
    rng = numpy.random.default_rng(0)
    kernels = [rng.normal(size=shape).astype("float32") for shape in SHAPES]

    def forward(product, x):
        for w in kernels:
            x = product(x, w)
        return x

    def backward(product, dz):  # the input gradients a fit needs: dz3·W3ᵀ, then ·W2ᵀ
        for w in kernels[:0:-1]:
            dz = product(dz, w.T)
        return dz

    def blocks(a, b):
        y = few_rows.matmul(a, b)
        return numpy.matmul(a, b) if y is None else y

    for threads in map(int, args.threads.split(",")):
        with threadpool_limits(threads, user_api="blas"):
            for rows in map(int, args.rows.split(",")):
                inputs = {forward: rng.random((rows, 784), dtype=numpy.float32),
                          backward: rng.random((rows, 10), dtype=numpy.float32)}
                calls = max(50, 3000 // rows)
                for chain, x in inputs.items():
                    times = {"matmul": [], "blocks": []}
                    for _ in range(args.rounds):
                        for name, product in (("matmul", numpy.matmul), ("blocks", blocks)):
                            times[name].append(median_us(
                                functools.partial(chain, product, x), calls))
                    a, b = (statistics.median(times[k]) for k in ("matmul", "blocks"))
                    print(f"threads {threads:2d} rows {rows:3d} {chain.__name__:8s}: "
                          f"matmul {a:7.1f} us, blocks {b:7.1f} us, ratio {b / a:.2f}",
                          flush=True)


if __name__ == "__main__":
    main()
