"""Products over one term (K = 1): ``numpy.matmul`` against ``fcnet.ops.dense.matmul``.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/outer_product.py [--rounds 7]

NumPy's ``matmul`` runs ``a (M, 1) · b (1, N)`` without BLAS; fcnet runs it as the
broadcast multiply ``a · b`` (the same bits). Such products come up in a regression
network's last layer (the input gradient ``dz · kernelᵀ`` of ``Dense(1)``), a first
layer with one input feature, and every kernel gradient ``xᵀ · dz`` of a fit at batch 1.
Times each shape both ways in interleaved rounds; prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnet.ops import dense  # noqa: E402

CASES = {  # name: (a's shape, b's shape), b transposed where the fit has it so
    "dz·kernelᵀ of Dense(1), batch 128, 512 inputs": ((128, 1), (512, 1)),
    "x·kernel, one feature, batch 128, 512 units": ((128, 1), (1, 512)),
    "xᵀ·dz at batch 1, 784 inputs, 512 units": ((1, 784), (1, 512)),
}


def median_us(fn, calls: int = 300) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = numpy.random.default_rng(0)
    for name, (a_shape, b_shape) in CASES.items():
        a = rng.random(a_shape, dtype=numpy.float32)
        b = rng.random(b_shape, dtype=numpy.float32)
        a = a.T if a_shape[0] == 1 else a  # xᵀ: a transposed view, as the fit has it
        b = b.T if b_shape[1] == 1 else b  # kernelᵀ of Dense(1)
        assert numpy.array_equal(dense.matmul(a, b), numpy.matmul(a, b))
        times = {"numpy.matmul": [], "fcnet": []}
        for _ in range(args.rounds):
            times["numpy.matmul"].append(median_us(functools.partial(numpy.matmul, a, b)))
            times["fcnet"].append(median_us(functools.partial(dense.matmul, a, b)))
        m, f = (statistics.median(times[k]) for k in times)
        print(f"{name}: numpy.matmul {m:7.1f} us, fcnet {f:7.1f} us, ratio {f / m:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
