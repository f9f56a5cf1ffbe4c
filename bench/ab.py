"""fcnet against another checkout of fcnet, on the same work, in alternating processes.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/ab.py --base /path/to/old/fcnet

Each round runs every workload once in a fresh process for each side, the two sides
taken in turn (the order alternates from round to round), and prints the median time
per step over the rounds and the ratio new/base. A process imports fcnet from the
checkout it is given (``PYTHONPATH``), times one warm-up and then one run.

Workloads: ``seed002`` (seed 002's fit: Dense(1) on 1,000,000 samples, batch 32, Adam,
1 epoch) and ``mlp`` (784-512-512-10, batch 128, Adam, 60 steps).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORKLOADS = {
    "seed002": """
import numpy as np, fcnet, time
rng = np.random.default_rng(0)
x = rng.normal(size=(1_000_000, 1)).astype(np.float32); y = -x
model = fcnet.Sequential([fcnet.layers.Dense(1, use_bias=False, input_shape=(1,))])
model.compile(loss="mse", optimizer="adam")
model.fit(x[:64_000], y[:64_000], batch_size=32, epochs=1, verbose=0)
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=1, verbose=0)
print((time.perf_counter() - start) / 31250)
""",
    "mlp": """
import numpy as np, fcnet, time
rng = np.random.default_rng(0)
x = rng.random((128 * 60, 784), dtype=np.float32); y = rng.integers(0, 10, 128 * 60)
model = fcnet.Sequential([fcnet.Input((784,)), fcnet.layers.Dense(512, activation="relu"),
                          fcnet.layers.Dense(512, activation="relu"),
                          fcnet.layers.Dense(10, activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
model.fit(x[:128 * 10], y[:128 * 10], batch_size=128, epochs=1, verbose=0, shuffle=False)
start = time.perf_counter()
model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=False)
print((time.perf_counter() - start) / 60)
""",
}


def blas_kernel() -> str:
    try:
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    info = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    return ", ".join(f"{i.get('architecture')} x{i.get('num_threads')}" for i in info) or "?"


def run(checkout: Path, code: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="a checkout of fcnet to compare with")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    args = parser.parse_args()
    new, base = Path(__file__).resolve().parents[1], Path(args.base).resolve()
    print(f"OpenBLAS kernel: {blas_kernel()}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    for name in args.workloads:
        times = {"base": [], "new": []}
        for i in range(args.rounds):
            sides = [("base", base), ("new", new)]
            for side, path in sides if i % 2 == 0 else reversed(sides):
                time.sleep(0.5)
                times[side].append(run(path, WORKLOADS[name]))
        b, n = statistics.median(times["base"]), statistics.median(times["new"])
        print(f"{name}: base {b * 1e6:8.1f} us/step   new {n * 1e6:8.1f} us/step   "
              f"new/base {n / b:5.3f}   (median of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
