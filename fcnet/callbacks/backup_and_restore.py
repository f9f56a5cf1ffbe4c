"""``BackupAndRestore``: resume an interrupted ``fit`` exactly where it stopped."""

from __future__ import annotations

import os
import shutil

from fcnet.backend import parallel
from fcnet.callbacks import _training_state
from fcnet.callbacks._save_schedule import batch_save_due
from fcnet.callbacks.callback import Callback

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                "on_batch_end")


class BackupAndRestore(Callback):
    """Backs up the training state, and restores it when ``fit`` starts again.

    At the end of each epoch (or every ``save_freq`` batches) the whole state of the run
    is written to ``backup_dir``, replacing the previous backup. When the process dies
    (a crash, a kill, a lost machine) and the same script runs ``fit`` again with this
    callback, training resumes from the last backup and ends with the very weights an
    uninterrupted run would have reached, bit for bit: with Dropout, ``shuffle=True``,
    and a backup taken in the middle of an epoch (the rest of that epoch runs on the
    same permutation, and its loss and metrics count the batches done before).

    The backup holds every model weight (trainable or not), the optimizer's variables,
    the epoch and batch reached, the random state (the global generator and each
    layer's), the current epoch's permutation, its running loss and metric state, and
    the state of callbacks that carry one across epochs (``EarlyStopping``,
    ``ReduceLROnPlateau``, ``ModelCheckpoint``). It is written after every callback has
    seen the batch or epoch, as one file replaced atomically (``training_state.npz``:
    plain arrays and a JSON document, nothing pickled), so a crash at any moment leaves
    the previous backup or the new one. When training ends normally the backup is
    deleted (``delete_checkpoint=True``).

    The model, the data and the arguments of ``compile`` and ``fit`` must be those of
    the interrupted run; the model must be built when ``fit`` starts (it is, for NumPy
    data).

    Args:
        backup_dir: folder for the backup; not to be shared with other files or
            callbacks (it is removed when training ends).
        save_freq: ``"epoch"`` (at each epoch's end), or an integer: every that many
            batches; ``False`` saves nothing.
        double_checkpoint: keep the previous backup too (``.bkp``), and fall back on it
            when the latest cannot be read.
        delete_checkpoint: remove the backup when training ends normally.

    Example:
        ```python
        backup = fcnet.callbacks.BackupAndRestore(backup_dir="/tmp/backup")
        model.fit(x, y, epochs=10, callbacks=[backup])  # killed at epoch 4 ...
        model.fit(x, y, epochs=10, callbacks=[backup])  # ... runs epochs 5 to 10
        ```
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(
                "Invalid value for argument `save_freq`. "
                f"Received: save_freq={save_freq}. "
                "Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._state_path = os.path.join(self.backup_dir, "training_state.npz")
        self._prev_state_path = f"{self._state_path}.bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._pending = False

    def _idle_hooks(self):
        """Per-epoch backups need no batch hook."""
        return _BATCH_HOOKS if self.save_freq == "epoch" or self.save_freq is False else ()

    # ----- restore ---------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if not getattr(self.model, "built", True):
            raise ValueError(
                "To use the BackupAndRestore callback, you model must be built before you "
                f"call `fit()`. Model {self.model} is unbuilt. You can build it beforehand "
                "by calling it on a batch of data.")
        self._pending = False
        state = self._read()
        if state is not None:
            self.model._resume = state  # fit restores it, once every callback has begun

    def _read(self):
        if not os.path.exists(self._state_path):
            if self.double_checkpoint and os.path.exists(self._prev_state_path):
                return _training_state.load(self._prev_state_path)
            return None
        try:
            return _training_state.load(self._state_path)
        except ValueError:
            if not (self.double_checkpoint and os.path.exists(self._prev_state_path)):
                raise
            return _training_state.load(self._prev_state_path)

    def _get_state(self) -> dict:
        return {"batches_seen_since_last_saving": self._batches_seen_since_last_saving,
                "last_batch_seen": self._last_batch_seen,
                "current_epoch": self._current_epoch}

    def _set_state(self, state: dict) -> None:
        self._batches_seen_since_last_saving = int(state["batches_seen_since_last_saving"])
        self._last_batch_seen = int(state["last_batch_seen"])
        self._current_epoch = int(state["current_epoch"])

    # ----- back up ---------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._pending = True

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._pending = True

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch" or self.save_freq is False:
            return False
        return batch_save_due(self, batch)

    def _after_callbacks(self) -> None:
        """Called by ``fit`` once every callback has seen the batch or the epoch, so the
        backup holds their updated state."""
        if self._pending:
            self._pending = False
            self._save()

    def _save(self) -> None:
        if not parallel.is_chief():  # data parallel: rank 0 writes, every rank restores
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._state_path):
            with open(self._state_path, "rb") as source, _training_state.replacing(
                    self._prev_state_path) as target:
                shutil.copyfileobj(source, target)
        _training_state.save(self._state_path, self.model)

    def on_train_end(self, logs=None):
        self._pending = False
        if self.delete_checkpoint and parallel.is_chief() and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
