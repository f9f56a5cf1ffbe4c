"""``compile``, ``fit``, ``evaluate``, ``predict`` and the ``*_on_batch`` methods.

One training step (``TrainStep``), for a model with outputs ``y_k`` and losses ``L_k``:

    y, ctx = model.forward_step(x)                        the tape, forward
    loss = Σ_k w_k L_k(t_k, y_k) + penalties              (dL/dz fused with softmax/sigmoid)
    model.backward_step(ctx, dL/dy)                       the tape, backward
    grads += R'(w);  optimizer.apply(grads)               over the flat parameter buffer

Every kind of model (Sequential, functional, subclassed, nested) runs this one path;
the hot path makes a fixed, small number of array calls per layer and none per sample.
"""

from __future__ import annotations

import numpy

from fcnet import backend, losses
from fcnet import optimizers as optimizers_module
from fcnet.backend import blas_threads, parallel, tree, workspace
from fcnet.backend.blas_threads import NO_GOVERNOR
from fcnet.callbacks import CallbackList, History
from fcnet.layers import InputLayer, Layer, Step, weight_penalty
from fcnet.models import data_adapter as adapter
from fcnet.models import sharded
from fcnet.models.compile_utils import CompiledOutputs
from fcnet.models.fit_progress import FitProgress
from fcnet.models.on_batch import OnBatch
from fcnet.models.outputs import Means, Outputs, batch_len
from fcnet.models.parameters import FlatParameters
from fcnet.models.step import TrainStep


class Trainer(OnBatch, Outputs):
    """The training API shared by every model."""

    _governor = None
    _dist = None  # the data-parallel distribution during fit/evaluate (None: one process)

    compiled = False
    stop_training = False
    optimizer = None
    history = None

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures the model for training: optimizer, loss and metrics by name or object;
        ``loss``, ``loss_weights`` and ``metrics`` may be lists or dicts (by output name)."""
        self.optimizer = optimizers_module.get(optimizer)
        # What `model.save` writes as the compile config (Keras's keys and order).
        self._compile_args = {
            "optimizer": self.optimizer, "loss": loss, "loss_weights": loss_weights,
            "metrics": metrics, "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly, "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile}
        self.loss = loss if isinstance(loss, (list, tuple, dict)) else (
            losses.get(loss) if loss is not None else None)
        self.loss_weights = loss_weights
        # Keras: `metrics` ignore sample weights, `weighted_metrics` use them.
        self._compiled = CompiledOutputs(loss, loss_weights, metrics, weighted_metrics)
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
        """Builds the model, packs its parameters, and makes this fit's training step."""
        self._resolve_outputs(x)
        if self.trainable_variables:  # a layer without backward is refused before the first step
            for layer in self._flatten_layers():
                if _lacks_backward(layer):
                    raise NotImplementedError(
                        f"Layer '{layer.name}' ({type(layer).__name__}) has no "
                        "`backward()`, so the model cannot be trained. Define "
                        "`backward(self, ctx, dy)` returning the input gradient.")
        self._pack_parameters()
        dist = parallel.active()
        self._step = TrainStep(self, self._parameters, self._compiled) if dist is None \
            else sharded.ShardedTrainStep(self, self._parameters, self._compiled, dist)

    def _pack_parameters(self) -> None:
        """Packs the trainable variables into the flat buffer and builds the optimizer's
        slots over it (kept when the variables have not changed). A built model needs no
        data for this, so a saved optimizer state can be loaded before the first step."""
        variables = self.trainable_variables
        if self._parameters is not None and self._parameters.holds(variables):
            self._parameters.rebind()
            return
        self._parameters = FlatParameters(variables, previous=self._parameters)
        self.optimizer.build(self._parameters.params, self._parameters.slices,
                             [v.path for v in variables],
                             [tuple(v.shape) for v in variables])

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for ``epochs`` epochs; returns the ``History``."""
        self._require_compiled()
        batch_size = adapter.check_batch_size(batch_size)
        self._dist = parallel.active()
        data, val = self._training_data(x, y, sample_weight, class_weight, validation_split,
                                        validation_data, batch_size, shuffle, steps_per_epoch,
                                        validation_batch_size or batch_size)
        verbose = 1 if verbose == "auto" else verbose
        history = History()
        callback_list = CallbackList(list(callbacks or []) + [history],
                                     add_progbar=verbose != 0, model=self, verbose=verbose,
                                     epochs=epochs, steps=steps_per_epoch or data.steps)
        self.stop_training = False
        # Where training is, for callbacks that back it up (BackupAndRestore); one of
        # them may leave a saved state in `_resume` from `on_train_begin`.
        progress = self._fit_progress = FitProgress(data, callback_list)
        self._resume = None
        callback_list.on_train_begin()
        resume, self._resume = self._resume, None
        if resume is not None:
            initial_epoch = resume.epoch
            resume.restore_callbacks(callback_list)
            if self._step is not None:  # else at the first batch, once the model is ready
                resume.restore_model(self)
        if self._dist is not None and self._step is not None:
            sharded.broadcast_state(self, self._dist)
        logs = {}
        self._governor = blas_threads.governor().begin() if backend.xp is numpy else None
        try:
            for epoch in range(initial_epoch, epochs):
                progress.start(epoch)
                self._reset_metrics()
                callback_list.on_epoch_begin(epoch)
                logs = self._train_epoch(data, callback_list, steps_per_epoch, resume)
                resume = None
                if val is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = self._evaluate_batches(val, None, validation_steps)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, logs)
                progress.finish(epoch)
                if self.stop_training:
                    break
        except BaseException as error:
            if self._dist is not None:  # the other processes would wait for this one
                self._dist.abort(error)
            raise
        finally:
            if self._governor is not None:  # BLAS gets its own thread count back
                self._governor.restore()
            self._governor = None
        self._fit_progress = None
        if self._dist is not None:
            sharded.average_non_trainable(self, self._dist)
            self._dist = None
        if self.optimizer.use_ema:  # Keras ends training on the averaged weights
            self.optimizer.finalize_variable_values()
        callback_list.on_train_end(logs)
        return history

    def _train_epoch(self, data, callback_list, steps_per_epoch, resume=None) -> dict:
        """One epoch; ``resume`` (a saved training state) continues an epoch begun
        before: its permutation, from its next batch, with its running means."""
        hooks = callback_list.needs_batch_hooks
        progress = self._fit_progress
        progress.means = means = Means(len(self._compiled.names or [None]) + 1)
        start = progress.batch = 0 if resume is None else resume.batch
        if start:
            means.sums, means.seen = list(resume.means_sums), resume.means_seen
        batches = data.epoch(start=start) if data.raw else data.epoch(
            order=None if resume is None else resume.order, start=start)
        last = min(n for n in (data.steps, steps_per_epoch, float("inf")) if n is not None)
        logs = {}
        governor = self._governor or NO_GOVERNOR
        arrays = workspace.Workspace()  # each step's products write where the last's did
        for index, (xb, ys, sws) in enumerate(batches, start):
            if steps_per_epoch is not None and index >= steps_per_epoch:
                break
            if self._step is None:  # batches from a generator: the model meets data here
                self._prepare(xb)
                if resume is not None:
                    resume.restore_model(self)
                if self._dist is not None:
                    sharded.broadcast_state(self, self._dist)
            if data.raw:
                xb, ys, sws = self._batch_from_source(xb, ys, sws)
            if hooks:
                callback_list.on_train_batch_begin(index)
            governor.before_step()
            with arrays.batch():
                if self._dist is None:
                    value, parts, outputs = self._step.run(xb, ys, sws)
                else:
                    with parallel.batch_rows(data.window):
                        value, parts, outputs = self._step.run(xb, ys, sws)
            governor.after_step()
            if resume is not None:  # the metrics exist from the first batch on
                resume.restore_metrics(self, ys, outputs)
                resume = None
            if not self._step.updates_metrics:
                self._update_metrics(ys, outputs, sws)
            means.add(batch_len(xb) if self._dist is None else data.window[2], value, parts)
            progress.batch = index + 1
            if hooks:
                logs = self._logs(means)
                callback_list.on_train_batch_end(index, logs)
                if index + 1 < last and not self.stop_training:  # else at the epoch's end
                    progress.after_callbacks()
            if self.stop_training:
                break
        if not means.seen:
            raise ValueError("fit received no batch of data: the dataset or generator yielded "
                             "nothing.")
        return self._logs(means)

    def _batch_from_source(self, xb, y, sw):
        """A generator's batch: targets matched to the outputs and checked."""
        if y is None:
            raise ValueError("The batches of a generator or PyDataset passed to `fit` or "
                             "`evaluate` must be `(x, y)` or `(x, y, sample_weight)` tuples.")
        return self._data(xb, y, sw)

    def _training_data(self, x, y, sample_weight, class_weight, validation_split,
                       validation_data, batch_size, shuffle, steps_per_epoch, val_batch_size):
        val = None
        shard = None if self._dist is None else (self._dist.rank, self._dist.world_size)
        if isinstance(x, adapter.PyDataset) or adapter.is_iterator(x):
            data = adapter.IterableBatches(x, steps_per_epoch, shard)
            self._step = None
        else:
            arrays = self._data(x, y, sample_weight, class_weight)
            self._check_targets(arrays[1])
            self._prepare(arrays[0])
            if validation_data is None and validation_split:
                arrays, val_arrays = adapter.split_validation(arrays, validation_split)
                val = adapter.ArrayBatches(val_arrays, val_batch_size, shard=shard)
            data = adapter.ArrayBatches(arrays, batch_size, shuffle=bool(shuffle),
                                        rng=backend.generator(), shard=shard)
        if validation_data is not None:
            val = self._evaluation_data(validation_data, val_batch_size, shard)
        return data, val

    def _evaluation_data(self, validation_data, batch_size, shard=None):
        if isinstance(validation_data, adapter.PyDataset) or adapter.is_iterator(validation_data):
            return adapter.IterableBatches(validation_data, shard=shard)
        vx, vy, vsw = (tuple(validation_data) + (None,))[:3]
        return adapter.ArrayBatches(self._data(vx, vy, vsw), batch_size, shard=shard)

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss (and metrics) over the data: a float, a list, or a dict."""
        self._require_compiled()
        batch_size = adapter.check_batch_size(batch_size)
        dist = self._dist = parallel.active()
        shard = None if dist is None else (dist.rank, dist.world_size)
        if isinstance(x, adapter.PyDataset) or adapter.is_iterator(x):
            data = adapter.IterableBatches(x, steps, shard)
        else:
            data = adapter.ArrayBatches(self._data(x, y, sample_weight), batch_size, shard=shard)
        verbose = 1 if verbose == "auto" else verbose
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=steps or data.steps)
        try:
            logs = self._evaluate_batches(data, callback_list, steps)
        finally:
            self._dist = None
        return self._result(logs, return_dict)

    def _evaluate_batches(self, data, callback_list, steps=None) -> dict:
        self._reset_metrics()
        if callback_list is not None:
            callback_list.on_test_begin()
        hooks = callback_list is not None and callback_list.needs_test_batch_hooks
        means = None
        for index, (xb, ys, sws) in enumerate(data.epoch()):
            if steps is not None and index >= steps:
                break
            if data.raw:
                xb, ys, sws = self._batch_from_source(xb, ys, sws)
            means = means or Means(len(self._compiled.names) + 1)
            if hooks:
                callback_list.on_test_batch_begin(index)
            if self._dist is None:
                value, parts = self._test_step(xb, ys, sws)
                means.add(batch_len(xb), value, parts)
            else:
                with parallel.batch_rows(data.window):
                    value, parts = sharded.test_step(self, self._dist, xb, ys, sws)
                means.add(data.window[2], value, parts)
            if hooks:
                callback_list.on_test_batch_end(index, self._logs(means))
        if means is None:
            raise ValueError("evaluate received no batch of data.")
        logs = self._logs(means)
        if callback_list is not None:
            callback_list.on_test_end(logs)
        return logs

    def _test_step(self, x, ys, sample_weights):
        """``(loss, per-output losses)`` as training computes them, without gradients."""
        x, ys, sample_weights = adapter.to_device(x, ys, sample_weights)
        step = Step(backward=False)
        y = self.forward_step(x, False, step)[0]
        outputs = tree.flatten(y) if tree.is_nested(y) else [y]
        value, parts = 0.0, []
        for k, loss in enumerate(self._compiled.losses):
            if loss is None:
                parts.append(None)
                continue
            sw = None if sample_weights is None else sample_weights[k]
            part = float(loss(ys[k], outputs[k], sample_weight=sw))
            parts.append(part)
            weight = self._compiled.weights[k]
            value += part if weight is None else part * weight
        value += sum(step.penalties) + weight_penalty(self.trainable_variables)
        self._update_metrics(ys, outputs, sample_weights)
        return value, parts

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs as NumPy arrays (batches concatenated): one array, or a
        list or dict of them for a model with several outputs."""
        batch_size = adapter.check_batch_size(batch_size)
        if isinstance(x, adapter.PyDataset) or adapter.is_iterator(x):
            data = adapter.IterableBatches(x, steps)
        else:
            x = adapter.as_inputs(x, model=self)
            adapter.check_not_empty(x)
            dist = parallel.active() if steps is None else None
            if dist is not None:  # each process predicts a block of rows; all get all
                return sharded.predict(self, dist, x, lambda part: self._predict_local(
                    part, batch_size, verbose, callbacks))
            if verbose == 0 and not callbacks and batch_len(x) <= batch_size:
                # one quiet batch: no callbacks to tell, no batches to cut
                return tree.map_structure(numpy.copy, self._predict_batch(x))
            data = adapter.ArrayBatches((x, [], None), batch_size)
        verbose = 1 if verbose == "auto" else verbose
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=1, steps=steps or data.steps)
        callback_list.on_predict_begin()
        hooks = callback_list.needs_predict_batch_hooks
        outputs = []
        arrays = workspace.Workspace()  # each batch's products write where the last's did
        for index, (xb, _, _) in enumerate(data.epoch()):
            if steps is not None and index >= steps:
                break
            if hooks:
                callback_list.on_predict_batch_begin(index)
            with arrays.batch():
                outputs.append(tree.map_structure(workspace.kept, self._predict_batch(xb)))
            if hooks:
                callback_list.on_predict_batch_end(index, {"outputs": outputs[-1]})
        callback_list.on_predict_end()
        if not outputs:
            raise ValueError("predict received no batch of data.")
        if not tree.is_nested(outputs[0]):
            return numpy.concatenate(outputs)
        return tree.pack_sequence_as(outputs[0], [
            numpy.concatenate(parts) for parts in zip(*[tree.flatten(o) for o in outputs])])

    def _predict_local(self, x, batch_size, verbose, callbacks):
        token = parallel.suspend()
        try:
            return self.predict(x, batch_size, verbose, None, callbacks)
        finally:
            parallel.resume(token)

    def _predict_batch(self, x):
        self._build_from_data(x)
        x = adapter.to_device(x)[0]
        y = self.forward_step(x, False, Step(backward=False))[0]
        return tree.map_structure(backend.to_numpy, y)

    # ------------------------------------------------------------------ on_batch
    def predict_on_batch(self, x):
        """The outputs for exactly this batch, as NumPy arrays."""
        x = adapter.as_inputs(x, model=self)
        adapter.check_not_empty(x)
        return self._predict_batch(x)

    def _result(self, logs: dict, return_dict: bool):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values


def _lacks_backward(layer: Layer) -> bool:
    """A layer the engine cannot run backwards: no ``backward`` of its own (a model has
    its own ``backward_step``; an input layer passes gradients through)."""
    return (type(layer).backward is Layer.backward
            and type(layer).backward_step is Layer.backward_step
            and not isinstance(layer, InputLayer))
