"""Data, losses and metrics matched to a model's outputs, and the logs they make.

A model's outputs have names (a functional model's output layers, or the keys of a dict
of outputs); targets and sample weights arrive as one array, a list in output order, or
a dict keyed by those names, and leave here as one list per output, converted, checked
and aligned once per fit. The logs carry the total ``loss``, each output's
``<name>_loss`` (unweighted, with several losses) and ``<name>_<metric>``.
"""

from __future__ import annotations

import numpy

from fcnet import losses
from fcnet.backend import tree
from fcnet.models import data_adapter as adapter


class Outputs:
    """The per-output half of the training API (a mixin of ``Trainer``)."""

    def _output_keys(self) -> list[str] | None:
        """What compile arguments and targets are keyed by, where the model knows it
        before running (a graph); None for a subclassed model."""
        return None

    def _output_names(self, x) -> list[str]:
        """The outputs' keys: a graph's, else one per output the model's call gives."""
        names = self._output_keys()
        if names is None:
            y = self(tree.map_structure(lambda a: a[:1], x))
            if isinstance(y, dict):
                return sorted(y)
            count = len(tree.flatten(y)) if tree.is_nested(y) else 1
            names = [self.layers[-1].name] if count == 1 and self.layers else [
                f"output_{k + 1}" for k in range(count)]
        return list(names)

    def _resolve_outputs(self, x) -> None:
        """Builds the model from the data and matches the compile arguments to its outputs."""
        self._build_from_data(x)
        if self._compiled.names is None:
            self._compiled.resolve(self._output_names(x))

    def _targets(self, y, what: str = "y") -> list | None:
        """One entry per output from an array, a list, or a dict keyed by output name."""
        if y is None:
            return None
        names = self._compiled.names
        if isinstance(y, dict):
            unknown = [key for key in y if key not in names]
            if unknown:
                raise ValueError(f"`{what}` has key(s) {unknown} that name no output of model "
                                 f"'{self.name}'. Its outputs: {names}")
            return [y.get(name) for name in names]
        if len(names) > 1:
            if not isinstance(y, (list, tuple)) or len(y) != len(names):
                raise ValueError(f"Model '{self.name}' has {len(names)} outputs {names}: pass "
                                 f"`{what}` as a list of {len(names)} arrays or a dict keyed by "
                                 "output name.")
            return list(y)
        if isinstance(y, (list, tuple)) and len(y) == 1 and hasattr(y[0], "shape"):
            return [y[0]]
        return [y]

    def _data(self, x, y, sample_weight, class_weight=None, check=True):
        """``(x, ys, sample_weights)`` converted once, the targets aligned to the outputs."""
        x = adapter.as_inputs(x, model=self)
        adapter.check_not_empty(x)
        self._resolve_outputs(x)
        ys = self._targets(y)
        sws = self._sample_weights(sample_weight, ys)
        x, ys, sws = adapter.as_arrays(x, ys, sws, class_weight, check=check, model=self)
        return x, [self._align_target(k, t) for k, t in enumerate(ys)], sws

    def _sample_weights(self, sample_weight, ys):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, (dict, list, tuple)) and len(ys) > 1:
            return self._targets(sample_weight, "sample_weight")
        return [sample_weight] * len(ys)  # one weight per sample, for every output

    def _shapes_of_outputs(self) -> list:
        try:
            shape = self.output_shape
        except (AttributeError, NotImplementedError, ValueError):
            return [None] * len(self._compiled.names)
        return [shape] if len(self._compiled.names) == 1 else list(shape)

    def _align_target(self, k, y):
        """A ``(n,)`` target for an ``(n, 1)`` output becomes ``(n, 1)``, once per fit."""
        out = self._shapes_of_outputs()[k]
        if y is not None and out is not None and y.ndim == len(out) - 1 and out[-1] == 1:
            return y.reshape(y.shape + (1,))
        return y

    def _check_targets(self, ys) -> None:
        """Sparse labels outside ``[0, classes)`` fail before any step, naming the label."""
        for loss, out, y in zip(self._compiled.losses, self._shapes_of_outputs(), ys):
            if not isinstance(loss, losses.SparseCategoricalCrossentropy) or y is None \
                    or not y.size or out is None:
                continue
            classes = out[-1]
            labels = y[y != loss.ignore_class] if loss.ignore_class is not None else y
            bad = labels[(labels < 0) | (labels >= classes)]
            if bad.size:
                raise ValueError(
                    f"{type(loss).__name__}: labels must be integers in [0, {classes}) for an "
                    f"output with {classes} units. Received: label {bad.reshape(-1)[0]!r} "
                    f"({bad.size} labels out of range)")

    def _update_metrics(self, ys, outputs, sample_weights) -> None:
        for k, metric, weighted in self._compiled.build_metrics(ys, outputs):
            if ys[k] is None:  # an output whose targets were left out: nothing to measure
                continue
            sw = sample_weights[k] if weighted and sample_weights is not None else None
            metric.update_state(ys[k], outputs[k], sample_weight=sw)

    @property
    def metrics(self):
        compiled = getattr(self, "_compiled", None)
        return [m for _, m, _ in (compiled.metrics or [])] if compiled else []

    @property
    def metrics_names(self):
        compiled = self._compiled
        return list(self._logs(Means(len(compiled.names or [None]) + 1)).keys())

    def _reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def _logs(self, means) -> dict:
        compiled = self._compiled
        logs = {"loss": means.value(0)}
        if compiled.names is not None and sum(loss is not None for loss in compiled.losses) > 1:
            for k, loss in enumerate(compiled.losses):  # as Keras 3: only with several losses
                if loss is not None:
                    logs[compiled.log_name(k, "loss")] = means.value(k + 1)
        for k, metric, _ in compiled.metrics or []:
            logs[compiled.log_name(k, metric.name)] = metric.result()
        return logs


class Means:
    """Running means over samples of the total loss (0) and each output's loss (1 …)."""

    def __init__(self, count: int):
        self.sums = [0.0] * count
        self.seen = 0

    @classmethod
    def of(cls, n, value, parts):
        means = cls(len(parts) + 1)
        means.add(n, value, parts)
        return means

    def add(self, n, value, parts) -> None:
        self.seen += n
        self.sums[0] += value * n
        for k, part in enumerate(parts):
            if part is not None:
                self.sums[k + 1] += part * n

    def value(self, index: int) -> float:
        return self.sums[index] / self.seen if self.seen else float("nan")


def batch_len(x) -> int:
    """The number of samples in a batch of inputs (one array or a structure)."""
    return len(x) if isinstance(x, numpy.ndarray) else len(tree.flatten(x)[0])
