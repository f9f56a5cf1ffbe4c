"""``CallbackList``: calls a set of callbacks as one, skipping hooks nobody overrides."""

from __future__ import annotations

from fcnet.callbacks.callback import HOOKS, Callback, overrides
from fcnet.callbacks.history import History
from fcnet.callbacks.progbar_logger import ProgbarLogger

# Callback.on_train_batch_* forward to the legacy on_batch_*, so overriding either
# one means the train-batch hook must be dispatched.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class CallbackList(Callback):
    """Container that calls every hook on a list of callbacks, in order.

    The training loop calls, say, ``on_train_batch_end`` once per step (31,250 times
    an epoch for a million samples at batch 32), so the list of callbacks that
    really override each hook is worked out once, when the list is built or its
    params change; a hook nobody overrides loops over an empty list. The flags
    ``needs_batch_hooks``, ``needs_test_batch_hooks`` and
    ``needs_predict_batch_hooks`` tell the loop it may skip the batch hooks, and
    building their logs, altogether.

    Batch-level ``logs`` are passed on as given (no copy: read them, do not change
    them). Epoch-level and begin/end ``logs`` are copied once per call with values
    turned into plain floats, in the order given; callbacks may add to that copy
    (ReduceLROnPlateau adds ``learning_rate``), and the callbacks after them see it.

    Args:
        callbacks: a callback or a (nested) list of callbacks.
        add_history: append a ``History`` unless the list holds one.
        add_progbar: append a ``ProgbarLogger`` unless the list holds one.
        model: the model; ``model.history`` is set to the list's ``History``.
        **params: passed to every callback's ``set_params``
            (``verbose``, ``epochs``, ``steps``).
    """

    def __init__(
        self, callbacks=None, add_history=False, add_progbar=False, model=None, **params
    ):
        super().__init__()
        self.callbacks = _flatten(callbacks)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)
        self._build_dispatch()  # verbose may change whether the progress bar needs batches

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def append(self, callback) -> None:
        """Adds a callback at the end, giving it the list's model and params."""
        for item in _flatten(callback):
            self.callbacks.append(item)
            if self._model is not None:
                item.set_model(self._model)
            if self.params:
                item.set_params(self.params)
        self._build_dispatch()

    def __iter__(self):
        return iter(self.callbacks)

    def _build_dispatch(self) -> None:
        for hook in HOOKS:
            alias = _ALIASES.get(hook)
            fns = []
            for callback in self.callbacks:
                idle = getattr(callback, "_idle_hooks", None)
                if idle is not None and hook in idle():
                    continue
                if overrides(callback, hook) or (alias and overrides(callback, alias)):
                    fns.append(getattr(callback, hook))
            setattr(self, "_fns_" + hook, fns)
        self.needs_batch_hooks = bool(
            self._fns_on_train_batch_begin or self._fns_on_train_batch_end
        )
        self.needs_test_batch_hooks = bool(
            self._fns_on_test_batch_begin or self._fns_on_test_batch_end
        )
        self.needs_predict_batch_hooks = bool(
            self._fns_on_predict_batch_begin or self._fns_on_predict_batch_end
        )

    # ----- per-batch hooks: no copying, no conversion --------------------------
    def on_train_batch_begin(self, batch, logs=None):
        for fn in self._fns_on_train_batch_begin:
            fn(batch, logs={} if logs is None else logs)

    def on_train_batch_end(self, batch, logs=None):
        for fn in self._fns_on_train_batch_end:
            fn(batch, logs={} if logs is None else logs)

    def on_batch_begin(self, batch, logs=None):
        for fn in self._fns_on_batch_begin:
            fn(batch, logs={} if logs is None else logs)

    def on_batch_end(self, batch, logs=None):
        for fn in self._fns_on_batch_end:
            fn(batch, logs={} if logs is None else logs)

    def on_test_batch_begin(self, batch, logs=None):
        for fn in self._fns_on_test_batch_begin:
            fn(batch, logs={} if logs is None else logs)

    def on_test_batch_end(self, batch, logs=None):
        for fn in self._fns_on_test_batch_end:
            fn(batch, logs={} if logs is None else logs)

    def on_predict_batch_begin(self, batch, logs=None):
        for fn in self._fns_on_predict_batch_begin:
            fn(batch, logs={} if logs is None else logs)

    def on_predict_batch_end(self, batch, logs=None):
        for fn in self._fns_on_predict_batch_end:
            fn(batch, logs={} if logs is None else logs)

    # ----- epochs and begin/end: logs copied as plain floats ------------------
    def on_epoch_begin(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_epoch_begin:
            fn(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_epoch_end:
            fn(epoch, logs)

    def on_train_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_train_begin:
            fn(logs)

    def on_train_end(self, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_train_end:
            fn(logs)

    def on_test_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_test_begin:
            fn(logs)

    def on_test_end(self, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_test_end:
            fn(logs)

    def on_predict_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_predict_begin:
            fn(logs)

    def on_predict_end(self, logs=None):
        logs = pythonify_logs(logs)
        for fn in self._fns_on_predict_end:
            fn(logs)


def pythonify_logs(logs) -> dict:
    """A copy of ``logs`` with nested dicts flattened and scalars turned into floats.

    Keys keep their order (tf.keras 2); Keras 3 also sorts them.
    """
    result = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        elif isinstance(value, str) or getattr(value, "ndim", 0) != 0:
            result[key] = value  # text and whole arrays stay as they are
        else:
            try:
                result[key] = float(value)
            except (TypeError, ValueError):
                result[key] = value
    return result


def _flatten(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        return [c for item in callbacks for c in _flatten(item)]
    if not isinstance(callbacks, Callback) and not (
        hasattr(callbacks, "set_model") and hasattr(callbacks, "set_params")
    ):
        raise TypeError(
            "Expected a `fcnet.callbacks.Callback` instance or a list of them. "
            f"Received: callbacks={callbacks!r} of type {type(callbacks).__name__}"
        )
    return [callbacks]
