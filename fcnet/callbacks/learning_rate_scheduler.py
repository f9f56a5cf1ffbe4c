"""``LearningRateScheduler``: set the learning rate from a function of the epoch."""

from __future__ import annotations

import inspect
import numbers

from fcnet.callbacks._io import print_msg
from fcnet.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate before every epoch to ``schedule(epoch, lr)``.

    ``schedule`` takes the epoch index (from 0) and the current learning rate and
    returns the new one, a float. A one-argument ``schedule(epoch)`` is accepted
    too, as Keras does. At each epoch end ``logs["learning_rate"]`` holds the rate
    in use (Keras 3).

    Args:
        schedule: ``(epoch, lr) -> new lr``.
        verbose: 1 prints ``Epoch N: LearningRateScheduler setting learning rate to X.``

    Example:
        ```python
        def schedule(epoch, lr):
            return lr if epoch < 10 else lr * 0.9
        model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(schedule)])
        ```
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        lr = float(optimizer.learning_rate)
        # Keras retries schedule(epoch) on any TypeError, which hides a TypeError
        # raised inside the schedule; fcnet looks at the signature instead.
        lr = self.schedule(epoch, lr) if _takes_two(self.schedule) else self.schedule(epoch)
        if not isinstance(lr, numbers.Real) or isinstance(lr, numbers.Integral):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _takes_two(fn) -> bool:
    try:
        inspect.signature(fn).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume the current API
        return True
    return True
