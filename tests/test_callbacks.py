"""Callbacks: dispatch, History, EarlyStopping, ReduceLROnPlateau, schedulers, CSV, NaN."""

import math
import os
import random
import warnings

import numpy as np
import pytest

from fcnet.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeOptimizer:
    def __init__(self, learning_rate=0.01):
        self._lr = learning_rate

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = float(value)


class FakeModel:
    """What callbacks see of a model: stop_training, weights, optimizer, history."""

    def __init__(self, learning_rate=0.01):
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.optimizer = FakeOptimizer(learning_rate)
        self.history = None

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]


def run_fit(callbacks, epoch_logs, model=None):
    """Drives callbacks as fit does; epoch e's training leaves the weights at [e, e].

    Returns the model and the epochs that ran.
    """
    model = model or FakeModel()
    cbs = CallbackList(callbacks, add_history=True, model=model, verbose=0,
                       epochs=len(epoch_logs), steps=1)
    model.stop_training = False
    cbs.on_train_begin()
    ran, logs = [], {}
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        model.weights = [np.full(2, float(epoch))]
        cbs.on_epoch_end(epoch, dict(logs))
        ran.append(epoch)
        if model.stop_training:
            break
    cbs.on_train_end(dict(logs))
    return model, ran


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": v} for v in values]


# ---------------------------------------------------------------- Callback, CallbackList
def test_callback_holds_model_and_params():
    cb, model = Callback(), FakeModel()
    assert cb.model is None and cb.params is None
    cb.set_model(model)
    cb.set_params({"epochs": 2})
    assert cb.model is model and cb.params == {"epochs": 2}


def test_train_batch_hooks_fall_back_to_legacy_aliases():
    seen = []

    class Legacy(Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, logs["loss"]))

    cbs = CallbackList([Legacy()])
    assert cbs.needs_batch_hooks
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 0.5})
    assert seen == [("begin", 0), ("end", 0, 0.5)]


def test_hooks_nobody_overrides_are_never_called(monkeypatch):
    calls = []
    for hook in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_end",
                 "on_predict_batch_end", "on_epoch_begin"):
        def spy(self, *args, _hook=hook, **kwargs):
            calls.append(_hook)
        monkeypatch.setattr(Callback, hook, spy)

    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append("epoch_end")

    cbs = CallbackList([EpochOnly(), History()], model=FakeModel())
    assert not cbs.needs_batch_hooks
    assert not cbs.needs_test_batch_hooks and not cbs.needs_predict_batch_hooks
    for batch in range(1000):
        cbs.on_train_batch_begin(batch)
        cbs.on_train_batch_end(batch, {"loss": 1.0})
        cbs.on_test_batch_end(batch, {"loss": 1.0})
        cbs.on_predict_batch_end(batch)
    cbs.on_epoch_begin(0)
    cbs.on_epoch_end(0, {"loss": 1.0})
    assert calls == ["epoch_end"]


def test_batch_hooks_get_the_callers_logs_and_epoch_hooks_a_float_copy():
    got = {}
    lam = LambdaCallback(
        on_train_batch_end=lambda batch, logs: got.setdefault("batch", logs),
        on_epoch_end=lambda epoch, logs: got.setdefault("epoch", logs),
    )
    cbs = CallbackList([lam])
    batch_logs = {"loss": np.float32(0.5)}
    cbs.on_train_batch_end(3, batch_logs)
    assert got["batch"] is batch_logs
    epoch_logs = {"loss": np.float32(0.5), "accuracy": np.float64(0.25), "val_loss": 1}
    cbs.on_epoch_end(0, epoch_logs)
    assert got["epoch"] == {"loss": 0.5, "accuracy": 0.25, "val_loss": 1.0}
    assert list(got["epoch"]) == ["loss", "accuracy", "val_loss"]  # order kept
    assert all(type(v) is float for v in got["epoch"].values())


def test_lambda_callback_other_hooks_by_keyword():
    events = []
    lam = LambdaCallback(on_train_begin=lambda logs: events.append("train_begin"),
                         on_test_end=lambda logs: events.append(("test_end", logs["loss"])))
    cbs = CallbackList([lam])
    assert not cbs.needs_batch_hooks
    cbs.on_train_begin()
    cbs.on_test_end({"loss": 2.0})
    assert events == ["train_begin", ("test_end", 2.0)]


def test_callback_list_adds_history_and_progbar_once():
    model = FakeModel()
    cbs = CallbackList(None, add_history=True, add_progbar=True, model=model, verbose=0)
    assert [type(c) for c in cbs.callbacks] == [History, ProgbarLogger]
    assert model.history is cbs.callbacks[0]
    mine = History()
    cbs = CallbackList([[mine]], add_history=True, model=model)  # nested lists flatten
    assert cbs.callbacks == [mine] and model.history is mine


def test_callback_list_sets_model_and_params_on_every_callback():
    a, b = Callback(), Callback()
    model = FakeModel()
    cbs = CallbackList([a], model=model, verbose=1, epochs=3, steps=10)
    cbs.append(b)
    for cb in (a, b):
        assert cb.model is model
        assert cb.params == {"verbose": 1, "epochs": 3, "steps": 10}


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="Received: callbacks=42"):
        CallbackList([42])


# ---------------------------------------------------------------- History
def test_history_records_epochs_in_log_order():
    model, _ = run_fit([], [{"loss": 0.5, "accuracy": 0.6, "val_loss": 0.7},
                            {"loss": 0.4, "accuracy": 0.7, "val_loss": 0.6}])
    history = model.history
    assert isinstance(history, History)
    assert list(history.history) == ["loss", "accuracy", "val_loss"]
    assert history.history == {"loss": [0.5, 0.4], "accuracy": [0.6, 0.7],
                               "val_loss": [0.7, 0.6]}
    assert history.epoch == [0, 1]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 1}


def test_history_is_set_on_the_model_when_training_begins():
    model, history = FakeModel(), History()
    history.set_model(model)
    history.on_train_begin()
    assert model.history is history


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience():
    _, ran = run_fit([EarlyStopping(patience=2)], val_losses(1.0, 0.9, 0.95, 0.92, 0.91))
    assert ran == [0, 1, 2, 3]  # two epochs without beating 0.9


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    _, ran = run_fit([EarlyStopping()], val_losses(1.0, 0.9, 0.9, 0.8))
    assert ran == [0, 1, 2]  # equal is not better


def test_early_stopping_min_delta():
    stop = EarlyStopping(min_delta=0.05, patience=1)
    _, ran = run_fit([stop], val_losses(1.0, 0.97, 0.96, 0.9))
    assert ran == [0, 1]  # 0.97 is not 0.05 better than 1.0
    assert stop.stopped_epoch == 1 and stop.best == 1.0


def test_early_stopping_baseline_keeps_the_wait_running():
    logs = val_losses(0.9, 0.8, 0.85, 0.84)
    _, ran = run_fit([EarlyStopping(patience=2)], logs)
    assert ran == [0, 1, 2, 3]
    # Never under the baseline 0.5: improvements do not reset the wait.
    _, ran = run_fit([EarlyStopping(patience=2, baseline=0.5)], logs)
    assert ran == [0, 1, 2]


def test_early_stopping_restores_best_weights_even_without_stopping(capsys):
    stop = EarlyStopping(patience=5, restore_best_weights=True, verbose=1)
    model, ran = run_fit([stop], val_losses(0.5, 0.3, 0.4))
    assert ran == [0, 1, 2]
    assert model.weights[0].tolist() == [1.0, 1.0]  # epoch 1's weights
    assert capsys.readouterr().out == (
        "Restoring model weights from the end of the best epoch: 2.\n"
    )


def test_early_stopping_messages_when_it_stops(capsys):
    stop = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    model, ran = run_fit([stop], val_losses(0.3, 0.5, 0.6, 0.1))
    assert ran == [0, 1]
    assert model.weights[0].tolist() == [0.0, 0.0]
    assert capsys.readouterr().out == (
        "Epoch 2: early stopping\n"
        "Restoring model weights from the end of the best epoch: 1.\n"
    )


def test_early_stopping_without_restore_keeps_last_weights():
    model, _ = run_fit([EarlyStopping(patience=1)], val_losses(0.3, 0.5, 0.6))
    assert model.weights[0].tolist() == [1.0, 1.0]


def test_early_stopping_start_from_epoch():
    logs = val_losses(1.0, 2.0, 3.0, 4.0, 5.0)
    _, ran = run_fit([EarlyStopping()], logs)
    assert ran == [0, 1]
    stop = EarlyStopping(start_from_epoch=2)
    _, ran = run_fit([stop], logs)
    assert ran == [0, 1, 2, 3] and stop.best == 3.0


def test_early_stopping_max_mode_and_auto_direction():
    logs = [{"loss": 1.0, "val_accuracy": a} for a in (0.5, 0.6, 0.55)]
    _, ran = run_fit([EarlyStopping(monitor="val_accuracy")], logs)  # auto: higher is better
    assert ran == [0, 1, 2]
    logs = [{"score": s} for s in (0.5, 0.6, 0.55)]
    _, ran = run_fit([EarlyStopping(monitor="score", mode="max")], logs)
    assert ran == [0, 1, 2]
    with pytest.raises(ValueError, match="maximized or minimized"):
        run_fit([EarlyStopping(monitor="score")], logs)


def test_early_stopping_reads_direction_from_the_models_metrics():
    class Metric:
        name, _direction = "score", "down"

    model = FakeModel()
    model.metrics = [Metric()]
    _, ran = run_fit([EarlyStopping(monitor="score")], [{"score": s} for s in (0.5, 0.4, 0.45)],
                     model=model)
    assert ran == [0, 1, 2]


def test_early_stopping_warns_about_a_missing_monitor():
    with pytest.warns(UserWarning, match="Available metrics are: loss,accuracy"):
        _, ran = run_fit([EarlyStopping()], [{"loss": 1.0, "accuracy": 0.5}] * 3)
    assert ran == [0, 1, 2]


def test_early_stopping_unknown_mode_warns():
    with pytest.warns(UserWarning, match="mode 'up' is unknown"):
        stop = EarlyStopping(mode="up")
    assert stop.mode == "auto"


def test_early_stopping_can_be_reused():
    stop = EarlyStopping(patience=1)
    run_fit([stop], val_losses(0.1, 0.2, 0.3))
    _, ran = run_fit([stop], val_losses(0.9, 0.8, 0.7))
    assert ran == [0, 1, 2]


# ---------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_sequence_by_hand():
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    model, _ = run_fit([reduce], [{"loss": 1.0}] * 10, model=FakeModel(learning_rate=1.0))
    # e0 best; e1 wait 1; e2 wait 2 → 0.5, cooldown; e3 cooldown over, wait 1; e4 → 0.25;
    # e5 wait 1; e6 → max(0.125, 0.2) = 0.2; then lr == min_lr: no more reductions.
    assert model.history.history["learning_rate"] == [
        1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]
    assert model.optimizer.learning_rate == 0.2


def test_reduce_lr_improvement_resets_the_wait(capsys):
    reduce = ReduceLROnPlateau(factor=0.1, patience=1, verbose=1)
    model, _ = run_fit([reduce], val_losses(1.0, 0.5, 0.49995, 0.3),
                       model=FakeModel(learning_rate=0.1))
    # 0.49995 is within min_delta=1e-4 of 0.5: no improvement, reduce at epoch 3 (1-based).
    assert model.history.history["learning_rate"] == [0.1, 0.1, 0.1, pytest.approx(0.01)]
    assert capsys.readouterr().out == (
        f"\nEpoch 3: ReduceLROnPlateau reducing learning rate to {0.1 * 0.1}.\n"
    )


def test_reduce_lr_rejects_factor_of_one_or_more():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_legacy_epsilon_and_unknown_kwargs():
    with pytest.warns(UserWarning, match="epsilon"):
        reduce = ReduceLROnPlateau(epsilon=0.5)
    assert reduce.min_delta == 0.5
    with pytest.raises(TypeError, match="patient"):
        ReduceLROnPlateau(patient=3)


def test_reduce_lr_warns_about_a_missing_monitor():
    with pytest.warns(UserWarning, match="Available metrics are: loss,learning_rate"):
        run_fit([ReduceLROnPlateau()], [{"loss": 1.0}])


# ---------------------------------------------------------------- LearningRateScheduler
def test_learning_rate_scheduler_sets_rate_before_each_epoch(capsys):
    sched = LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.5, verbose=1)
    model, _ = run_fit([sched], [{"loss": 1.0}] * 3, model=FakeModel(learning_rate=0.1))
    assert model.history.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert capsys.readouterr().out.splitlines() == [
        "", "Epoch 1: LearningRateScheduler setting learning rate to 0.1.",
        "", "Epoch 2: LearningRateScheduler setting learning rate to 0.05.",
        "", "Epoch 3: LearningRateScheduler setting learning rate to 0.025.",
    ]


def test_learning_rate_scheduler_one_argument_schedule():
    model, _ = run_fit([LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))],
                       [{"loss": 1.0}] * 2)
    assert model.history.history["learning_rate"] == [0.1, 0.05]


def test_learning_rate_scheduler_needs_a_float():
    with pytest.raises(ValueError, match="should be a float. Got: 1"):
        run_fit([LearningRateScheduler(lambda epoch, lr: 1)], [{"loss": 1.0}])


def test_learning_rate_scheduler_does_not_hide_errors_in_the_schedule():
    def schedule(epoch, lr):
        return lr + "oops"

    with pytest.raises(TypeError, match="unsupported operand"):
        run_fit([LearningRateScheduler(schedule)], [{"loss": 1.0}])


# ---------------------------------------------------------------- CSVLogger
def test_csv_logger_writes_keras_layout(tmp_path):
    path = tmp_path / "log.csv"
    run_fit([CSVLogger(path)], [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}])
    assert path.read_bytes() == (
        b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
        b"0,0.25,0.5,NA,NA\r\n"
        b"1,0.5,0.25,NA,NA\r\n"
    )


def test_csv_logger_with_validation_separator_and_append(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "val_loss": 0.75}]
    run_fit([CSVLogger(path, separator=";")], logs)
    run_fit([CSVLogger(path, separator=";", append=True)], logs)
    assert path.read_bytes().decode() == "epoch;loss;val_loss\r\n0;0.5;0.75\r\n0;0.5;0.75\r\n"
    run_fit([CSVLogger(os.fspath(path))], logs)  # overwrite
    assert path.read_bytes().decode() == "epoch,loss,val_loss\r\n0,0.5,0.75\r\n"


def test_csv_logger_writes_1d_values_as_lists(tmp_path):
    path = tmp_path / "log.csv"
    run_fit([CSVLogger(path)], [{"loss": 0.5, "val_loss": np.array([1, 2])}])
    assert path.read_bytes().decode() == 'epoch,loss,val_loss\r\n0,0.5,"""[1, 2]"""\r\n'


# ---------------------------------------------------------------- TerminateOnNaN
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf")])
def test_terminate_on_nan_stops_training(bad, capsys):
    model = FakeModel()
    cbs = CallbackList([TerminateOnNaN()], model=model)
    assert cbs.needs_batch_hooks
    cbs.on_train_batch_end(0, {"loss": 0.5})
    assert not model.stop_training
    cbs.on_train_batch_end(7, {"loss": bad})
    assert model.stop_training
    assert capsys.readouterr().out == "Batch 7: Invalid loss, terminating training\n"


def test_terminate_on_nan_can_raise():
    cbs = CallbackList([TerminateOnNaN(raise_error=True)], model=FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        cbs.on_train_batch_end(2, {"loss": math.nan})


# ---------------------------------------------------------------- parity with Keras
def drive(callback, model, epoch_logs):
    """Runs one callback (fcnet's or Keras's) through scripted epochs."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin({})
    ran = []
    for epoch, logs in enumerate(epoch_logs):
        callback.on_epoch_begin(epoch, {})
        model.weights = [np.full(2, float(epoch))]
        logs = dict(logs)
        callback.on_epoch_end(epoch, logs)
        ran.append((epoch, logs.get("learning_rate"), model.optimizer.learning_rate))
        if model.stop_training:
            break
    callback.on_train_end({})
    return ran, model.weights[0].tolist()


def scripts(seed, count=40, epochs=25):
    rng = random.Random(seed)
    for _ in range(count):
        value, script = 1.0, []
        for _ in range(epochs):
            value *= rng.choice([0.9, 0.99, 1.0, 1.0, 1.05, 1.2])
            script.append({"loss": value, "val_loss": value * rng.uniform(0.9, 1.1)})
        yield script


@pytest.mark.parametrize("kwargs", [
    {}, {"patience": 3}, {"patience": 2, "min_delta": 0.01}, {"patience": 2, "baseline": 0.8},
    {"patience": 3, "restore_best_weights": True}, {"patience": 1, "start_from_epoch": 4},
    {"monitor": "loss", "patience": 4, "restore_best_weights": True, "baseline": 0.95},
])
def test_early_stopping_matches_keras(keras, kwargs):
    for script in scripts(seed=len(str(kwargs))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = drive(EarlyStopping(**kwargs), FakeModel(), script)
            theirs = drive(keras.callbacks.EarlyStopping(**kwargs), FakeModel(), script)
        assert ours == theirs


@pytest.mark.parametrize("kwargs", [
    {"patience": 2}, {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 2, "factor": 0.2, "min_lr": 0.001, "min_delta": 0.01},
    {"monitor": "loss", "patience": 0, "factor": 0.5, "min_lr": 0.003},
])
def test_reduce_lr_on_plateau_matches_keras(keras, kwargs):
    for script in scripts(seed=len(str(kwargs))):
        ours = drive(ReduceLROnPlateau(**kwargs), FakeModel(0.05), script)
        theirs = drive(keras.callbacks.ReduceLROnPlateau(**kwargs), FakeModel(0.05), script)
        assert ours == theirs


def test_csv_logger_matches_keras(keras, tmp_path):
    script = [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}]
    for name, cls in (("ours.csv", CSVLogger), ("theirs.csv", keras.callbacks.CSVLogger)):
        drive(cls(tmp_path / name), FakeModel(), script)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "theirs.csv").read_bytes()
