"""The team of threads that shares the optimizer step, and BLAS's quiet idle threads."""

import os
import threading
import time

import numpy as np
import pytest

import fcnet
from fcnet.backend import threads
from fcnet.models.step import MIN_SHARED_UPDATE, TrainStep
from fcnet.optimizers import SGD, Adam, AdamW, Nadam, RMSprop

# ------------------------------------------------------------------ the team


def test_team_runs_every_member_at_once():
    team = threads.Team(3)
    seen, barrier = {}, threading.Barrier(3, timeout=5)

    def member(i):
        barrier.wait()  # only returns if all three members run at the same time
        seen[i] = threading.current_thread().name

    team.run(member)
    assert sorted(seen) == [0, 1, 2]
    assert seen[0] == threading.current_thread().name
    assert len(set(seen.values())) == 3


def test_team_raises_a_members_error_and_stays_usable():
    team = threads.Team(2)

    def fails_on_member_1(i):
        if i == 1:
            raise KeyError("member 1")

    with pytest.raises(KeyError, match="member 1"):
        team.run(fails_on_member_1)
    calls = []
    team.run(calls.append)
    assert sorted(calls) == [0, 1]


def test_num_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("FCNET_NUM_THREADS", "3")
    assert threads.num_threads() == 3
    monkeypatch.delenv("FCNET_NUM_THREADS")
    assert threads.num_threads() == min(threads.usable_cores(), 4)
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("FCNET_NUM_THREADS", bad)
        with pytest.raises(ValueError, match=f"FCNET_NUM_THREADS.*{bad!r}"):
            threads.num_threads()


# ------------------------------------------------------------------ BLAS's idle threads
needs_openblas = pytest.mark.skipif(threads._loaded_openblas() is None,
                                    reason="NumPy's BLAS is not an OpenBLAS fcnet can restart")


@needs_openblas
def test_quiet_blas_stops_idle_spinning_and_restores(monkeypatch):
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    a = np.random.default_rng(0).random((400, 400), dtype=np.float32)
    expected = a.astype(np.float64) @ a.astype(np.float64)
    with threads.quiet_blas():
        assert threads.blas_is_quiet()
        assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "14"
        np.testing.assert_allclose(a @ a, expected, rtol=1e-4)
        cpu = time.process_time()
        time.sleep(0.05)
        idle_cpu = time.process_time() - cpu
    assert idle_cpu < 0.02  # spinning threads would burn ~0.05 s per spare core
    assert not threads.blas_is_quiet()
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ
    np.testing.assert_allclose(a @ a, expected, rtol=1e-4)


def test_quiet_blas_disabled_leaves_blas_alone(monkeypatch):
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    with threads.quiet_blas(enabled=False):
        assert not threads.blas_is_quiet()
        assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ


def test_quiet_blas_leaves_a_users_setting(monkeypatch):
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "20")
    with threads.quiet_blas():
        assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "20"
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "20"


# ------------------------------------------------------------------ the shared update
def _mlp(optimizer):
    fcnet.utils.set_random_seed(7)
    model = fcnet.Sequential([fcnet.Input(shape=(256,)),
                              fcnet.layers.Dense(512, activation="relu"),
                              fcnet.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@needs_openblas
@pytest.mark.parametrize("make_optimizer", [
    lambda: Adam(amsgrad=True), lambda: SGD(0.1, momentum=0.9, nesterov=True),
    lambda: RMSprop(centered=True, momentum=0.5), lambda: AdamW(weight_decay=0.01),
    lambda: Adam(clipvalue=0.001)])
def test_team_update_gives_the_single_thread_run(monkeypatch, make_optimizer):
    rng = np.random.default_rng(0)
    x = rng.random((200, 256), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    runs, original = {}, TrainStep._shared_update
    for members in ("1", "2", "3"):
        monkeypatch.setenv("FCNET_NUM_THREADS", members)
        model = _mlp(make_optimizer())
        shared = []
        monkeypatch.setattr(TrainStep, "_shared_update",
                            lambda self, *args, shared=shared: shared.append(1)
                            or original(self, *args))
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        assert len(shared) == (0 if members == "1" else 14)  # 7 batches, 2 epochs
        runs[members] = (history.history, model.get_weights(),
                         [np.array(v) for v in model.optimizer.variables])
    assert sum(w.size for w in runs["1"][1]) >= MIN_SHARED_UPDATE
    for members in ("2", "3"):
        assert runs[members][0] == runs["1"][0]
        for a, b in zip(runs[members][1] + runs[members][2], runs["1"][1] + runs["1"][2]):
            np.testing.assert_array_equal(a, b)  # an element-wise rule: the very same bits


def test_small_models_and_whole_buffer_rules_step_on_one_thread(monkeypatch):
    monkeypatch.setenv("FCNET_NUM_THREADS", "2")
    x = np.zeros((4, 256), np.float32)
    y = np.zeros(4, int)
    small = fcnet.Sequential([fcnet.Input(shape=(4,)), fcnet.layers.Dense(3)])
    small.compile(optimizer="adam", loss="mse")
    small.fit(np.zeros((4, 4), np.float32), np.zeros((4, 3), np.float32), verbose=0)
    assert small._step.share_ranges is None
    for optimizer in (Nadam(), Adam(clipnorm=1.0), Adam(global_clipnorm=1.0),
                      Adam(use_ema=True), SGD(gradient_accumulation_steps=2)):
        model = _mlp(optimizer)
        model.fit(x, y, verbose=0)
        step = model._step
        assert step.optimizer.split(step.share_ranges) is None, optimizer.get_config()
