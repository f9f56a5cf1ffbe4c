"""Shared helpers for the benchmarks: timing medians and optional peers."""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def median_time(fn, repeats: int) -> float:
    """The median wall time of ``fn()`` over ``repeats`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def optional(name: str):
    """Imports a peer library, or returns None when it is not installed."""
    try:
        return __import__(name)
    except ImportError:
        return None


def report(title: str, results: dict[str, float], unit_steps: int) -> None:
    """Prints µs per step for each entry and its ratio to fcnet."""
    print(title)
    ours = results["fcnet"]
    for name, seconds in results.items():
        per_step = seconds / unit_steps * 1e6
        ratio = seconds / ours
        print(f"  {name:<14} {per_step:9.1f} us/step   {ratio:6.2f}x fcnet's time")
