"""When a callback that saves every ``save_freq`` batches is due (ModelCheckpoint,
BackupAndRestore): Keras's count, which a batch index that does not grow restarts."""

from __future__ import annotations


def batch_save_due(callback, batch: int) -> bool:
    """Counts the batches since ``callback``'s last save (its ``_last_batch_seen``, None
    before the first batch, and ``_batches_seen_since_last_saving``); True, and the
    count restarts, once ``callback.save_freq`` batches have passed."""
    last = callback._last_batch_seen
    seen = batch + 1 if last is None or batch <= last else batch - last  # a new epoch: from 0
    callback._batches_seen_since_last_saving += seen
    callback._last_batch_seen = batch
    if callback._batches_seen_since_last_saving >= callback.save_freq:
        callback._batches_seen_since_last_saving = 0
        return True
    return False
