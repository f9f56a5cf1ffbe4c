"""``History``: the per-epoch record that ``fit`` returns."""

from __future__ import annotations

from fcnet.callbacks.callback import Callback


class History(Callback):
    """Records every epoch's logs; ``fit`` adds one and returns it.

    Attributes:
        history: dict of lists, one float per epoch for each key of the epoch logs
            (``loss``, each metric, then ``val_`` + each name), in the order the
            logs give them (tf.keras 2; Keras 3 sorts them alphabetically).
        epoch: the epoch indices seen, ``[0, 1, ...]``.
        params: ``{"verbose": ..., "epochs": E, "steps": S}`` as passed to ``fit``.

    ``model.history`` is set to this object when training begins.

    Example:
        ```python
        history = model.fit(x, y, epochs=3, verbose=0)
        history.history["loss"]   # [0.61, 0.42, 0.37]
        ```
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        # Like Keras, `history` survives a second fit with the same object; `epoch` restarts.
        self.epoch = []
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
