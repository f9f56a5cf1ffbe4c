"""Shared helpers for the benchmarks: timing medians and optional peers."""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def interleaved_medians(runs: dict, repeats: int, pause: float = 0.5) -> dict[str, float]:
    """Median wall time of each ``runs[name]()``, timed round-robin (one warm-up each).

    Taking the peers in turn, round after round, spreads the machine's slow spells
    over all of them instead of over whichever ran during one. Each run starts after
    ``pause`` seconds of rest, so that a peer's idle threads, which spin for a while
    after their work (OpenBLAS, OpenMP, XLA's pool), have stopped and take no core
    from the next one.
    """
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            time.sleep(pause)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


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


def blas_report() -> str:
    """The BLAS libraries NumPy loaded: API, version, kernel (architecture), threads."""
    forced = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    note = f"  (forced by the environment: {', '.join(forced)})" if forced else ""
    try:
        import numpy  # noqa: F401  (loads the BLAS threadpoolctl reports)
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: threadpoolctl not installed (pip install threadpoolctl)" + note
    libs = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
            f"threads={i.get('num_threads')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "BLAS: " + ("; ".join(libs) or "none found") + note
