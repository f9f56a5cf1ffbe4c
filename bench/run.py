"""One command for the speed table: fcnet against each installed peer, every workload.

    python bench/run.py [--workloads A,B,C,D,D1,E,F,G,H] [--rounds 3] [--scale 1.0]

Every framework runs each workload in its own process (bench/workloads.py), one after
another, round after round (interleaved), on the same data, float32, with the machine's
cores as threads; OpenBLAS runs its native kernels (the runner removes
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from its workers' environment and prints the
kernel in use). It prints the medians and the ratio fcnet ÷ fastest peer, and writes
bench/RESULTS.md with the machine, the versions and the BLAS kernel.

G runs B while a busy process holds one core; H runs two B trainings of the same
framework at once. Both report each framework's slowdown against its own B time alone,
timed just before (each round of G, each pair of H: the machine's speed drifts by more
than the slowdowns differ within a few minutes), and H the worst epoch against the median
one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = ("pytorch", "keras3-jax", "sklearn")
MODULES = {"pytorch": "torch", "keras3-jax": "keras", "sklearn": "sklearn", "fcnet": "fcnet"}
TITLES = {
    "A": "A  seed 002 fit: Dense(1), 1,000,000 samples, batch 32, Adam (per step)",
    "B": "B  MLP 784-512-512-10, Adam, batch 128, one epoch of 60,000 (per step)",
    "C": "C  MLP 1024-2048-2048-1024, SGD, MSE, batch 256 (per step)",
    "D": "D  predict, B's network, 10,000 samples at batch 1024 (per call)",
    "D1": "D1 predict, one sample (per call)",
    "F": "F  seed 003's CNN, one epoch of 1,500 images, batch 32 (per step)",
}
BENCH_ENV = {k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
BENCH_ENV.setdefault("KERAS_BACKEND", "jax")


def installed(framework: str) -> bool:
    probe = ("import importlib.util, sys; "
             f"sys.exit(importlib.util.find_spec('{MODULES[framework]}') is None)")
    return subprocess.run([sys.executable, "-c", probe], env=BENCH_ENV).returncode == 0


def worker(workload, framework, scale, repeats=1, start_at=0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HERE / "workloads.py"), workload, framework, "--scale",
         str(scale), "--repeats", str(repeats), "--start-at", str(start_at)],
        env=BENCH_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict | None:
    """The worker's timings; None, with its last error line on stderr, when it failed."""
    out, err = process.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode or not lines:
        last = (err.strip().splitlines() or ["no output"])[-1]
        print(f"  worker {' '.join(process.args[2:4])} failed: {last}", file=sys.stderr)
        return None
    found = json.loads(lines[-1])
    return None if found.get("skipped") else found


def per_unit(found: dict) -> list[float]:
    return [s / found["units"] for s in found["seconds"]]


def interleaved(workload, frameworks, rounds, scale) -> dict[str, float]:
    """Median seconds per unit of each framework, one process per framework and round."""
    times: dict[str, list[float]] = {f: [] for f in frameworks}
    for _ in range(rounds):
        for framework in frameworks:
            found = result(worker(workload, framework, scale))
            if found:
                times[framework] += per_unit(found)
    return {f: statistics.median(t) for f, t in times.items() if t}


def table(title: str, medians: dict[str, float], unit: float, suffix: str) -> list[str]:
    lines = [title]
    peers = {f: t for f, t in medians.items() if f not in ("fcnet", "numpy-gemm")}
    fastest = min(peers.values()) if peers else None
    for framework, seconds in medians.items():
        note = ""
        if framework == "fcnet" and fastest:
            note = f"   fcnet ÷ fastest peer = {seconds / fastest:.2f}"
        lines.append(f"  {framework:<12} {seconds * unit:10.1f} {suffix}{note}")
    return lines


def import_and_size() -> list[str]:
    sys.path.insert(0, str(HERE))
    from import_time import cached_env, measure

    numpy_s, fcnet_s = measure(11, cached_env(BENCH_ENV))
    package = HERE.parent / "fcnet"
    size = sum(p.stat().st_size for p in package.rglob("*")
               if p.is_file() and p.suffix in (".py", ".so", ".c"))
    return ["E  import fcnet (bytecode cached, median of 11): "
            f"{(numpy_s + fcnet_s) * 1e3:.0f} ms (NumPy {numpy_s * 1e3:.0f} ms + fcnet "
            f"{fcnet_s * 1e3:.0f} ms); package size {size / 1e6:.2f} MB"]


def under_load(frameworks, rounds, scale) -> list[str]:
    """G: B while a busy loop holds one core, as each framework's slowdown. Each round,
    each framework runs B alone and then beside the busy loop, so that the two times of
    a ratio come from the same minute of a machine whose speed drifts."""
    alone: dict[str, list[float]] = {f: [] for f in frameworks}
    loaded: dict[str, list[float]] = {f: [] for f in frameworks}
    for _ in range(rounds):
        for framework in frameworks:
            quiet = result(worker("B", framework, scale))
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                time.sleep(1.0)
                busy_run = result(worker("B", framework, scale))
            finally:
                busy.kill()
                busy.wait()
            if quiet and busy_run:
                alone[framework] += per_unit(quiet)
                loaded[framework] += per_unit(busy_run)
    lines = ["G  B with one core held by a busy loop: slowdown against B alone just before"]
    for framework in frameworks:
        if loaded[framework]:
            now, before = statistics.median(loaded[framework]), statistics.median(
                alone[framework])
            lines.append(f"  {framework:<12} {now * 1e3:8.2f} ms/step   ×{now / before:.2f}"
                         f"   (alone {before * 1e3:.2f} ms/step)")
    return lines


def two_at_once(frameworks, scale, epochs=3) -> list[str]:
    """H: two B trainings of one framework started together, ``epochs`` epochs each,
    against one training of as many epochs alone just before."""
    lines = ["H  two B trainings at once: slowdown against B alone just before; worst "
             "epoch ÷ median"]
    for framework in frameworks:
        quiet = result(worker("B", framework, scale, repeats=epochs))
        start_at = time.time() + 30  # both warm up first, then start together
        pair = [worker("B", framework, scale, repeats=epochs, start_at=start_at)
                for _ in range(2)]
        found = [result(p) for p in pair]
        if not quiet or not all(found):
            continue
        before = statistics.median(per_unit(quiet))
        epochs_seen = [t for f in found for t in per_unit(f)]
        median = statistics.median(epochs_seen)
        lines.append(f"  {framework:<12} {median * 1e3:8.2f} ms/step   "
                     f"×{median / before:.2f}   worst epoch ÷ median "
                     f"{max(epochs_seen) / median:.2f}   (alone {before * 1e3:.2f} ms/step)")
    return lines


def versions(frameworks) -> str:
    code = ("import importlib, numpy; from threadpoolctl import threadpool_info; "
            "print('numpy', numpy.__version__); "
            "[print(i['internal_api'], i['version'], 'kernel=' + str(i['architecture']), "
            "'threads=' + str(i['num_threads'])) for i in threadpool_info() "
            "if i['user_api'] == 'blas']; "
            + "".join(f"print('{f}', importlib.import_module('{MODULES[f]}').__version__); "
                      for f in frameworks))
    out = subprocess.run([sys.executable, "-c", code], env=BENCH_ENV, capture_output=True,
                         text=True).stdout
    return out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="A,B,C,D,D1,E,F,G,H")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of A's, B's and C's samples (for a quick look)")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    frameworks = ["fcnet"] + [p for p in args.peers.split(",") if p and installed(p)]
    wanted = args.workloads.split(",")
    machine = (f"{platform.processor() or platform.machine()}, "
               f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}")
    lines = [f"Machine: {machine}", versions(frameworks), ""]
    print("\n".join(lines), flush=True)
    for workload in ("A", "B", "C", "D", "D1", "F"):
        if workload not in wanted:
            continue
        extra = ["numpy-gemm"] if workload in ("C", "D", "D1") else []
        medians = interleaved(workload, frameworks + extra, args.rounds,
                              args.scale if workload in "ABC" else 1.0)
        unit, suffix = (1e6, "us") if workload in ("A", "D1") else (1e3, "ms")
        block = table(TITLES[workload], medians, unit, suffix)
        if workload == "C" and "numpy-gemm" in medians and "fcnet" in medians:
            block.append(f"  fcnet runs at {medians['numpy-gemm'] / medians['fcnet']:.0%} of "
                         "NumPy's GEMM rate on these shapes")
        if workload in ("D", "D1") and "numpy-gemm" in medians and "fcnet" in medians:
            block.append("  numpy-gemm: the same forward pass in bare NumPy; fcnet ÷ "
                         f"numpy-gemm = {medians['fcnet'] / medians['numpy-gemm']:.2f}")
        print("\n".join(block), flush=True)
        lines += block + [""]
    for name, make in (("E", lambda: import_and_size()),
                       ("G", lambda: under_load(frameworks, args.rounds, args.scale)),
                       ("H", lambda: two_at_once(frameworks, args.scale))):
        if name in wanted:
            block = make()
            print("\n".join(block), flush=True)
            lines += block + [""]
    Path(args.out).write_text("# Benchmark results (bench/run.py)\n\n```\n"
                              + "\n".join(lines).rstrip() + "\n```\n")
    print(f"Written to {args.out}")


if __name__ == "__main__":
    main()
