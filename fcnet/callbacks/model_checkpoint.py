"""``ModelCheckpoint``: save the model or its weights during training."""

from __future__ import annotations

import os
import warnings

import numpy

from fcnet.backend import parallel
from fcnet.callbacks._io import print_msg
from fcnet.callbacks._save_schedule import batch_save_due
from fcnet.callbacks.monitor_callback import MonitorCallback

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                "on_batch_end")


class ModelCheckpoint(MonitorCallback):
    """Saves the model (``model.save``) or its weights (``model.save_weights``) at the
    end of every epoch, or every ``save_freq`` batches.

    ``filepath`` may hold format fields filled at each save: ``{epoch}`` (1-based, as
    the progress bar counts), ``{batch}`` (1-based, for batch-level saves) and any key
    of the logs, such as ``{val_loss:.2f}``; so ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``
    writes ``ckpt-01-0.53.keras``, ``ckpt-02-0.41.keras``, ... Every save replaces its
    file atomically, so a crash leaves the previous file whole.

    With ``save_best_only=True`` a save happens only when the monitored value improves
    on the best so far (see ``MonitorCallback``; ``mode`` says which way is better,
    ``initial_value_threshold`` is the value to beat first); with a fixed ``filepath``
    the file then always holds the best model.

    Args:
        filepath: path of the file, ending in ``.keras`` (or ``.h5``, the legacy
            format) for the whole model, in ``.weights.h5`` with
            ``save_weights_only=True``.
        monitor: logged quantity to watch for ``save_best_only`` (``"val_loss"``).
        verbose: 1 prints a message at each decision and save.
        save_best_only: save only when ``monitor`` improves.
        save_weights_only: save the weights only (``model.save_weights``).
        mode: ``"auto"``, ``"min"`` or ``"max"``.
        save_freq: ``"epoch"``, or an integer: save after every that many batches.
        initial_value_threshold: the best value to start from; a model is saved
            only once it beats it.

    Example:
        ```python
        checkpoint = fcnet.callbacks.ModelCheckpoint(
            "best.keras", monitor="val_accuracy", mode="max", save_best_only=True)
        model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[checkpoint])
        model = fcnet.models.load_model("best.keras")
        ```
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or "
                f"integer values. Received: save_freq={save_freq!r}")
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). "
                f"Received: filepath={self.filepath}")

    def _idle_hooks(self):
        """Per-epoch saving needs no batch hook."""
        return _BATCH_HOOKS if self.save_freq == "epoch" else ()

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch) -> bool:
        return self.save_freq != "epoch" and batch_save_due(self, batch)

    def _should_save_model(self, epoch, logs, filepath) -> bool:
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if numpy.ndim(current) > 0:
            warnings.warn(
                "Can save best model only when `monitor` is a scalar value. Received: "
                f"{current}. Falling back to `save_best_only=False`.", stacklevel=3)
            return True
        if self.monitor_op is None:  # a batch-level save before the first epoch's end
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        filepath = self._get_file_path(epoch, batch, logs or {})
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise OSError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        if not parallel.is_chief():  # data parallel: rank 0 writes the one model
            return
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs) -> str:
        """``filepath`` with ``epoch`` (and ``batch``), 1-based, and the logs filled in."""
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {error}") from error

    def _get_state(self) -> dict:
        """What ``BackupAndRestore`` saves, so a resumed run saves as this one would."""
        return {"best": self.best, "current_epoch": self._current_epoch,
                "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
                "last_batch_seen": self._last_batch_seen}

    def _set_state(self, state: dict) -> None:
        self.best = state["best"]
        self._current_epoch = int(state["current_epoch"])
        self._batches_seen_since_last_saving = int(state["batches_seen_since_last_saving"])
        self._last_batch_seen = state["last_batch_seen"]
