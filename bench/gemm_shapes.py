"""The matrix products of one training step of workload B (MLP 784-512-512-10, batch 128)
or C (MLP 1024-2048-2048-1024, batch 256), one at a time, in NumPy (OpenBLAS), PyTorch
(its own BLAS: MKL on x86) and JAX (XLA), each where installed; medians of interleaved
rounds, each library in a process of its own (alone, with no other library's idle
threads spinning beside it), ms and GFLOP/s, on every core and on one.

Tells whether a gap to a peer is in the products themselves (BLAS against BLAS) or in
fcnet's work around them. Run with OpenBLAS's native kernels:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm_shapes.py \
        [--workload B] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import blas_report, optional

WORKLOADS = {"B": (128, (784, 512, 512, 10)), "C": (256, (1024, 2048, 2048, 1024))}


def products(batch, sizes):
    """``(name, a, b)``: forward ``x·W``, kernel gradient ``xᵀ·dz``, input gradient
    ``dz·Wᵀ`` of every layer (no input gradient for the first)."""
    rng = np.random.default_rng(0)
    out = []
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = rng.random((batch, m), dtype=np.float32)
        w = rng.random((m, n), dtype=np.float32)
        dz = rng.random((batch, n), dtype=np.float32)
        out.append((f"x·W {batch}x{m}x{n}", x, w))
        out.append((f"xT·dz {m}x{batch}x{n}", x.T, dz))
        if i:
            out.append((f"dz·WT {batch}x{n}x{m}", dz, w.T))
    return out


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def product(a, b, library):
    """The product ``a @ b`` in ``library`` on the same operands (a transposed view stays
    one)."""
    if library == "torch":
        import torch

        def tensor(x):
            return (torch.from_numpy(x) if x.flags.c_contiguous
                    else torch.from_numpy(np.ascontiguousarray(x.T)).T)
        ta, tb = tensor(a), tensor(b)
        return lambda: ta @ tb
    if library == "jax":
        import jax

        ja, jb = jax.numpy.asarray(a), jax.numpy.asarray(b)
        dot = jax.jit(lambda p, q: p @ q)
        return lambda: dot(ja, jb).block_until_ready()
    return lambda: a @ b


def worker(workload, library, threads, repeats) -> dict:
    """In this process alone (no other library's idle threads spinning beside it): the
    median seconds of each of the workload's products in ``library``."""
    from threadpoolctl import threadpool_limits

    torch = optional("torch") if library == "torch" else None
    if torch is not None:
        torch.set_num_threads(threads)
    batch, sizes = WORKLOADS[workload]
    with threadpool_limits(threads, user_api="blas"):
        return {name: timed(product(a, b, library), repeats)
                for name, a, b in products(batch, sizes)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", default="B", choices=sorted(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "THREADS"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.workload, args.worker[0], int(args.worker[1]),
                                args.repeats)))
        return
    print(blas_report())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    libraries = ["numpy"] + [lib for lib in ("torch", "jax") if optional(lib) is not None]
    batch, sizes = WORKLOADS[args.workload]
    cases = products(batch, sizes)
    for threads in sorted({cores, 1}, reverse=True):
        times = {lib: [] for lib in libraries}
        for _ in range(args.rounds):  # each library in its own process, in turn
            for lib in libraries:
                out = subprocess.run(
                    [sys.executable, __file__, "--workload", args.workload, "--repeats",
                     str(args.repeats), "--worker", lib, str(threads)],
                    capture_output=True, text=True, check=True).stdout
                times[lib].append(json.loads(out.strip().splitlines()[-1]))
        print(f"\n{args.workload}'s products, {threads} thread(s) (JAX: every core); "
              f"median ms (GFLOP/s) of {args.rounds} interleaved processes each")
        print(f"{'product':26s}" + "".join(f"{lib:>18s}" for lib in libraries))
        total = dict.fromkeys(libraries, 0.0)
        for name, a, b in cases:
            flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
            cells = ""
            for lib in libraries:
                seconds = statistics.median(run[name] for run in times[lib])
                total[lib] += seconds
                cells += f"{seconds * 1e3:10.3f} ({flops / seconds / 1e9:4.0f})"
            print(f"{name:26s}{cells}")
        print(f"{'all products':26s}" + "".join(f"{total[lib] * 1e3:10.3f}{'':8s}"
                                                for lib in libraries))
        for lib in libraries[1:]:
            print(f"NumPy's products take {total['numpy'] / total[lib]:.2f}x {lib}'s")


if __name__ == "__main__":
    main()
