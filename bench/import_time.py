"""How long ``import fcnet`` takes in a fresh interpreter (median of several runs).

Measured twice: with Python's bytecode cache (the usual case after the first import)
and with fcnet's modules compiled on every run (``PYTHONDONTWRITEBYTECODE=1``, as on
machines that set it), NumPy's bytecode cached in both.

    python bench/import_time.py [--runs 11]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

PROBE = ("import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter(); "
         "import fcnet; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)")


def measure(runs: int, env: dict) -> tuple[float, float]:
    numpy_times, fcnet_times = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        numpy_times.append(float(out[0]))
        fcnet_times.append(float(out[1]))
    return statistics.median(numpy_times), statistics.median(fcnet_times)


def cached_env(env: dict) -> dict:
    """``env`` with Python's bytecode cache written and read (some machines set
    ``PYTHONDONTWRITEBYTECODE``), after one import that brings fcnet's cache up to date:
    a module edited since its last cached import would otherwise be compiled at every
    run."""
    cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import fcnet"], env=cached, check=True)
    return cached


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    cached = cached_env(dict(os.environ))
    # A cache folder holding NumPy's bytecode only (as after its installation), never
    # written again: fcnet's modules are compiled on every run.
    prefix = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True,
                   env=dict(cached, PYTHONPYCACHEPREFIX=prefix))
    uncached = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=prefix)
    for label, env in (("bytecode cached", cached), ("no bytecode cache", uncached)):
        numpy_s, fcnet_s = measure(args.runs, env)
        print(f"import fcnet, {label}: numpy {numpy_s * 1e3:.0f} ms + fcnet's own "
              f"{fcnet_s * 1e3:.0f} ms = {(numpy_s + fcnet_s) * 1e3:.0f} ms "
              f"(median of {args.runs})")


if __name__ == "__main__":
    main()
