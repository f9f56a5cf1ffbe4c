"""Matrix products split over a team of threads that block, never spin, while they wait.

When another process holds one of the cores, BLAS's own threads are the wrong tool: a
product is split once, into one equal part per thread, and the part whose thread shares
its core with the other process finishes last, while the thread that is done spins
(OpenBLAS) or sleeps and the product takes as long as the slowest part. The team splits
the output's rows into several blocks per thread instead,

    out[r0:r1] = a[r0:r1] · b          for each block of rows [r0, r1)

and every thread, the caller's included, takes the next block until none is left, each
with a one-thread BLAS. A thread that gets less of its core does fewer blocks; a thread
with nothing to do waits on a queue (a blocking wait: it gives its core away). Each
output row is computed by the same BLAS kernel over the same ``K`` as in one product,
so the blocks agree with the whole product to float32 rounding (bit for bit where BLAS
takes the same kernel path for a block of rows as for the whole matrix).

The team works only while ``active`` (``fcnet.backend.blas_threads`` switches it on, with
BLAS at one thread, for the training steps it finds faster that way) and only for NumPy
float32 or float64 products large enough to be worth splitting; otherwise ``matmul`` is
``numpy.matmul``. Its threads start on first use and are daemons.
"""

from __future__ import annotations

import itertools
import queue
import threading

import numpy

# Products below this many multiply-adds, or with fewer than two blocks of rows, run whole.
MIN_WORK = 1 << 20
MIN_ROWS = 16  # rows per block at least (a block of a few rows wastes BLAS's kernels)
BLOCKS_PER_THREAD = 4


class _Job:
    """One product's blocks; every thread that runs it takes the next block until none
    is left."""

    __slots__ = ("a", "b", "out", "bounds", "next", "remaining", "lock", "done", "error")

    def __init__(self, a, b, out, bounds):
        self.a, self.b, self.out, self.bounds = a, b, out, bounds
        self.next = itertools.count()  # next() on a count is atomic under the GIL
        self.remaining = len(bounds)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def run(self) -> None:
        a, b, out, bounds = self.a, self.b, self.out, self.bounds
        while True:
            i = next(self.next)
            if i >= len(bounds):
                return
            r0, r1 = bounds[i]
            try:
                numpy.matmul(a[r0:r1], b, out=out[r0:r1])  # releases the GIL in BLAS
            except BaseException as error:  # re-raised by the caller
                self.error = error
            with self.lock:
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()


class ThreadTeam:
    """``threads`` threads (the caller and ``threads - 1`` workers) sharing each product.

    Use: ``team.active = True`` (with BLAS at one thread), then ``team.matmul(a, b)``.
    """

    def __init__(self, threads: int):
        self.threads = max(1, int(threads))
        self.active = False
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._start_lock = threading.Lock()

    def _start(self) -> None:
        with self._start_lock:
            while len(self._workers) < self.threads - 1:
                worker = threading.Thread(target=self._work, daemon=True,
                                          name=f"fcnet-team-{len(self._workers)}")
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        while True:
            job = self._tasks.get()  # blocks: an idle worker gives its core away
            job.run()

    def bounds(self, rows: int) -> list[tuple[int, int]]:
        """The blocks of rows of an output with ``rows`` rows (multiples of 8 rows but
        the last)."""
        blocks = min(BLOCKS_PER_THREAD * self.threads, rows // MIN_ROWS)
        if blocks < 2:
            return [(0, rows)]
        step = -(-rows // blocks)
        step = -(-step // 8) * 8
        return [(r, min(r + step, rows)) for r in range(0, rows, step)]

    def matmul(self, a, b, out=None):
        """``a · b`` for 2-D ``a (M, K)`` and ``b (K, N)`` (into ``out`` when given), the
        rows of the output shared by the team while it is active."""
        if (not self.active or self.threads < 2 or type(a) is not numpy.ndarray
                or type(b) is not numpy.ndarray or a.ndim != 2 or b.ndim != 2
                or a.dtype != b.dtype or a.dtype.char not in "fd"
                or a.shape[0] * a.shape[1] * b.shape[1] < MIN_WORK):
            return numpy.matmul(a, b, out=out)
        bounds = self.bounds(a.shape[0])
        if len(bounds) < 2:
            return numpy.matmul(a, b, out=out)
        if out is None:
            out = numpy.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        if len(self._workers) < self.threads - 1:
            self._start()
        job = _Job(a, b, out, bounds)
        for _ in range(min(self.threads - 1, len(bounds) - 1)):
            self._tasks.put(job)
        job.run()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return out


_TEAM: ThreadTeam | None = None


def team() -> ThreadTeam:
    """The process's team, one thread per core this process may use."""
    global _TEAM
    if _TEAM is None:
        import os

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        _TEAM = ThreadTeam(cores)
    return _TEAM


def matmul(a, b, out=None):
    """``numpy.matmul(a, b, out=out)`` for NumPy arrays, through the team while it is
    active."""
    if _TEAM is not None and _TEAM.active:
        return _TEAM.matmul(a, b, out=out)
    return numpy.matmul(a, b, out=out)
