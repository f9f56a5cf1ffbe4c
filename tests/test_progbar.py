"""Progbar and ProgbarLogger: the exact tf.keras 2 text, redraws only on a live display."""

import contextlib
import importlib
import io

import pytest

from fcnet.callbacks import CallbackList, History, Progbar, ProgbarLogger
from fcnet.callbacks.progbar import format_eta, format_time, format_value

progbar_module = importlib.import_module("fcnet.callbacks.progbar")

FULL = "[" + "=" * 30 + "]"


class Clock:
    """Stands in for the `time` module inside progbar.py: `clock.now` is the time."""

    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now


class TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progbar_module, "time", fake)
    return fake


def run_bar(clock, stream, target, steps, **kwargs):
    """Drives a Progbar through (time, current, values) triples; returns the text."""
    with contextlib.redirect_stdout(stream):
        bar = Progbar(target, **kwargs)
        for now, current, values in steps:
            clock.now = now
            bar.update(current, values)
    return stream.getvalue()


# ---------------------------------------------------------------- final lines
@pytest.mark.parametrize(
    "target, steps, expected",
    [
        (31250, [(0.1, 1, [("loss", 0.9)]), (21.9, 31250, [("loss", 0.0148)])],
         f"31250/31250 {FULL} - 22s 698us/step - loss: 0.0148\n"),
        (1875, [(0.2, 1, None), (2.6, 1875, [("loss", 0.2987), ("accuracy", 0.914)])],
         f"1875/1875 {FULL} - 3s 1ms/step - loss: 0.2987 - accuracy: 0.9140\n"),
        (2, [(2.0, 1, None), (5.0, 2, [("loss", 6.1286e-4)])],
         f"2/2 {FULL} - 5s 3s/step - loss: 6.1286e-04\n"),
        (1, [(0.047, 1, None)], f"1/1 {FULL} - 0s 47ms/step\n"),
        (1, [(0.0, 1, None)], f"1/1 {FULL} - 0s 0s/step\n"),
    ],
)
def test_final_line_formats(clock, target, steps, expected):
    values = [(now, current, dict(v) if v else None) for now, current, v in steps]
    assert run_bar(clock, io.StringIO(), target, values,
                   stateful_metrics=["loss", "accuracy"]) == expected


def test_time_per_step_leaves_out_the_first_step(clock):
    # Step 1 takes 5 s, the next 99 take 0.01 s each: 10ms/step, not 60ms.
    steps = [(5.0, 1, None)] + [(5.0 + 0.01 * k, 1 + k, None) for k in range(1, 100)]
    assert run_bar(clock, io.StringIO(), 100, steps) == f"100/100 {FULL} - 6s 10ms/step\n"


# ---------------------------------------------------------------- the bar itself
def test_bar_arithmetic_and_eta(clock):
    stream = TTY()
    text = run_bar(clock, stream, 100, [(0.1, 1, None), (1.2, 56, None)])
    first, second = text.split("\r")[1:]
    assert first.rstrip("\b") == "  1/100 [..............................] - ETA: 9s"  # 0.1 s × 99
    # 0.02 s/step after step 1 → 44 steps left → 0.88 s.
    assert second == " 56/100 [===============>..............] - ETA: 0s"


def test_counter_is_right_aligned_to_the_targets_digits(clock):
    text = run_bar(clock, TTY(), 31250, [(0.1, 1, None), (1.0, 402, None)])
    assert "\r    1/31250 [" in text and "\r  402/31250 [" in text


@pytest.mark.parametrize(
    "value, text",
    [(1e-4, "1.0000e-04"), (6.1286e-4, "6.1286e-04"), (0.4301, "0.4301"),
     (-0.5, "-0.5000"), (1e-3, "1.0000e-03"), (0.0, "0.0000e+00"), (12.0, "12.0000")],
)
def test_metric_formatting(value, text):
    assert format_value(value) == text


def test_time_and_eta_formatting():
    assert format_time(0.000153, "step") == " 153us/step"
    assert format_time(0.0015, "step") == " 2ms/step"
    assert format_time(2.4, "epoch") == " 2s/epoch"
    assert format_time(0, "step") == " 0s/step"
    assert [format_eta(t) for t in (13.7, 60, 125, 4156.9)] == ["13s", "60s", "2:05", "1:09:16"]


def test_unknown_target(clock):
    text = run_bar(clock, TTY(), None, [(0.5, 1, None), (1.0, 56, None)])
    # Padded over the longer first line ("- 0s 500ms/step").
    assert text.split("\r")[-1] == "     56/Unknown - 1s 9ms/step  "


def test_long_eta_uses_hours(clock):
    text = run_bar(clock, TTY(), 31250, [(1.0, 1, None), (3.0, 3, None)])
    # 1 s/step after step 1, 31247 steps left.
    assert text.endswith("    3/31250 [..............................] - ETA: 8:40:47")


# ---------------------------------------------------------------- redraws
def test_live_display_redraws_with_backspaces_and_throttles(clock):
    stream = TTY()
    steps = [(0.10, 1, {"loss": 0.5}), (0.12, 2, {"loss": 0.4}),   # within 0.05 s: skipped
             (0.20, 3, {"loss": 0.3}), (0.21, 4, {"loss": 0.25})]  # final: always drawn
    text = run_bar(clock, stream, 4, steps, stateless_metrics=set())
    draws = text.split("\r")
    assert len(draws) == 4  # "" before the first \r, then three draws
    assert draws[0] == ""  # nothing to back over the first time
    first = "1/4 [" + "=" * 6 + ">" + "." * 23 + "] - ETA: 0s - loss: 0.5000"  # int(30/4) = 7
    assert draws[1] == first + "\b" * len(first)
    assert "2/4" not in text
    assert draws[3] == f"4/4 {FULL} - 0s 37ms/step - loss: 0.2500\n"  # 0.11 s / 3


def test_shorter_line_is_padded_on_a_live_display(clock):
    stream = TTY()
    with contextlib.redirect_stdout(stream):
        bar = Progbar(10, stateful_metrics=["loss"])
        clock.now = 1000.0
        bar.update(1, [("loss", 0.5)])  # 1000 s/step: "ETA: 2:30:00"
        clock.now = 1000.1
        bar.update(2, [("loss", 0.5)])  # 0.1 s/step: "ETA: 0s", a shorter line
    first, second = stream.getvalue().split("\r")[1:]
    width = len(first.rstrip("\b"))
    assert len(second) == width and second.endswith(" ")


def test_non_tty_stream_gets_one_clean_line(clock):
    stream = io.StringIO()
    steps = [(0.001 * k, k, {"loss": 2.0 / k}) for k in range(1, 1001)]
    text = run_bar(clock, stream, 1000, steps, stateless_metrics=set())
    assert "\b" not in text and "\r" not in text
    assert text == f"1000/1000 {FULL} - 1s 1ms/step - loss: 0.0020\n"


def test_capsys_is_not_a_live_display(clock, capsys):
    bar = Progbar(3)
    for k in (1, 2, 3):
        clock.now = k
        bar.update(k, [("loss", 1.0)])
    assert capsys.readouterr().out == f"3/3 {FULL} - 3s 1s/step - loss: 1.0000\n"


def test_values_are_averaged_unless_stateful(clock):
    steps = [(0.1, 1, [("loss", 1.0), ("acc", 0.5)]), (0.2, 2, [("loss", 3.0), ("acc", 0.7)])]
    averaged = run_bar(clock, io.StringIO(), 2, steps)
    assert averaged.endswith("- loss: 2.0000 - acc: 0.6000\n")
    as_given = run_bar(clock, io.StringIO(), 2, steps, stateful_metrics=["loss"])
    assert as_given.endswith("- loss: 3.0000 - acc: 0.6000\n")


def test_add_moves_forward(clock):
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):
        bar = Progbar(4)
        bar.add(2, [("loss", 1.0)])
        bar.add(2, [("loss", 2.0)])
    assert stream.getvalue().startswith(f"4/4 {FULL}")
    assert stream.getvalue().endswith("- loss: 1.5000\n")


def test_verbose_2_prints_one_line_with_epoch_and_step_times(clock):
    steps = [(0.002, 1, None), (0.1, 40, None),
             (0.156, 75, [("loss", 3.1171), ("val_loss", 2.8886)])]
    text = run_bar(clock, TTY(), 75, steps, verbose=2, stateful_metrics=["loss", "val_loss"])
    assert text == "75/75 - 0s - loss: 3.1171 - val_loss: 2.8886 - 156ms/epoch - 2ms/step\n"


def test_verbose_2_keeps_tf_keras_sign_quirk(clock):
    text = run_bar(clock, io.StringIO(), 1, [(0.0, 1, [("loss", -0.5)])], verbose=2)
    assert "- loss: -5.0000e-01 -" in text


def test_verbose_0_is_silent(clock):
    assert run_bar(clock, TTY(), 3, [(1, 1, None), (2, 3, None)], verbose=0) == ""


def test_stateful_and_stateless_together_is_an_error():
    with pytest.raises(ValueError, match="Only one of"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


# ---------------------------------------------------------------- ProgbarLogger
class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.history = None


def simulate_fit(clock, epochs, steps, verbose=1, step_time=0.01):
    """What fit does with its CallbackList, batch by batch, `step_time` s per step."""
    callbacks = CallbackList(None, add_history=True, add_progbar=True, model=FakeModel(),
                             verbose=verbose, epochs=epochs, steps=steps)
    callbacks.on_train_begin()
    for epoch in range(epochs):
        clock.now = 10.0 * epoch
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps):
            clock.now = 10.0 * epoch + step_time * (batch + 1)
            if callbacks.needs_batch_hooks:
                callbacks.on_train_batch_begin(batch)
                callbacks.on_train_batch_end(batch, {"loss": 1.0 / (batch + 1)})
        callbacks.on_epoch_end(epoch, {"loss": 0.25, "val_loss": 0.5})
    callbacks.on_train_end()
    return callbacks


def test_fit_output_on_a_file_is_one_line_per_epoch(clock, capsys):
    callbacks = simulate_fit(clock, epochs=2, steps=100)
    assert not callbacks.needs_batch_hooks  # nothing to draw mid-epoch: no batch hooks
    line = f"100/100 {FULL} - 1s 10ms/step - loss: 0.2500 - val_loss: 0.5000\n"
    assert capsys.readouterr().out == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line


def test_no_epoch_header_for_a_single_epoch(clock, capsys):
    simulate_fit(clock, epochs=1, steps=3)
    out = capsys.readouterr().out
    assert "Epoch" not in out
    assert out == f"3/3 {FULL} - 0s 10ms/step - loss: 0.2500 - val_loss: 0.5000\n"


def test_fit_output_on_a_terminal_redraws(clock):
    stream = TTY()
    with contextlib.redirect_stdout(stream):
        callbacks = simulate_fit(clock, epochs=1, steps=8, step_time=1 / 32)
    assert callbacks.needs_batch_hooks
    text = stream.getvalue()
    draws = text.split("\r")[1:]
    # 1/32 s a step, a redraw at most every 0.05 s: steps 1, 3, 5, 7, then the final line.
    assert [d[:3] for d in draws] == ["1/8", "3/8", "5/8", "7/8", "8/8"]
    line = "3/8 [==========>...................] - ETA: 0s - loss: 0.3333"
    assert draws[1] == line + "\b" * len(line)  # the next redraw backs over it
    assert draws[-1].startswith(f"8/8 {FULL} - 0s 31ms/step - loss: 0.2500 - val_loss: 0.5000")
    assert draws[-1].endswith("\n")
    assert "val_loss" not in "".join(draws[:-1])  # validation only on the final line


def test_verbose_2_fit_lines(clock, capsys):
    callbacks = simulate_fit(clock, epochs=2, steps=75, verbose=2)
    assert not callbacks.needs_batch_hooks
    out = capsys.readouterr().out.splitlines()
    line = "75/75 - 1s - loss: 0.2500 - val_loss: 0.5000 - 750ms/epoch - 10ms/step"
    assert out == ["Epoch 1/2", line, "Epoch 2/2", line]


def test_verbose_0_prints_nothing(clock, capsys):
    logger = ProgbarLogger()
    callbacks = CallbackList([logger], model=FakeModel(), verbose=0, epochs=3, steps=5)
    assert not callbacks.needs_batch_hooks
    callbacks.on_train_begin()
    for epoch in range(3):
        callbacks.on_epoch_begin(epoch)
        callbacks.on_epoch_end(epoch, {"loss": 1.0})
    callbacks.on_train_end()
    assert capsys.readouterr().out == ""


def test_verbose_auto_means_1(clock, capsys):
    logger = ProgbarLogger()
    logger.set_params({"verbose": "auto", "epochs": 2, "steps": 1})
    assert logger.verbose == 1


def test_unknown_steps_take_the_count_seen(clock, capsys):
    callbacks = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1, epochs=1,
                             steps=None)
    assert callbacks.needs_batch_hooks  # the count is needed
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    for batch in range(3):
        clock.now = 0.1 * (batch + 1)
        callbacks.on_train_batch_end(batch, {"loss": 1.0})
    callbacks.on_epoch_end(0, {"loss": 1.0})
    assert capsys.readouterr().out == f"3/3 {FULL} - 0s 100ms/step - loss: 1.0000\n"


def test_evaluate_and_predict_print_their_own_bar(clock, capsys):
    callbacks = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1, epochs=1,
                             steps=2)
    callbacks.on_test_begin()
    for batch in range(2):
        clock.now = 0.5 * (batch + 1)
        callbacks.on_test_batch_end(batch, {"loss": 0.3})
    callbacks.on_test_end({"loss": 0.3, "accuracy": 0.9})
    expected = f"2/2 {FULL} - 1s 500ms/step - loss: 0.3000 - accuracy: 0.9000\n"
    assert capsys.readouterr().out == expected

    clock.now = 0.0
    callbacks = CallbackList(None, add_progbar=True, model=FakeModel(), verbose="auto",
                             epochs=1, steps=1)
    callbacks.on_predict_begin()
    clock.now = 0.047
    callbacks.on_predict_batch_end(0, {"outputs": [[1.0]]})
    callbacks.on_predict_end()
    assert capsys.readouterr().out == f"1/1 {FULL} - 0s 47ms/step\n"


def test_validation_inside_fit_is_silent(clock, capsys):
    logger = ProgbarLogger()
    callbacks = CallbackList([logger, History()], model=FakeModel(), verbose=1, epochs=1, steps=1)
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_test_begin()
    callbacks.on_test_batch_end(0, {"loss": 9.0})
    callbacks.on_test_end({"loss": 9.0})
    callbacks.on_epoch_end(0, {"loss": 1.0, "val_loss": 9.0})
    callbacks.on_train_end()
    assert capsys.readouterr().out == f"1/1 {FULL} - 0s 0s/step - loss: 1.0000 - val_loss: 9.0000\n"
    callbacks.on_test_begin()  # a later evaluate() with the same logger prints again
    callbacks.on_test_end({"loss": 2.0})
    assert capsys.readouterr().out.startswith("1/1 [")


def test_count_mode_samples_is_refused():
    with pytest.raises(ValueError, match="count_mode"):
        ProgbarLogger(count_mode="samples")
