"""One set of threads for BLAS and for fcnet's compiled loops, threads that block when idle.

OpenBLAS's threads wait for work by spinning, about 0.1 s after each product; a loop run
by a second thread of fcnet's beside them would share its core with a spinner, so
fcnet's compiled loops (the optimizer updates of ``fcnet._fused``; max pooling, col2im
and the relu forwards of ``fcnet._conv``) ran on one core while BLAS used them all.

OpenBLAS 0.3.28 and later let the program run BLAS's threaded work on threads of its own
(``openblas_set_threads_callback_function``, a public function; NumPy's wheels export it
as ``scipy_openblas_set_threads_callback_function64_``). ``install`` hands it the threads
of ``fcnet._pool`` (``fcnet/_pool.c``): OpenBLAS then runs each threaded product's jobs
on them, as fast as on its own (measured: 128×784×512 to 256×2048×2048, within 3%), its
own threads go to sleep for good, and the same threads take the parts of fcnet's loops.
A thread with no work spins for at most 0.3 ms (a step's next product or loop finds it
awake), then blocks, so on a crowded machine it gives its core away 300 times sooner
than OpenBLAS's own.

It is done once per process, when ``fit`` first runs (``fcnet.backend.blas_threads``)
or a Dense layer first multiplies a few rows by a large kernel
(``fcnet.backend.few_rows``, whose blocks of columns run on the same threads), and only
where every condition holds: ``fcnet._pool`` is built, the BLAS is OpenBLAS on
its own (pthreads) threads and has the function, and ``FCNET_BLAS_POOL`` is not ``"0"``.
Otherwise BLAS keeps its threads and fcnet's loops stay on one (a second set of threads
beside another BLAS's would be two runtimes fighting for the cores). ``set_threads``
tells the loops how many parts to cut themselves into: BLAS's thread count while the
governor runs BLAS threaded, 1 otherwise. The parts of a loop write disjoint outputs,
each computed as the whole loop computes it, so results do not depend on the count.
"""

from __future__ import annotations

import ctypes
import os

_SETTERS = ("openblas_set_threads_callback_function",
            "scipy_openblas_set_threads_callback_function64_",
            "scipy_openblas_set_threads_callback_function")

_installed: bool | None = None  # None: not tried yet


def _pool():
    try:
        from fcnet import _pool
    except ImportError:  # built without a C compiler
        return None
    return _pool


def install() -> bool:
    """Hands OpenBLAS fcnet's threads (once per process); True where they serve it."""
    global _installed
    if _installed is not None:
        return _installed
    _installed = False
    pool = _pool()
    if pool is None or os.environ.get("FCNET_BLAS_POOL", "1").strip() == "0":
        return False
    address = pool.callback()
    if not address:
        return False
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return False
    found = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    if not found or any(info.get("internal_api") != "openblas"
                        or info.get("threading_layer") != "pthreads" for info in found):
        return False
    setters = []
    for info in found:
        library = ctypes.CDLL(info["filepath"])
        setter = next((getattr(library, name) for name in _SETTERS
                       if hasattr(library, name)), None)
        if setter is None:  # an OpenBLAS older than 0.3.28
            return False
        setter.argtypes, setter.restype = [ctypes.c_void_p], None
        setters.append(setter)
    for setter in setters:
        setter(address)
    _installed = True
    return True


def installed() -> bool:
    """Whether BLAS runs on fcnet's threads in this process."""
    return bool(_installed)


def set_threads(threads: int) -> None:
    """The compiled loops are cut into ``threads`` parts (1: plain loops); only once the
    threads serve BLAS too."""
    if _installed:
        _pool().set_parts(max(1, int(threads)))
