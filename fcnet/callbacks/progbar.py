"""``Progbar``: the classic tf.keras 2 progress bar (``keras.utils.Progbar``)."""

from __future__ import annotations

import time

from fcnet import backend
from fcnet.callbacks._io import is_dynamic_display, print_msg


class Progbar:
    """Displays a progress bar, as tf.keras 2 drew it.

    ``31250/31250 [==============================] - 22s 698us/step - loss: 0.0148``

    * During the run: ``{current}/{target} [{bar}] - ETA: {eta} - {metrics}``; the
      counter is right-aligned to the target's digits; the bar is ``width`` cells:
      ``w = int(width * current / target)`` cells done, drawn as ``w - 1`` × ``=`` then
      ``>`` (``=`` when complete), the rest ``.``. Unknown target: ``%7d/Unknown``.
    * Final line: ``... - {elapsed:.0f}s {time per step} - {metrics}``; the time per
      step leaves out the first step, which is often slow. Durations read ``2s``,
      ``698ms`` or ``698us``; ETA ``h:mm:ss``, ``m:ss`` or ``{s}s``.
    * Metrics: `` - name: {v:.4f}`` when ``|v| > 1e-3``, else ``{v:.4e}``.
    * ``verbose=2``: one line at the end only, the tf-keras 2.21 form
      ``75/75 - 0s - loss: 3.1171 - val_loss: 2.8886 - 156ms/epoch - 2ms/step``
      (tf-keras 2.2-2.4 stopped before the epoch/step times). As in tf-keras, this line
      picks the fixed format on ``v > 1e-3``, so a negative value prints ``-5.0000e-01``.

    Redrawing (fcnet's one departure from Keras): on a *dynamic* display -- stdout is
    a terminal, or the output of an IPython kernel -- each redraw starts with
    backspaces over the previous line and ``\\r``, at most every ``interval`` seconds
    (the final update always draws). On anything else (a file, a pipe, a captured
    stream) nothing is drawn during the run and the final update writes one clean
    line, with no ``\\b`` or ``\\r``. Keras treats every POSIX system as dynamic and
    fills log files with backspaces (keras-team/keras#5906, #7523, #8414).

    Args:
        target: total number of steps expected, or ``None`` if unknown.
        width: width of the bar, in characters (30).
        verbose: 0 (silent), 1 (live bar), 2 (one line at the end).
        interval: minimum time in seconds between two redraws (0.05).
        stateful_metrics: names of values shown as given; all others are averaged
            over the steps (weighted by the steps each covers) before display.
        unit_name: the unit in the time per step (``"step"``, ``"sample"``).
        stateless_metrics: (keyword only, Keras 3) the other way round: only these
            are averaged; ``set()`` shows every value as given.

    Example:
        ```python
        bar = fcnet.utils.Progbar(100)
        for step in range(100):
            bar.update(step + 1, [("loss", 0.5)])
        ```
    """

    def __init__(
        self,
        target,
        width=30,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        unit_name="step",
        *,
        stateless_metrics=None,
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be given. "
                f"Received: stateful_metrics={stateful_metrics}, "
                f"stateless_metrics={stateless_metrics}"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        # When every value is shown as given, only the values of a drawn update matter.
        self._all_stateful = self.stateless_metrics is not None and not self.stateless_metrics
        self._dynamic_display = is_dynamic_display()
        self._total_width = 0
        self._seen_so_far = 0
        self._values = {}  # name -> value as given, or [weighted sum, count] to average
        self._values_order = []
        self._pending = None
        self._start = time.time()
        self._last_update = float("-inf")  # the first update always draws
        self._time_at_epoch_start = self._start
        self._time_at_epoch_end = None
        self._time_after_first_step = None

    def update(self, current, values=None, finalize=None):
        """Moves the bar to step ``current``.

        Args:
            current: index of the current step (1-based count of steps done).
            values: ``(name, value)`` pairs or a dict: the values for this step.
            finalize: whether this is the last update; ``None`` means
                ``current >= target``.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.time()
        if current == 1:
            self._time_after_first_step = now
        draw = finalize or (
            self.verbose == 1
            and self._dynamic_display
            and now - self._last_update >= self.interval
        )
        if self._all_stateful and not draw:
            if values:
                self._pending = values  # only the latest matters: kept, read when drawn
        else:
            values = values or self._pending
            self._pending = None
            if values:
                self._record(current, values)
        self._seen_so_far = current
        if current == self.target:
            self._time_at_epoch_end = now
        if not draw:
            return
        if self.verbose == 1:
            self._draw_bar(current, now, finalize)
        elif self.verbose == 2 and finalize:
            self._draw_line(current, now)
        self._last_update = now

    def add(self, n, values=None):
        """Moves the bar ``n`` steps forward."""
        self.update(self._seen_so_far + n, values)

    def _record(self, current, values) -> None:
        items = values.items() if hasattr(values, "items") else values
        base = max(current - self._seen_so_far, 1)  # steps this value stands for
        for name, value in items:
            if name not in self._values:
                self._values_order.append(name)
            if self._is_stateful(name):
                self._values[name] = value
            elif name in self._values:
                self._values[name][0] += value * base
                self._values[name][1] += base
            else:
                self._values[name] = [value * base, base]

    def _is_stateful(self, name) -> bool:
        if self.stateless_metrics is not None:
            return name not in self.stateless_metrics
        return name in self.stateful_metrics

    def _value(self, name):
        value = self._values[name]
        if isinstance(value, list):
            value = value[0] / max(1, value[1])
        if isinstance(value, str):
            return value
        if getattr(value, "ndim", 0):  # an array: its mean, as Keras's np.mean
            return float(backend.to_numpy(value).mean())
        return float(value)

    def _counter(self, current) -> str:
        """`` 56/100``: right-aligned to the target's digits; ``    560/Unknown``."""
        if self.target is None:
            return f"{int(current):7d}/Unknown"
        digits = len(str(int(self.target))) if self.target else 1
        return f"{int(current):{digits}d}/{self.target}"

    def _draw_bar(self, current, now, finalize) -> None:
        prev_total_width = self._total_width
        message = "\b" * prev_total_width + "\r" if self._dynamic_display else ""
        if self.target is not None:
            progress = current / self.target if self.target else 1.0
            done = int(self.width * progress)
            bar = self._counter(current) + " ["
            if done > 0:
                bar += "=" * (done - 1) + (">" if current < self.target else "=")
            bar += "." * (self.width - done) + "]"
        else:
            bar = self._counter(current)
        time_per_unit = self._estimate_step_duration(current, now)
        if self.target is None or finalize:
            info = f" - {now - self._start:.0f}s" + format_time(time_per_unit, self.unit_name)
        else:
            info = " - ETA: " + format_eta(time_per_unit * (self.target - current))
        for name in self._values_order:
            info += f" - {name}: {format_value(self._value(name))}"
        self._total_width = len(bar) + len(info)
        if self._dynamic_display and prev_total_width > self._total_width:
            info += " " * (prev_total_width - self._total_width)
        if finalize:
            info += "\n"
        print_msg(message + bar + info, line_break=False)

    def _draw_line(self, current, now) -> None:
        info = f"{self._counter(current)} - {now - self._start:.0f}s"
        for name in self._values_order:
            value = self._value(name)
            if isinstance(value, str):
                info += f" - {name}: {value}"
            else:  # tf-keras's verbose-2 quirk: `v > 1e-3`, not `|v| > 1e-3`
                info += f" - {name}: {value:.4f}" if value > 1e-3 else f" - {name}: {value:.4e}"
        if self._time_at_epoch_end is not None:
            time_per_epoch = self._time_at_epoch_end - self._time_at_epoch_start
            info += " -" + format_time(time_per_epoch, "epoch")
            info += " -" + format_time(time_per_epoch / max(self.target, 1), self.unit_name)
            self._time_at_epoch_start = now
            self._time_at_epoch_end = None
        print_msg(info + "\n", line_break=False)

    def _estimate_step_duration(self, current, now) -> float:
        """Seconds per step; after step 1, measured from the end of step 1."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current


def format_value(value) -> str:
    """``0.4301`` when ``|v| > 1e-3``, else ``6.1286e-04``, as Keras prints metrics."""
    if isinstance(value, str):
        return value
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_time(seconds_per_unit: float, unit_name: str) -> str:
    """`` 2s/step``, `` 698ms/step`` or `` 64us/step`` (with the leading space)."""
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f" {seconds_per_unit:.0f}s/{unit_name}"
    if seconds_per_unit >= 1e-3:
        return f" {seconds_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {seconds_per_unit * 1e6:.0f}us/{unit_name}"


def format_eta(eta: float) -> str:
    """``1:09:16`` above an hour, ``2:05`` above a minute, else ``13s``."""
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"
