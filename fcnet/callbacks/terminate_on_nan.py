"""``TerminateOnNaN``: stop training cleanly when the loss stops being a number."""

from __future__ import annotations

import math

from fcnet.callbacks._io import print_msg
from fcnet.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite.

    By default it prints ``Batch {b}: Invalid loss, terminating training`` and sets
    ``model.stop_training = True``, so training ends after that batch and every
    callback's ``on_train_end`` still runs. With ``raise_error=True`` (Keras 3) it
    raises a ``RuntimeError`` at once instead.

    Args:
        raise_error: raise instead of stopping gracefully (False).

    Example:
        ```python
        model.fit(x, y, callbacks=[fcnet.callbacks.TerminateOnNaN()])
        ```
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print_msg(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
