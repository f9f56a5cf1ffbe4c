"""``LambdaCallback``: a callback made of plain functions."""

from __future__ import annotations

from fcnet.callbacks.callback import Callback


class LambdaCallback(Callback):
    """Builds a callback on the fly from functions, one per hook.

    The functions are called with the hooks' arguments: ``on_epoch_begin`` and
    ``on_epoch_end`` with ``(epoch, logs)``; ``on_train_begin`` and ``on_train_end``
    with ``(logs)``; the batch hooks with ``(batch, logs=logs)``. Any other hook of
    ``Callback`` can be given by name as a keyword (``on_test_end=fn``).

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end,
        on_train_batch_begin, on_train_batch_end: the functions, or ``None``.
        **kwargs: more hooks, by name.

    Example:
        ```python
        print_batch = LambdaCallback(on_train_batch_end=lambda batch, logs: print(batch))
        ```
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
