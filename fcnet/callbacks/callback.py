"""The ``Callback`` base class: hooks into ``fit``, ``evaluate`` and ``predict``."""

from __future__ import annotations

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class Callback:
    """Base class of the objects that hook into training, evaluation and prediction.

    Subclass it and override the hooks you need; the model calls every hook at the
    matching moment of ``fit``, ``evaluate`` and ``predict``. A hook that no callback
    overrides is never called at all (``CallbackList`` looks that up once), so an
    unused per-batch hook costs nothing.

    ``logs`` is a dict of the running metric values (``{"loss": 0.25}``): at batch
    level the model's own dict, to be read and not changed; at epoch level a copy
    with plain floats, to which callbacks may add entries (``learning_rate``) that
    the callbacks after them, ``History`` last, will see.

    Attributes:
        model: the model being trained (set through ``set_model``). Callbacks reach
            the model only through it: ``stop_training``, ``get_weights()``,
            ``set_weights()``, ``optimizer.learning_rate``, ``history``.
        params: dict of training parameters: ``{"verbose", "epochs", "steps"}``.

    Example:
        ```python
        class StopAtLoss(fcnet.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if logs["loss"] < 0.01:
                    self.model.stop_training = True
        ```
    """

    # Class-level defaults, so a subclass that forgets ``super().__init__()`` works.
    params = None
    _model = None

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    # ----- training: whole run and epochs -------------------------------------
    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts."""

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends; ``logs`` are the last epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch ``epoch`` (0-based) of ``fit``."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch, with training and ``val_`` metrics in ``logs``."""

    # ----- training batches ---------------------------------------------------
    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch`` (0-based, within the epoch)."""
        self.on_batch_begin(batch, logs=logs)  # the legacy alias, as in Keras

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch; ``logs`` hold the epoch's running metrics."""
        self.on_batch_end(batch, logs=logs)  # the legacy alias, as in Keras

    def on_batch_begin(self, batch, logs=None):
        """Legacy alias of ``on_train_batch_begin``."""

    def on_batch_end(self, batch, logs=None):
        """Legacy alias of ``on_train_batch_end``."""

    # ----- evaluation (also validation inside fit) ----------------------------
    def on_test_begin(self, logs=None):
        """Called when ``evaluate`` (or the validation pass of ``fit``) starts."""

    def on_test_end(self, logs=None):
        """Called when ``evaluate`` (or a validation pass) ends, with its metrics."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before an evaluation or validation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after an evaluation or validation batch, with the running metrics."""

    # ----- prediction ---------------------------------------------------------
    def on_predict_begin(self, logs=None):
        """Called when ``predict`` starts."""

    def on_predict_end(self, logs=None):
        """Called when ``predict`` ends."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a prediction batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a prediction batch."""


def overrides(callback, hook: str) -> bool:
    """Whether ``callback`` does something in ``hook``: its class overrides the method
    or the instance holds its own function (``LambdaCallback``)."""
    fn = getattr(callback, hook, None)
    if fn is None:
        return False
    return getattr(fn, "__func__", fn) is not getattr(Callback, hook)
