"""``ReduceLROnPlateau``: lower the learning rate when a metric stops improving."""

from __future__ import annotations

import struct
import warnings

from fcnet.callbacks._io import print_msg
from fcnet.callbacks.monitor_callback import MonitorCallback


def _float32(x: float) -> float:
    """``x`` rounded to float32, as a learning rate stored in float32 would read."""
    return struct.unpack("f", struct.pack("f", x))[0]


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by ``factor`` when the monitored value plateaus.

    At each epoch end ``logs["learning_rate"]`` is set to the optimizer's current
    learning rate (Keras 3). After ``patience`` epochs without improvement (see
    ``MonitorCallback``; ``min_delta`` is the margin), ``new_lr = max(lr * factor,
    min_lr)``, provided ``lr`` is still above ``min_lr`` (compared in float32, as
    Keras compares its float32 variable); then ``cooldown`` epochs pass before the
    wait counts again.

    Args:
        monitor: quantity to watch (``"val_loss"``).
        factor: multiplier of the learning rate, below 1 (0.1).
        patience: epochs without improvement before a reduction (10).
        verbose: 1 prints ``Epoch N: ReduceLROnPlateau reducing learning rate to X.``
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        min_delta: smallest change that counts as an improvement (1e-4).
        cooldown: epochs to wait after a reduction before counting again (0).
        min_lr: lower bound of the learning rate (0).
        epsilon: tf.keras 1 name of ``min_delta``, accepted with a warning.

    Example:
        ```python
        reduce = fcnet.callbacks.ReduceLROnPlateau(factor=0.2, patience=5, min_lr=1e-3)
        model.fit(x, y, validation_split=0.2, callbacks=[reduce])
        ```
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            warnings.warn(
                "`epsilon` argument is deprecated and will be removed, use `min_delta` "
                "instead.",
                stacklevel=2,
            )
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to ReduceLROnPlateau: {kwargs}"
            )
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                f"which is not available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce_lr(self, optimizer, epoch) -> bool:
        old_lr = float(optimizer.learning_rate)
        if _float32(old_lr) <= _float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True

    def _get_state(self) -> dict:
        """What ``BackupAndRestore`` saves (the learning rate is the optimizer's)."""
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def _set_state(self, state: dict) -> None:
        self.best = state["best"]
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0
