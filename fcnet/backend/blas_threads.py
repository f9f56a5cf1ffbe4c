"""Keeps training fast when the machine is shared: BLAS threads that step aside.

OpenBLAS's threads wait for each other by spinning. When another process takes a
core, a thread that waits spins through the time slice its partner needs, and a
matrix product that took 0.3 ms can take 10 ms (two trainings at once: ×20). One BLAS
thread per process has no partner to wait for, but leaves a core idle when only part
of it is taken (one busy process on two cores).

`ThreadGovernor` times each training step and runs it in one of three modes, whichever
its recent steps show to be the fastest:

- ``threads`` (an int > 1): BLAS's own thread count, the fast way on an idle machine;
- ``1``: one BLAS thread, the fast way on a crowded one;
- ``"team"``: one BLAS thread per block of each large product, the blocks shared by
  ``fcnet.backend.thread_team``'s threads, which block rather than spin while they wait,
  so a thread that gets part of a core does part of the work (one core busy).

It keeps a running median of each mode: every ``probe_every`` steps it tries the next
other mode for one step, and each probe that confirms the current mode doubles the
interval (up to ``max_probe_every``), so on a machine whose load does not change,
probing costs almost nothing. A probe costs about one step (one thread is about half as
fast on an idle machine), so while BLAS's own threads are in force and the machine's
other processes have kept less than a quarter of a core busy since the last probe
(``OtherLoad``: Linux's ``/proc/stat`` less this process's own CPU time), the probe is
skipped as if it had confirmed them. A mode is taken, on trial, when its probe beats the
current mode's median (its own older times, from another load, are dropped), and kept
only if its next few steps confirm it. Threads are set through threadpoolctl (a public
interface); without it, or with a BLAS of one thread, the governor does nothing.
``FCNET_BLAS_GOVERNOR=0`` turns it off and ``FCNET_THREAD_TEAM=0`` leaves the team out
(products then run on BLAS's own threads).

The thread count changes how a product is split between threads, never the order of
any sum, so the results do not depend on the mode (the team's blocks agree with
whole products to float32 rounding, and so do the blocks of columns a batch of up to 32
rows is cut into while BLAS runs several threads: ``fcnet.backend.few_rows``).
"""

from __future__ import annotations

import os
import time
from collections import deque

from fcnet.backend import blas_pool, thread_team

TEAM = "team"


class ThreadGovernor:
    """Chooses, step by step, between BLAS's thread count, one thread and the team.

    Use: ``governor.begin()`` when a fit starts, ``before_step()`` / ``after_step()``
    around each step, and ``restore()`` at the end (BLAS gets its thread count back and
    the team stops).
    """

    min_step_seconds = 2e-4  # below this, BLAS runs one thread anyway: nothing to govern
    trial_steps = 3  # steps a new mode has to confirm a switch

    quiet_cores = 0.25  # other processes' load under which the probes are skipped

    def __init__(self, probe_every: int = 8, max_probe_every: int = 1024, window: int = 9,
                 team: bool | None = None, load=None):
        self._libraries = _blas_libraries()
        # cores the other processes kept busy since the last call (None: unknown)
        self._load = OtherLoad() if load is None else load
        self.threads = max((lib.num_threads for lib in self._libraries), default=1)
        self.active = self.threads > 1 and os.environ.get("FCNET_BLAS_GOVERNOR", "1") != "0"
        if team is None:
            team = os.environ.get("FCNET_THREAD_TEAM", "1") != "0"
        self.team = team
        if self.threads > 1 and blas_pool.install():  # BLAS and fcnet's loops: one set
            blas_pool.set_threads(self.threads)
        self.modes = [self.threads, 1] + ([TEAM] if team else [])
        self.mode = self.threads  # the mode steps run in
        self.times = {mode: deque(maxlen=window) for mode in self.modes}
        self.probe_every, self.max_probe_every = probe_every, max_probe_every
        self.interval = probe_every
        self.until_probe = probe_every
        self.probing = None  # the mode being tried this step
        self._next_probe = 0  # index into the other modes, round-robin
        self.switches = self.probes = self.reverts = 0
        self._trial = None  # (previous mode, its median, the new mode's first steps)
        self._start = 0.0

    def _set(self, mode, in_fit: bool = True) -> None:
        threads = self.threads if mode == self.threads else 1
        for lib in self._libraries:
            lib.set_num_threads(threads)
        blas_pool.set_threads(threads)
        _team_flags(mode, in_fit and self.team, self.threads)

    def before_step(self) -> None:
        if not self.active:
            return
        self.until_probe -= 1
        if self.until_probe <= 0 and len(self.times[self.mode]) >= 3:
            if self.mode == self.threads and self._quiet():
                self._back_off()  # as a probe that confirmed BLAS's own threads
                self._start = time.perf_counter()
                return
            others = [m for m in self.modes if m != self.mode]
            self.probing = others[self._next_probe % len(others)]
            self._next_probe += 1
            self.probes += 1
            self._set(self.probing)
        self._start = time.perf_counter()

    def after_step(self) -> None:
        if not self.active:
            return
        seconds = time.perf_counter() - self._start
        if self.probing is None:
            self.times[self.mode].append(seconds)
            if self._trial is not None:
                self._check_switch(seconds)
            if seconds < self.min_step_seconds and len(self.times[self.mode]) >= 3:
                self.active = False  # steps too small for BLAS threads to matter
                if self.mode != self.threads:
                    self.mode = self.threads
                    self._set(self.threads, in_fit=False)
                else:
                    _team_flags(self.threads, False, self.threads)
            return
        tried, self.probing = self.probing, None
        current = _median(self.times[self.mode])
        if seconds < current:
            # the other way is faster: the load has changed, so its older times are stale;
            # take it, on trial for its next steps
            self.times[tried].clear()
            self.times[tried].append(seconds)
            self._trial = (self.mode, current, [])
            self.mode, self.switches = tried, self.switches + 1
            self.interval = self.until_probe = self.probe_every
        else:
            self.times[tried].append(seconds)
            self._set(self.mode)
            self._back_off()

    def _back_off(self) -> None:
        """The mode in force was confirmed: the next probe comes twice as late."""
        self.interval = min(2 * self.interval, self.max_probe_every)
        self.until_probe = self.interval

    def _quiet(self) -> bool:
        """Whether the other processes left this one's cores alone since the last probe."""
        others = self._load()
        return others is not None and others < self.quiet_cores

    def _check_switch(self, seconds) -> None:
        """After a switch, the new mode's first ``trial_steps`` steps must beat the old
        mode's median, or the governor goes back (a probe can be lucky on a machine whose
        load comes and goes: the other process between two of its epochs, say)."""
        previous, median, steps = self._trial
        steps.append(seconds)
        if len(steps) < self.trial_steps:
            return
        self._trial = None
        if _median(steps) > median:
            self.mode, self.reverts = previous, self.reverts + 1
            self._set(previous)
            self._back_off()

    def begin(self) -> ThreadGovernor:
        """A ``fit`` starts: its steps run in the mode the earlier steps chose."""
        if self.active:
            if self.mode != self.threads:
                self._set(self.mode)
            else:
                _team_flags(self.mode, self.team, self.threads)
        return self

    def restore(self) -> None:
        """A ``fit`` ends: BLAS gets its own thread count back and the team stops (the
        mode is remembered)."""
        if self.active and self.mode != self.threads:
            self._set(self.threads, in_fit=False)
        else:
            _team_flags(self.threads, False, self.threads)


def _team_flags(mode, in_fit: bool, threads: int) -> None:
    """The team (of BLAS's thread count) splits the products of ``fit``'s steps in the
    team mode only."""
    if in_fit or thread_team._TEAM is not None:
        thread_team.team(threads).active = in_fit and mode == TEAM



_SHARED: ThreadGovernor | None = None


def governor() -> ThreadGovernor:
    """The process's governor (BLAS's thread count is one setting for the whole process,
    and what earlier fits learned about the machine carries over)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = ThreadGovernor()
    return _SHARED


def limit_threads(threads: int) -> None:
    """Caps every BLAS and OpenMP thread pool of the process at ``threads`` (through
    threadpoolctl; a data-parallel process's share of the cores); the governor starts
    afresh from that count."""
    global _SHARED
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)
    _SHARED = None


class _NoGovernor:
    """Steps without thread steering (CuPy, or a step outside ``fit``)."""

    def before_step(self) -> None:
        pass

    after_step = restore = before_step

    def begin(self):
        return self


NO_GOVERNOR = _NoGovernor()


class OtherLoad:
    """``load()``: how many cores the machine's other processes kept busy, on average,
    since the previous call: the busy time of every core (``/proc/stat``: user, nice,
    system, irq, softirq and steal) less this process's own CPU time (``os.times``, all
    its threads, BLAS's spinning ones included), over the wall time between the calls.
    None where it cannot be known (no ``/proc/stat``: not Linux)."""

    def __init__(self):
        self._last = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat", "rb") as stat:
                ticks = [int(v) for v in stat.readline().split()[1:9]]
            tick = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            return None
        busy = (sum(ticks) - ticks[3] - ticks[4]) / tick  # all but idle and iowait
        own = os.times()
        return busy, own.user + own.system, time.perf_counter()

    def __call__(self):
        now, last = self._sample(), self._last
        self._last = now
        if now is None or last is None or now[2] <= last[2]:
            return None
        return max(0.0, (now[0] - last[0]) - (now[1] - last[1])) / (now[2] - last[2])


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded (none without it)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    try:
        return list(ThreadpoolController().select(user_api="blas").lib_controllers)
    except Exception:  # an unusual BLAS that threadpoolctl cannot steer: leave it alone
        return []


def _median(values) -> float:
    """The median of a few step times (``statistics`` costs milliseconds to import)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
