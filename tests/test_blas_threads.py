"""The BLAS thread governor: its choice between thread counts, and that training gives
the same weights whichever it chooses (no timing is asserted)."""

import numpy
import pytest

import fcnet
from fcnet.backend import blas_threads, thread_team
from fcnet.backend.blas_threads import TEAM, ThreadGovernor


class FakeBlas:
    def __init__(self, threads=2):
        self.num_threads, self.history = threads, []

    def set_num_threads(self, n):
        self.num_threads = n
        self.history.append(n)


def _governor(monkeypatch, blas, **kwargs):
    monkeypatch.setattr(blas_threads, "_blas_libraries", lambda: [blas])
    monkeypatch.setattr(thread_team, "_TEAM", thread_team.ThreadTeam(2))
    monkeypatch.delenv("FCNET_BLAS_GOVERNOR", raising=False)
    monkeypatch.delenv("FCNET_THREAD_TEAM", raising=False)
    kwargs.setdefault("load", lambda: None)  # the other processes' load unknown: probe
    return ThreadGovernor(**kwargs)


def _mode_now(blas):
    return TEAM if thread_team._TEAM.active else blas.num_threads


def _drive(governor, blas, seconds_by_mode, steps, clock):
    """Runs ``steps`` steps whose duration depends on the mode in force."""
    for _ in range(steps):
        governor.before_step()
        clock[0] += seconds_by_mode[_mode_now(blas)]
        governor.after_step()


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(blas_threads.time, "perf_counter", lambda: now[0])
    return now


IDLE = {2: 0.002, 1: 0.0035, TEAM: 0.0024}
ONE_CORE_BUSY = {2: 0.040, 1: 0.0036, TEAM: 0.0028}  # the team gets a core and a half
CROWDED = {2: 0.040, 1: 0.0036, TEAM: 0.0060}


def test_an_idle_machine_keeps_blas_threads_and_probes_ever_less(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=8, max_probe_every=64)
    _drive(governor, blas, IDLE, 400, clock)
    assert governor.mode == 2 and blas.num_threads == 2 and governor.switches == 0
    assert not thread_team._TEAM.active
    assert 4 <= governor.probes <= 10  # 8, 16, 32, 64, 64, ...: the interval doubles
    assert governor.interval == 64
    assert {len(governor.times[m]) > 0 for m in (1, TEAM)} == {True}  # both were tried


def test_the_governor_follows_the_load_through_every_mode(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=4, max_probe_every=16)
    _drive(governor, blas, IDLE, 20, clock)
    assert governor.mode == 2
    _drive(governor, blas, ONE_CORE_BUSY, 120, clock)
    assert governor.mode == TEAM and blas.num_threads == 1 and thread_team._TEAM.active
    _drive(governor, blas, CROWDED, 200, clock)
    assert governor.mode == 1 and blas.num_threads == 1 and not thread_team._TEAM.active
    _drive(governor, blas, IDLE, 300, clock)
    assert governor.mode == 2 and blas.num_threads == 2 and not thread_team._TEAM.active
    governor.restore()
    assert blas.num_threads == 2


def test_a_quiet_machine_skips_the_probes(monkeypatch, clock):
    """Counted, not timed: while the other processes leave the cores alone, BLAS's own
    threads stay without a probe; once they take a core, the probes find the team."""
    blas = FakeBlas()
    others = [0.0]
    governor = _governor(monkeypatch, blas, load=lambda: others[0])
    _drive(governor, blas, IDLE, 300, clock)
    assert governor.probes == 0 and governor.mode == 2 and governor.interval > 8
    others[0] = 1.0
    _drive(governor, blas, ONE_CORE_BUSY, 400, clock)
    assert governor.probes > 0 and governor.mode == TEAM


def test_when_the_load_goes_blas_gets_its_threads_back_within_a_few_probes(monkeypatch,
                                                                          clock):
    """Away from BLAS's own threads the probes go on; a probe faster than the mode in
    force clears the probed mode's times from the crowded spell, so one probe starts its
    trial (before, the stale times kept the team for over 800 idle steps)."""
    blas = FakeBlas()
    others = [2.0]
    governor = _governor(monkeypatch, blas, load=lambda: others[0])
    _drive(governor, blas, CROWDED, 60, clock)
    assert governor.mode == 1
    others[0] = 0.0
    _drive(governor, blas, IDLE, 40, clock)
    assert governor.mode == 2 and blas.num_threads == 2


@pytest.mark.skipif(not blas_threads.os.path.exists("/proc/stat"), reason="Linux only")
def test_other_load_sees_a_busy_process():
    import subprocess
    import sys
    import time

    load = blas_threads.OtherLoad()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        load()
        time.sleep(0.5)  # this process sleeps: what is busy is someone else
        assert load() >= 0.5
    finally:
        busy.kill()
        busy.wait()


def test_restore_gives_blas_its_threads_back_and_stops_the_team(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=2, max_probe_every=4)
    _drive(governor, blas, ONE_CORE_BUSY, 60, clock)
    assert governor.mode == TEAM and thread_team._TEAM.active
    governor.restore()
    assert blas.num_threads == 2 and not thread_team._TEAM.active
    governor.begin()  # the next fit starts where this one left off
    assert blas.num_threads == 1 and thread_team._TEAM.active
    governor.restore()


def test_without_the_team_the_governor_chooses_between_thread_counts(monkeypatch, clock):
    blas = FakeBlas()
    monkeypatch.setenv("FCNET_THREAD_TEAM", "0")
    monkeypatch.setattr(blas_threads, "_blas_libraries", lambda: [blas])
    monkeypatch.setattr(thread_team, "_TEAM", thread_team.ThreadTeam(2))
    governor = ThreadGovernor(probe_every=4, max_probe_every=16, load=lambda: None)
    assert governor.modes == [2, 1]
    _drive(governor, blas, ONE_CORE_BUSY, 100, clock)
    assert governor.mode == 1 and not thread_team._TEAM.active


def test_a_lucky_probe_is_taken_back_after_a_few_steps(monkeypatch, clock):
    """Two trainings at once: BLAS's threads spin (slow) unless the other process pauses
    between its epochs; one probe that lands in such a pause must not keep the slow mode."""
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=4, max_probe_every=16, team=False)
    _drive(governor, blas, CROWDED, 40, clock)
    assert governor.mode == 1 and governor.switches == 1
    governor.times[2].extend([IDLE[2]] * 9)  # BLAS's threads were fast a while ago
    lucky = [True]

    def step_time():
        mode = _mode_now(blas)
        if mode == 2 and governor.probing == 2 and lucky[0]:
            lucky[0] = False
            return 0.0005  # the other process paused during this probe
        return CROWDED[mode]

    spent = []
    for _ in range(60):
        governor.before_step()
        spent.append(step_time())
        clock[0] += spent[-1]
        governor.after_step()
    assert not lucky[0] and governor.switches == 2 and governor.reverts == 1
    assert governor.mode == 1 and blas.num_threads == 1
    assert sum(t == CROWDED[2] for t in spent) <= governor.trial_steps + 3  # few slow steps


def test_small_steps_and_single_thread_blas_are_left_alone(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=2)
    _drive(governor, blas, {2: 1e-5, 1: 1e-5, TEAM: 1e-5}, 50, clock)
    assert not governor.active and blas.history == []
    one = _governor(monkeypatch, FakeBlas(threads=1))
    assert not one.active
    monkeypatch.setenv("FCNET_BLAS_GOVERNOR", "0")
    assert not ThreadGovernor().active


def test_steps_that_become_small_leave_blas_with_its_own_threads(monkeypatch, clock):
    """Regression: a governor that stopped in the one-thread mode left BLAS at one thread
    after fit (restore() did nothing once inactive)."""
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=2, max_probe_every=4)
    _drive(governor, blas, CROWDED, 40, clock)
    assert governor.mode == 1
    _drive(governor, blas, {2: 1e-5, 1: 1e-5, TEAM: 1e-5}, 10, clock)
    assert not governor.active and blas.num_threads == 2
    governor.restore()
    assert blas.num_threads == 2


def _fit(monkeypatch, governor_class):
    monkeypatch.setattr(blas_threads, "_SHARED", governor_class())
    fcnet.utils.set_random_seed(3)
    rng = numpy.random.default_rng(0)
    x = rng.random((512, 300), dtype=numpy.float32)
    y = rng.integers(0, 10, 512)
    model = fcnet.Sequential([fcnet.Input((300,)), fcnet.layers.Dense(256, activation="relu"),
                              fcnet.layers.Dense(10)])
    model.compile("adam", fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    return model.get_weights()


def test_training_gives_the_same_weights_in_every_mode(monkeypatch):
    class Switching(ThreadGovernor):
        """Tries another mode at every step (and takes it when it was faster)."""

        def __init__(self):
            super().__init__(probe_every=1, max_probe_every=1, team=True,
                             load=lambda: None)
            self.min_step_seconds = 0.0

    class Team(ThreadGovernor):
        """Every step in the team mode."""

        def __init__(self):
            super().__init__(team=True)
            self.mode, self.probe_every = TEAM, 10**9
            self.interval = self.until_probe = 10**9
            self.min_step_seconds = 0.0

    class Off(ThreadGovernor):
        def __init__(self):
            super().__init__()
            self.active = False

    monkeypatch.setattr(thread_team, "_TEAM", thread_team.ThreadTeam(2))
    calls = []  # for each product: whether the team was on
    original = thread_team.ThreadTeam.matmul

    def matmul(self, a, b, out=None):
        calls.append(self.active)
        return original(self, a, b, out=out)

    monkeypatch.setattr(thread_team.ThreadTeam, "matmul", matmul)
    plain = _fit(monkeypatch, Off)
    assert not any(calls)
    teamed = _fit(monkeypatch, Team)
    assert sum(calls) >= 8 * 5  # 8 steps x 5 products, each split into blocks
    assert not thread_team._TEAM.active  # stopped when fit ended
    switching = _fit(monkeypatch, Switching)
    shared = blas_threads._SHARED
    if shared.active:  # BLAS runs several threads here: the steps ran in all three modes
        assert shared.probes >= 8
    for a, b, c in zip(plain, teamed, switching):
        numpy.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        numpy.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-7)
