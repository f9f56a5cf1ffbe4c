"""``ProgbarLogger``: prints the progress of ``fit``, ``evaluate`` and ``predict``."""

from __future__ import annotations

from fcnet.callbacks._io import is_dynamic_display, print_msg
from fcnet.callbacks.callback import Callback
from fcnet.callbacks.progbar import Progbar

_BATCH_END_HOOKS = frozenset(
    {"on_train_batch_end", "on_test_batch_end", "on_predict_batch_end"}
)


class ProgbarLogger(Callback):
    """Prints a progress bar per epoch of ``fit``, and for ``evaluate`` and ``predict``.

    ``fit`` adds one unless ``verbose=0``. Output, in tf.keras 2 form (see
    ``Progbar``)::

        Epoch 1/2
        1875/1875 [==============================] - 3s 1ms/step - loss: 0.2987
        Epoch 2/2
        1875/1875 [==============================] - 3s 1ms/step - loss: 0.1410

    * ``Epoch i/E`` only when ``verbose`` is not 0 and ``E > 1``.
    * The values are the model's logs, already running means over the epoch: they
      are printed as given, never averaged again. ``val_`` values appear on the
      epoch's final line only.
    * ``verbose=1`` (or ``"auto"``): a live bar on a terminal, one line per epoch
      elsewhere; ``verbose=2``: one line per epoch with epoch and step times.
    * Validation inside ``fit`` prints nothing; ``evaluate`` and ``predict`` print
      their own bar when called on their own.

    When the bar is never redrawn during an epoch (a file, a pipe, ``verbose=2``)
    and the number of steps is known, the logger asks for no batch hooks at all,
    so ``fit`` may skip building per-batch logs; the time per step of the final
    line then includes the first step.

    Args:
        count_mode: ``"steps"``, the only mode: the bar counts batches (Keras 3 does
            the same; tf.keras 2's ``"samples"`` mode is not offered).
    """

    def __init__(self, count_mode: str = "steps"):
        if count_mode != "steps":
            raise ValueError(
                'ProgbarLogger counts steps only: expected count_mode="steps". '
                f"Received: count_mode={count_mode!r}"
            )
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _idle_hooks(self):
        """Batch hooks CallbackList need not call: none draws while a bar is not live."""
        if self.target is not None and not (self.verbose == 1 and is_dynamic_display()):
            return _BATCH_END_HOOKS
        return ()

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit stays silent

    def on_train_end(self, logs=None):
        self._called_in_fit = False  # so a later evaluate() with this logger prints

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_begin(self, logs=None):
        self._reset_progbar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # predictions are not metrics

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = self._new_progbar()

    def _new_progbar(self) -> Progbar:
        # stateless_metrics=set(): every value is shown as the model gave it.
        return Progbar(
            self.target, verbose=self.verbose, unit_name="step", stateless_metrics=set()
        )

    def _update_progbar(self, batch, logs) -> None:
        self.seen = batch + 1  # one-based
        if self.verbose == 1:
            if self.progbar is None:
                self.progbar = self._new_progbar()
            self.progbar.update(self.seen, logs, finalize=False)

    def _finalize_progbar(self, logs) -> None:
        if self.progbar is None:
            self.progbar = self._new_progbar()
        if self.target is None:  # unknown until the first epoch ends
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, logs or {}, finalize=True)
