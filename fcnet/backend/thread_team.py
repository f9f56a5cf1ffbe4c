"""Matrix products split over a team of threads that block, never spin, while they wait.

When another process holds one of the cores, BLAS's own threads are the wrong tool: a
product is split once, into one equal part per thread, and the part whose thread shares
its core with the other process finishes last, while the thread that is done spins
(OpenBLAS) or sleeps and the product takes as long as the slowest part. The team splits
the output into a few blocks per thread instead, by rows or by columns, whichever keeps
each block's share of the larger operand its own (BLAS packs each block's operands),

    out[r0:r1] = a[r0:r1] · b      (M ≥ N)      out[:, c0:c1] = a · b[:, c0:c1]      (N > M)

and every thread, the caller's included, takes the next block until none is left, each
with a one-thread BLAS. A thread that gets less of its core does fewer blocks; a thread
with nothing to do waits on a queue (a blocking wait: it gives its core away). Each
output entry is a sum over the same ``K`` as in one product, so the blocks agree with
the whole product to float32 rounding (bit for bit where BLAS takes the same kernel path
for a block as for the whole matrix).

The team works only while ``active`` (``fcnet.backend.blas_threads`` switches it on, with
BLAS at one thread, for the training steps it finds faster that way) and only for NumPy
float32 or float64 products large enough to be worth splitting; otherwise ``matmul`` is
``numpy.matmul``. Its threads start on first use and are daemons.
"""

from __future__ import annotations

import functools
import itertools
import os
import queue
import threading

import numpy

# Products below this many multiply-adds, or with fewer than two blocks, run whole.
MIN_WORK = 1 << 20
MIN_ROWS = 16  # rows or columns per block at least (fewer waste BLAS's kernels)
BLOCKS_PER_THREAD = 2  # measured: balances a part-busy core with the least packing


class _Job:
    """A list of tasks (callables); every thread that runs the job takes the next task
    until none is left."""

    __slots__ = ("tasks", "next", "remaining", "lock", "done", "error")

    def __init__(self, tasks):
        self.tasks = tasks
        self.next = itertools.count()  # next() on a count is atomic under the GIL
        self.remaining = len(tasks)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def run(self) -> None:
        tasks = self.tasks
        while True:
            i = next(self.next)
            if i >= len(tasks):
                return
            try:
                tasks[i]()  # a NumPy product: BLAS runs without the GIL
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

    def bounds(self, size: int) -> list[tuple[int, int]]:
        """The blocks of an output axis of ``size`` rows or columns: equal parts (to one)
        of at least ``MIN_ROWS``, ``BLOCKS_PER_THREAD`` per thread at most."""
        blocks = max(1, min(BLOCKS_PER_THREAD * self.threads, size // MIN_ROWS))
        edges = [size * i // blocks for i in range(blocks + 1)]
        return list(zip(edges, edges[1:]))

    def matmul(self, a, b, out=None):
        """``a · b`` for 2-D ``a (M, K)`` and ``b (K, N)`` (into ``out`` when given), shared
        by the team (``blocks``) while it is active."""
        if (not self.active or type(a) is not numpy.ndarray
                or type(b) is not numpy.ndarray or a.ndim != 2 or b.ndim != 2
                or a.dtype != b.dtype or a.dtype.char not in "fd"):
            return numpy.matmul(a, b, out=out)
        blocks = self.blocks(a.shape[0], b.shape[1], a.shape[1])
        if blocks is None:
            return numpy.matmul(a, b, out=out)
        if out is None:
            out = numpy.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        # column blocks of b and out are strided, still BLAS's (ld = N)
        self.run([functools.partial(numpy.matmul, a[rows], b[:, cols], out=out[rows, cols])
                  for rows, cols in blocks])
        return out

    def blocks(self, m: int, n: int, k: int):
        """How the team shares a product with an ``(m, n)`` output summed over ``k``:
        ``[(rows, cols)]`` slices of the output, blocks of its rows (``m ≥ n``) or of its
        columns (``n > m``), so that each block packs only its own part of the larger
        operand; None where the product is too small to split (run it whole)."""
        if self.threads < 2 or m * n * k < MIN_WORK:
            return None
        whole = slice(None)
        if n > m:
            blocks = [(whole, slice(c0, c1)) for c0, c1 in self.bounds(n)]
        else:
            blocks = [(slice(r0, r1), whole) for r0, r1 in self.bounds(m)]
        return blocks if len(blocks) > 1 else None

    def run(self, tasks) -> None:
        """Runs the callables ``tasks`` on the team's threads and the caller's; returns
        when all are done (re-raising the first error)."""
        if len(tasks) == 1 or self.threads < 2:
            for task in tasks:
                task()
            return
        if len(self._workers) < self.threads - 1:
            self._start()
        job = _Job(tasks)
        for _ in range(min(self.threads - 1, len(tasks) - 1)):
            self._tasks.put(job)
        job.run()
        job.done.wait()
        if job.error is not None:
            raise job.error


_TEAM: ThreadTeam | None = None


def team(threads: int | None = None) -> ThreadTeam:
    """The process's team: ``threads`` threads (BLAS's thread count, which a
    data-parallel process caps at its share of the cores), or one per core this process
    may use. A new count makes a new team."""
    global _TEAM
    if threads is None:
        threads = _TEAM.threads if _TEAM is not None else (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)
    if _TEAM is None or _TEAM.threads != threads:
        _TEAM = ThreadTeam(threads)
    return _TEAM


def matmul(a, b, out=None):
    """``numpy.matmul(a, b, out=out)`` for NumPy arrays, through the team while it is
    active."""
    if _TEAM is not None and _TEAM.active:
        return _TEAM.matmul(a, b, out=out)
    return numpy.matmul(a, b, out=out)
