"""The BLAS thread governor: its choice between thread counts, and that training gives
the same weights whichever it chooses (no timing is asserted)."""

import numpy
import pytest

import fcnet
from fcnet.backend import blas_threads
from fcnet.backend.blas_threads import ThreadGovernor


class FakeBlas:
    def __init__(self, threads=2):
        self.num_threads, self.history = threads, []

    def set_num_threads(self, n):
        self.num_threads = n
        self.history.append(n)


def _governor(monkeypatch, blas, **kwargs):
    monkeypatch.setattr(blas_threads, "_blas_libraries", lambda: [blas])
    monkeypatch.delenv("FCNET_BLAS_GOVERNOR", raising=False)
    return ThreadGovernor(**kwargs)


def _drive(governor, blas, seconds_by_threads, steps, clock):
    """Runs ``steps`` steps whose duration depends on the thread count in force."""
    for _ in range(steps):
        governor.before_step()
        clock[0] += seconds_by_threads[blas.num_threads]
        governor.after_step()


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(blas_threads.time, "perf_counter", lambda: now[0])
    return now


def test_an_idle_machine_keeps_blas_threads_and_probes_ever_less(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=8, max_probe_every=64)
    _drive(governor, blas, {2: 0.002, 1: 0.0035}, 400, clock)
    assert governor.mode == 2 and blas.num_threads == 2 and governor.switches == 0
    probes = blas.history.count(1)
    assert 4 <= probes <= 10  # 8, 16, 32, 64, 64, ...: the probing interval doubles
    assert governor.interval == 64


def test_a_busy_machine_moves_to_one_thread_and_back_when_the_load_goes(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=4, max_probe_every=16)
    _drive(governor, blas, {2: 0.002, 1: 0.0035}, 20, clock)        # idle
    _drive(governor, blas, {2: 0.040, 1: 0.0036}, 80, clock)        # spinning threads
    assert governor.mode == 1 and blas.num_threads == 1
    _drive(governor, blas, {2: 0.002, 1: 0.0035}, 200, clock)       # idle again
    assert governor.mode == 2 and blas.num_threads == 2
    assert governor.switches == 2
    governor.restore()
    assert blas.num_threads == 2


def test_small_steps_and_single_thread_blas_are_left_alone(monkeypatch, clock):
    blas = FakeBlas()
    governor = _governor(monkeypatch, blas, probe_every=2)
    _drive(governor, blas, {2: 1e-5, 1: 1e-5}, 50, clock)
    assert not governor.active and blas.history == []
    one = _governor(monkeypatch, FakeBlas(threads=1))
    assert not one.active
    monkeypatch.setenv("FCNET_BLAS_GOVERNOR", "0")
    assert not ThreadGovernor().active


def _fit(monkeypatch, governor_class):
    monkeypatch.setattr(blas_threads, "_SHARED", governor_class())
    fcnet.utils.set_random_seed(3)
    rng = numpy.random.default_rng(0)
    x = rng.random((512, 300), dtype=numpy.float32)
    y = rng.integers(0, 10, 512)
    model = fcnet.Sequential([fcnet.Input((300,)), fcnet.layers.Dense(256, activation="relu"),
                              fcnet.layers.Dense(10)])
    model.compile("adam", fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    return model.get_weights()


def test_training_gives_the_same_weights_in_either_mode(monkeypatch):
    class Switching(ThreadGovernor):
        """Tries the other thread count at every step (and takes it when it was faster)."""

        def __init__(self):
            super().__init__(probe_every=1, max_probe_every=1)
            self.min_step_seconds = 0.0

    class Off(ThreadGovernor):
        def __init__(self):
            super().__init__()
            self.active = False

    switching = _fit(monkeypatch, Switching)
    shared = blas_threads._SHARED
    if shared.active:  # BLAS runs several threads here: half the steps ran on one
        assert shared.probes >= 8
    plain = _fit(monkeypatch, Off)
    for a, b in zip(switching, plain):
        numpy.testing.assert_array_equal(a, b)
