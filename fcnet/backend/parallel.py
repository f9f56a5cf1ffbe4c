"""Where this process stands in a data-parallel job (floor 1, no MPI here).

``fcnet.distribution`` puts the active distribution here (``set_active``); the training
loop, the callbacks and the random layers read it through ``active()``, ``is_chief()``
and ``rows()`` without importing anything above this floor. With no distribution (a
single process) every function answers as for one process and costs a global lookup.

``rows()`` is the window of the global batch that this process holds during a step,
``(start, stop, total)``: random layers draw their masks for all ``total`` rows and keep
``[start:stop]``, so a mask does not depend on how the batch is split.
"""

from __future__ import annotations

import contextlib
import os

_active = None  # the distribution in force (None: one process)
_explicit = False  # set_active was called: no automatic distribution
_factory = None  # makes the distribution for a job started by mpiexec
_rows = None  # (start, stop, total) during a sharded step

# What launchers put in each process's environment: the job's number of processes.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


_launched = None  # launched_world_size(), read once: a launcher sets it before the start


def launched_world_size() -> int:
    """The number of processes ``mpiexec`` started for this job (1 outside one)."""
    global _launched
    if _launched is None:
        _launched = 1
        for name in _SIZE_VARIABLES:
            value = os.environ.get(name)
            if value and value.isdigit():
                _launched = int(value)
                break
    return _launched


def set_active(distribution, explicit: bool = True) -> None:
    """Makes ``distribution`` the one in force (None: a single process)."""
    global _active, _explicit
    _active, _explicit = distribution, explicit or _explicit


def register_factory(factory) -> None:
    """``factory()`` makes the distribution of a job that ``mpiexec`` started with more
    than one process and that set none itself (``FCNET_DATA_PARALLEL=0`` turns it off)."""
    global _factory
    _factory = factory


def active():
    """The distribution of a job of several processes, or None (one process)."""
    global _active
    if _active is None and not _explicit and _factory is not None \
            and launched_world_size() > 1 and os.environ.get("FCNET_DATA_PARALLEL") != "0":
        _active = _factory()
    if _active is None or _active.world_size < 2:
        return None
    return _active


def current():
    """The distribution set (even of one process), without starting one."""
    return _active


def rank() -> int:
    return 0 if _active is None else _active.rank


def is_chief() -> bool:
    """Whether this process prints and writes files (rank 0, or a single process)."""
    return _active is None or _active.rank == 0


def rows():
    """``(start, stop, total)``: this process's rows of the global batch, during a
    sharded step; None otherwise."""
    return _rows


@contextlib.contextmanager
def batch_rows(window):
    """Sets ``rows()`` to ``window`` for the duration of one step."""
    global _rows
    _rows = window
    try:
        yield
    finally:
        _rows = None


def suspend():
    """Steps out of the distribution (one process's own work); returns what ``resume``
    needs to step back in."""
    global _active, _explicit
    token = (_active, _explicit)
    _active, _explicit = None, True
    return token


def resume(token) -> None:
    global _active, _explicit
    _active, _explicit = token
