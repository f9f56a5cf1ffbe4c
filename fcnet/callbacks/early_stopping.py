"""``EarlyStopping``: stop training when a monitored quantity stops improving."""

from __future__ import annotations

import warnings

from fcnet.callbacks._io import print_msg
from fcnet.callbacks.monitor_callback import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stops training when the monitored quantity has stopped improving.

    At the end of every epoch (from ``start_from_epoch`` on) the monitored value is
    compared with the best so far: an improvement (see ``MonitorCallback``) resets
    the wait, unless a ``baseline`` is given and not beaten; otherwise the wait
    grows, and when it reaches ``patience`` (after the first epoch) the callback
    sets ``model.stop_training = True``.

    With ``restore_best_weights=True`` the weights of the best epoch are put back
    when training ends, whether or not this callback stopped it -- the Keras 3
    behaviour; tf.keras 2 restored only after an early stop (keras-team/keras#12511).

    Args:
        monitor: quantity to watch (``"val_loss"``).
        min_delta: smallest change that counts as an improvement (0).
        patience: epochs without improvement before stopping (0).
        verbose: 1 prints ``Epoch N: early stopping`` and the restore message.
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        baseline: a value to beat; until it is beaten, the wait is not reset.
        restore_best_weights: restore the best epoch's weights at the end.
        start_from_epoch: epochs to let pass before watching (warm-up).

    Example:
        ```python
        stop = fcnet.callbacks.EarlyStopping(monitor="loss", patience=3)
        model.fit(x, y, epochs=100, callbacks=[stop], verbose=0)
        ```
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # The callback can be reused across fit() calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # late, so the model's metrics exist
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Nothing better seen yet: the current weights are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Restart the wait only when beating both the baseline and the best.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def _get_state(self) -> dict:
        """What ``BackupAndRestore`` saves so a resumed run stops where this one would."""
        return {"best": self.best, "wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def _set_state(self, state: dict) -> None:
        self.best = state["best"]
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_epoch = int(state["best_epoch"])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else [w.copy() for w in weights]

    def get_monitor_value(self, logs):
        """The monitored value from ``logs``; warns, listing the keys, when missing."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
        return value
