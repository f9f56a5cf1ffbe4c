"""A team of threads for the optimizer step, and a quiet BLAS for them to run beside.

A training step's matrix products already use every core (BLAS's own threads). The
optimizer update that follows is a dozen element-wise passes over the flat buffer, which
NumPy runs on one thread; NumPy lets go of the GIL inside those loops, so a team of
Python threads, each taking one range of the buffer, runs them on all cores at once.

They only get the cores if BLAS's threads let go of them: OpenBLAS's idle threads spin
for about 0.1 s after each call (2**28 cycles). ``quiet_blas()`` has them sleep after
2**14 cycles (a few microseconds) for the duration of a block, which ``fit`` wraps
around its epochs; a user's own ``OPENBLAS_THREAD_TIMEOUT`` is left as it is. The
setting takes effect by restarting OpenBLAS's thread pool, which must not happen while
another thread of the process is inside a BLAS call: where ``fit`` runs beside other BLAS
work, set ``OPENBLAS_THREAD_TIMEOUT`` (or ``FCNET_NUM_THREADS=1``) and fcnet leaves the
pool alone.

``FCNET_NUM_THREADS`` sets the team size; by default it is the number of usable cores,
at most 4. ``FCNET_NUM_THREADS=1`` turns the team off.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

_MAX_DEFAULT = 4
_ENV_TIMEOUT = "OPENBLAS_THREAD_TIMEOUT"
_QUIET_TIMEOUT = "14"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def num_threads() -> int:
    """The team size: ``FCNET_NUM_THREADS``, else the usable cores (at most 4)."""
    value = os.environ.get("FCNET_NUM_THREADS")
    if not value:
        return min(usable_cores(), _MAX_DEFAULT)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"FCNET_NUM_THREADS must be a positive integer. Received: {value!r}")
    return int(value)


class Team:
    """``size`` members: the calling thread is member 0, daemon threads are 1 … size-1.

    ``run(fn)`` calls ``fn(i)`` on every member at once and returns when all have
    finished; an exception raised by a member is raised again in the caller.
    """

    def __init__(self, size: int):
        self.size = size
        self._fn = None
        self._errors: list[BaseException] = []
        self._go = [threading.Event() for _ in range(size)]
        self._done = [threading.Event() for _ in range(size)]
        for i in range(1, size):
            threading.Thread(target=self._serve, args=(i,), daemon=True,
                             name=f"fcnet-team-{i}").start()

    def _serve(self, i: int) -> None:
        go, done = self._go[i], self._done[i]
        while True:
            go.wait()
            go.clear()
            self._call(i)
            done.set()

    def _call(self, i: int) -> None:
        try:
            self._fn(i)
        except BaseException as error:  # noqa: BLE001 -- raised again by run()
            self._errors.append(error)

    def run(self, fn) -> None:
        self._fn, self._errors = fn, []
        for i in range(1, self.size):
            self._done[i].clear()
            self._go[i].set()
        self._call(0)
        for i in range(1, self.size):
            self._done[i].wait()
        self._fn = None
        if self._errors:
            raise self._errors[0]


_teams: dict[int, Team] = {}


def team(size: int) -> Team:
    """The process's team of ``size`` members (its threads start on first use)."""
    if size not in _teams:
        _teams[size] = Team(size)
    return _teams[size]


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
    os.register_at_fork(after_in_child=_teams.clear)


# ------------------------------------------------------------------ BLAS's idle threads
_REQUIRED = ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")
_openblas = None  # the library once looked up; False when none can be restarted
_quiet = False


def _loaded_openblas():
    """The OpenBLAS that NumPy loaded, if it can be restarted with new settings (Linux)."""
    global _openblas
    if _openblas is None:
        _openblas = False
        try:
            with open("/proc/self/maps") as maps:
                paths = {line.split()[-1] for line in maps
                         if "openblas" in line.lower() and "/" in line}
            paths = sorted(paths, key=lambda p: ("numpy" not in p, p))  # NumPy's own first
        except OSError:
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            if all(hasattr(lib, name) for name in _REQUIRED):
                _openblas = lib
                break
    return _openblas or None


def _restart(lib, timeout: str | None) -> None:
    if timeout is None:
        os.environ.pop(_ENV_TIMEOUT, None)
    else:
        os.environ[_ENV_TIMEOUT] = timeout
    lib.openblas_read_env()
    lib.blas_thread_shutdown_()
    lib.blas_thread_init()


def blas_is_quiet() -> bool:
    """Whether BLAS's idle threads leave the cores to a team right after a call."""
    return _quiet or _ENV_TIMEOUT in os.environ


@contextlib.contextmanager
def quiet_blas(enabled: bool = True):
    """Inside the block OpenBLAS's idle threads sleep after ~2**14 cycles, not 2**28.

    With ``enabled`` False (no team will run) the block leaves BLAS as it is.
    """
    global _quiet
    lib = None if not enabled or blas_is_quiet() else _loaded_openblas()
    if lib is None:
        yield
        return
    _restart(lib, _QUIET_TIMEOUT)
    _quiet = True
    try:
        yield
    finally:
        _quiet = False
        _restart(lib, None)
