"""``FitProgress``: where a running ``fit`` stands, for callbacks that back it up."""

from __future__ import annotations


class FitProgress:
    """Where ``fit`` is: the epoch, the batches of it done, its running loss means (and
    through ``data.order`` its permutation); ``after_callbacks`` runs the callbacks' work
    that must follow every callback's hook (a backup of the whole state)."""

    def __init__(self, data, callback_list):
        self.data = data
        self.epoch = 0
        self.batch = 0
        self.means = None
        self.callbacks = list(callback_list)
        self._after = [cb._after_callbacks for cb in self.callbacks
                       if hasattr(cb, "_after_callbacks")]

    def start(self, epoch: int) -> None:
        self.epoch, self.batch, self.means = epoch, 0, None

    def finish(self, epoch: int) -> None:
        """The epoch and its callbacks are done: training stands at the next one."""
        self.epoch, self.batch, self.means = epoch + 1, 0, None
        self.after_callbacks()

    def after_callbacks(self) -> None:
        for fn in self._after:
            fn()
