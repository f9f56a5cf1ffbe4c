"""``train_on_batch`` and ``test_on_batch``: one step on exactly the arrays given."""

from __future__ import annotations

from fcnet.models.outputs import Means, batch_len


class OnBatch:
    """The ``*_on_batch`` half of the training API (a mixin of ``Trainer``)."""

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One gradient step on exactly these arrays; returns the loss (and metrics)."""
        self._require_compiled()
        x, ys, sws = self._data(x, y, sample_weight, class_weight)
        self._check_targets(ys)
        self._prepare(x)
        self._reset_metrics()
        value, parts, outputs = self._step.run(x, ys, sws)
        if not self._step.updates_metrics:
            self._update_metrics(ys, outputs, sws)
        return self._result(self._logs(Means.of(batch_len(x), value, parts)),
                            return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on exactly these arrays, without an update."""
        self._require_compiled()
        x, ys, sws = self._data(x, y, sample_weight)
        self._reset_metrics()
        value, parts = self._test_step(x, ys, sws)
        return self._result(self._logs(Means.of(batch_len(x), value, parts)),
                            return_dict)
