"""``compile``, ``fit``, ``evaluate``, ``predict`` and the ``*_on_batch`` methods.

One training step, for layers ``f_1 … f_k`` and loss ``L``:

    h_0 = x,  h_i, ctx_i = f_i.forward(h_{i-1})          forward, keeping each ctx
    loss, dh_k = L.value_and_gradient(y, h_k)            (or dL/dz fused with softmax/sigmoid)
    dh_{i-1} = f_i.backward(ctx_i, dh_i)                 backward; the first layer skips dx
    grads += R'(w);  optimizer.apply(grads)              over the flat parameter buffer

The hot path makes a fixed, small number of array calls per layer and none per sample.
"""

from __future__ import annotations

import numpy

from fcnet import backend, losses
from fcnet import metrics as metrics_module
from fcnet import optimizers as optimizers_module
from fcnet.callbacks import CallbackList, History
from fcnet.layers import Layer, activity_penalty, weight_penalty
from fcnet.layers.input_spec import check_input
from fcnet.models import data_adapter as adapter
from fcnet.models.parameters import FlatParameters
from fcnet.models.step import TrainStep


class Trainer:
    """The training API shared by every model."""

    compiled = False
    stop_training = False
    optimizer = None
    history = None

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures the model for training: optimizer, loss and metrics by name or object."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        self._loss_identifier = loss
        if isinstance(loss_weights, (list, tuple)):
            loss_weights = loss_weights[0] if len(loss_weights) == 1 else loss_weights
        if loss_weights is not None and not isinstance(loss_weights, (int, float)):
            raise ValueError("fcnet models have one output, so `loss_weights` must be a number "
                             f"or a list of one. Received: loss_weights={loss_weights}")
        self.loss_weights = loss_weights
        self._metric_identifiers = list(metrics or []) + list(weighted_metrics or [])
        # Keras: `metrics` ignore sample weights, `weighted_metrics` use them.
        self._metric_weighted = [False] * len(metrics or []) + [True] * len(weighted_metrics or [])
        for identifier in self._metric_identifiers:
            metrics_module.check_identifier(identifier)
        self._compiled_metrics = None
        self._parameters = None
        self._step = None
        self.compiled = True
        self.stop_training = False

    # ------------------------------------------------------------------ set-up
    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")
        if self.loss is None:
            raise ValueError("The model was compiled without a `loss`, so it cannot be trained "
                             "or evaluated. Pass `loss=` to `compile()`.")

    def _prepare(self, x) -> None:
        """Builds the model from the data, checks the input, packs the parameters."""
        self._ensure_built(x.shape)
        check_input(self.layers[0], (None,) + tuple(x.shape[1:]))
        variables = self.trainable_variables
        if self._parameters is None or not self._parameters.is_current(variables):
            for layer in self.layers:
                if variables and _lacks_backward(layer):
                    raise NotImplementedError(
                        f"Layer '{layer.name}' ({type(layer).__name__}) has no `backward()`, "
                        "so the model cannot be trained.")
            self._parameters = FlatParameters(variables)
            self.optimizer.build(self._parameters.params, self._parameters.slices,
                                 [v.path for v in variables])
            self._step = TrainStep(self, self._parameters)

    def _metrics_for(self, y, p):
        if self._compiled_metrics is None:
            self._compiled_metrics = [
                metrics_module.get_for_output(identifier, y, p, self.loss)
                for identifier in self._metric_identifiers]
        return self._compiled_metrics

    def _update_metrics(self, y, p, sample_weight) -> None:
        for metric, weighted in zip(self._metrics_for(y, p), self._metric_weighted):
            metric.update_state(y, p, sample_weight=sample_weight if weighted else None)

    @property
    def metrics(self):
        return list(self._compiled_metrics or [])

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self.metrics]

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for ``epochs`` epochs; returns the ``History``."""
        self._require_compiled()
        batch_size = _batch_size(batch_size)
        data, val = self._training_data(x, y, sample_weight, class_weight, validation_split,
                                        validation_data, batch_size, shuffle, steps_per_epoch,
                                        validation_batch_size or batch_size)
        verbose = 1 if verbose == "auto" else verbose
        history = History()
        callback_list = CallbackList(list(callbacks or []) + [history],
                                     add_progbar=verbose != 0, model=self, verbose=verbose,
                                     epochs=epochs, steps=steps_per_epoch or data.steps)
        self.stop_training = False
        callback_list.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            callback_list.on_epoch_begin(epoch)
            logs = self._train_epoch(data, callback_list, steps_per_epoch)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_batches(val, None, validation_steps)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        if self.optimizer.use_ema:  # Keras ends training on the averaged weights
            self.optimizer.finalize_variable_values()
        callback_list.on_train_end(logs)
        return history

    def _train_epoch(self, data, callback_list, steps_per_epoch) -> dict:
        step = self._step
        hooks = callback_list.needs_batch_hooks
        loss_sum, seen = 0.0, 0
        logs = {}
        for index, (xb, yb, swb) in enumerate(data.epoch()):
            if steps_per_epoch is not None and index >= steps_per_epoch:
                break
            if step is None:
                self._prepare(xb)
                step = self._step
            if hooks:
                callback_list.on_train_batch_begin(index)
            n = len(xb)
            loss_sum += step.run(xb, yb, swb) * n
            seen += n
            if hooks:
                logs = self._logs(loss_sum / seen)
                callback_list.on_train_batch_end(index, logs)
            if self.stop_training:
                break
        return self._logs(loss_sum / seen if seen else float("nan"))

    def _training_data(self, x, y, sample_weight, class_weight, validation_split,
                       validation_data, batch_size, shuffle, steps_per_epoch, val_batch_size):
        val = None
        if isinstance(x, adapter.PyDataset) or _is_iterator(x):
            data = adapter.IterableBatches(x, steps_per_epoch)
        else:
            x, y, sample_weight = adapter.as_arrays(x, y, sample_weight, class_weight)
            _check_finite(x, "x")
            self._prepare(x)
            y = self._align_targets(y)
            self._check_targets(y)
            arrays = (x, y, sample_weight)
            if validation_data is None and validation_split:
                arrays, val_arrays = adapter.split_validation(arrays, validation_split)
                val = adapter.ArrayBatches(val_arrays, val_batch_size)
            data = adapter.ArrayBatches(arrays, batch_size, shuffle=bool(shuffle),
                                        rng=backend.generator())
        if validation_data is not None:
            val = self._evaluation_data(validation_data, val_batch_size)
        return data, val

    def _evaluation_data(self, validation_data, batch_size):
        if isinstance(validation_data, adapter.PyDataset) or _is_iterator(validation_data):
            return adapter.IterableBatches(validation_data)
        vx, vy, vsw = adapter.as_arrays(*(tuple(validation_data) + (None,))[:3])
        return adapter.ArrayBatches((vx, self._align_targets(vy), vsw), batch_size)

    def _align_targets(self, y):
        """A ``(n,)`` target for ``(n, 1)`` outputs becomes ``(n, 1)`` once, not every step."""
        try:
            out = self.output_shape
        except AttributeError:
            return y
        if y.ndim == len(out) - 1 and out[-1] == 1:
            return y.reshape(y.shape + (1,))
        return y

    def _check_targets(self, y) -> None:
        """Sparse labels outside ``[0, classes)`` fail before any step, naming the label."""
        if not isinstance(self.loss, losses.SparseCategoricalCrossentropy) or not y.size:
            return
        classes = self.output_shape[-1]
        labels = y[y != self.loss.ignore_class] if self.loss.ignore_class is not None else y
        bad = labels[(labels < 0) | (labels >= classes)]
        if bad.size:
            raise ValueError(
                f"{type(self.loss).__name__}: labels must be integers in [0, {classes}) for a "
                f"model with {classes} outputs. Received: label {bad.reshape(-1)[0]!r} "
                f"({bad.size} labels out of range)")

    # ------------------------------------------------------------------ logs
    def _reset_metrics(self) -> None:
        for metric in self._compiled_metrics or []:
            metric.reset_state()

    def _logs(self, loss: float) -> dict:
        logs = {"loss": loss}
        for metric in self._compiled_metrics or []:
            logs[metric.name] = metric.result()
        return logs

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss (and metrics) over the data: a float, a list, or a dict."""
        self._require_compiled()
        batch_size = _batch_size(batch_size)
        if isinstance(x, adapter.PyDataset) or _is_iterator(x):
            data = adapter.IterableBatches(x, steps)
        else:
            x, y, sw = adapter.as_arrays(x, y, sample_weight)
            data = adapter.ArrayBatches((x, y, sw), batch_size)
        verbose = 1 if verbose == "auto" else verbose
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=steps or data.steps)
        logs = self._evaluate_batches(data, callback_list, steps)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _evaluate_batches(self, data, callback_list, steps=None) -> dict:
        self._reset_metrics()
        if callback_list is not None:
            callback_list.on_test_begin()
        hooks = callback_list is not None and callback_list.needs_test_batch_hooks
        loss_sum, seen = 0.0, 0
        for index, (xb, yb, swb) in enumerate(data.epoch()):
            if steps is not None and index >= steps:
                break
            if hooks:
                callback_list.on_test_batch_begin(index)
            n = len(xb)
            loss_sum += self._test_step(xb, yb, swb) * n
            seen += n
            if hooks:
                callback_list.on_test_batch_end(index, self._logs(loss_sum / seen))
        logs = self._logs(loss_sum / seen if seen else float("nan"))
        if callback_list is not None:
            callback_list.on_test_end(logs)
        return logs

    def _test_step(self, x, y, sample_weight) -> float:
        self._ensure_built(x.shape)
        check_input(self.layers[0], x.shape)
        (p, y, sample_weight), penalty = adapter.to_device(x, y, sample_weight), 0.0
        for layer in self.layers:  # as predict, adding activity penalties as training does
            p = layer.forward(p, False)[0]
            if getattr(layer, "activity_regularizer", None) is not None:
                penalty += activity_penalty(layer.activity_regularizer, p)[0]
        value = float(self.loss(y, p, sample_weight=sample_weight))
        if self.loss_weights is not None:
            value *= self.loss_weights
        value += penalty + weight_penalty(self.trainable_variables)
        self._update_metrics(y, p, sample_weight)
        return value

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs as one NumPy array (batches concatenated)."""
        batch_size = _batch_size(batch_size)
        if isinstance(x, adapter.PyDataset) or _is_iterator(x):
            data = adapter.IterableBatches(x, steps)
        else:
            x = adapter.as_input_array(x)
            data = adapter.ArrayBatches((x,), batch_size)
        verbose = 1 if verbose == "auto" else verbose
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=steps or data.steps)
        callback_list.on_predict_begin()
        hooks = callback_list.needs_predict_batch_hooks
        outputs = []
        for index, batch in enumerate(data.epoch()):
            if steps is not None and index >= steps:
                break
            if hooks:
                callback_list.on_predict_batch_begin(index)
            self._ensure_built(batch[0].shape)
            outputs.append(backend.to_numpy(self._predict_array(batch[0])))
            if hooks:
                callback_list.on_predict_batch_end(index, {"outputs": outputs[-1]})
        callback_list.on_predict_end()
        return numpy.concatenate(outputs) if outputs else numpy.zeros((0,), backend.floatx())

    def _predict_array(self, x):
        check_input(self.layers[0], x.shape)
        return self.forward(backend.xp.asarray(x), False)[0]

    # ------------------------------------------------------------------ on_batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One gradient step on exactly these arrays; returns the loss (and metrics)."""
        self._require_compiled()
        x, y, sw = adapter.as_arrays(x, y, sample_weight, class_weight)
        self._prepare(x)
        self._check_targets(y)
        self._reset_metrics()
        return self._result(self._step.run(x, y, sw), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on exactly these arrays, without an update."""
        self._require_compiled()
        x, y, sw = adapter.as_arrays(x, y, sample_weight)
        self._reset_metrics()
        return self._result(self._test_step(x, y, sw), return_dict)

    def predict_on_batch(self, x):
        """The outputs for exactly this batch, as a NumPy array."""
        x = adapter.as_input_array(x)
        self._ensure_built(x.shape)
        return backend.to_numpy(self._predict_array(x))

    def _result(self, loss: float, return_dict: bool):
        logs = self._logs(loss)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values


def _batch_size(batch_size) -> int:
    if batch_size is None:
        return 32
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer. Received: "
                         f"batch_size={batch_size}")
    return batch_size


def _is_iterator(x) -> bool:
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__len__")
                                       and not isinstance(x, (str, bytes)))


def _lacks_backward(layer: Layer) -> bool:
    return type(layer).backward is Layer.backward and not layer._sublayers()


def _check_finite(x, name: str) -> None:
    if not numpy.isfinite(x).all():
        bad = int(numpy.size(x) - numpy.isfinite(x).sum())
        raise ValueError(f"Input `{name}` contains {bad} non-finite values (NaN or inf).")

