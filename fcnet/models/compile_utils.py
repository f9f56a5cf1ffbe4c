"""What ``compile`` was given, matched to the model's outputs once they are known.

``loss``, ``loss_weights``, ``metrics`` and ``weighted_metrics`` may each be one
value (every output; metrics: a list for a single output), a list in output order,
or a dict keyed by output name. With several outputs the logs carry, as Keras's do,
the total ``loss``, each output's ``<name>_loss`` (unweighted; only with several
losses), and ``<name>_<metric>``.
"""

from __future__ import annotations

from fcnet import losses
from fcnet import metrics as metrics_module


class CompiledOutputs:
    """Per-output losses, weights and metrics for a model with outputs ``names``."""

    def __init__(self, loss, loss_weights, metrics, weighted_metrics):
        self.loss, self.loss_weights = loss, loss_weights
        self.metrics_arg, self.weighted_arg = metrics, weighted_metrics
        for group in (metrics, weighted_metrics):
            for identifier in _flat_identifiers(group):
                metrics_module.check_identifier(identifier)
        self.names: list[str] | None = None
        self.metrics = None

    def resolve(self, names: list[str]) -> None:
        """Matches everything to the outputs ``names`` (in the model's output order)."""
        if names == self.names:
            return
        self.names = list(names)
        self.losses = [None if item is None else losses.get(item)
                       for item in _per_output(self.loss, names, "loss", broadcast=True)]
        weights = _per_output(self.loss_weights, names, "loss_weights", broadcast=True)
        self.weights = [None if w is None else float(w) for w in weights]
        plain = _per_output_metrics(self.metrics_arg, names, "metrics")
        weighted = _per_output_metrics(self.weighted_arg, names, "weighted_metrics")
        self.metric_ids = [[(m, False) for m in a] + [(m, True) for m in b]
                           for a, b in zip(plain, weighted)]
        self.metrics = None  # made on the first batch, when target and output shapes are known

    def build_metrics(self, ys, outputs) -> list:
        """``[(output index, metric, weighted)]``, made once from the first batch."""
        if self.metrics is None:
            self.metrics = [
                (k, metrics_module.get_for_output(identifier, ys[k], outputs[k],
                                                  self.losses[k]), weighted)
                for k, ids in enumerate(self.metric_ids) for identifier, weighted in ids]
        return self.metrics

    def log_name(self, k: int, name: str) -> str:
        return name if len(self.names) == 1 else f"{self.names[k]}_{name}"


def _flat_identifiers(group) -> list:
    if group is None:
        return []
    if isinstance(group, dict):
        group = list(group.values())
    if not isinstance(group, (list, tuple)):
        return [group]
    return [m for item in group for m in (item if isinstance(item, (list, tuple)) else [item])]


def _per_output(value, names, arg, broadcast):
    """One entry per output from a single value, a list or a dict."""
    if isinstance(value, dict):
        unknown = [key for key in value if key not in names]
        if unknown:
            raise ValueError(f"In the dict argument `{arg}`, key(s) {unknown} do not "
                             f"correspond to any model output. Model outputs: {names}. "
                             f"Received: {arg}={value}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"`{arg}` is a list of {len(value)} entries, but the model has "
                             f"{len(names)} output(s): {names}. Received: {arg}={value}")
        return list(value)
    return [value] * len(names) if broadcast else [value] + [None] * (len(names) - 1)


def _per_output_metrics(group, names, arg) -> list[list]:
    if group is None:
        return [[] for _ in names]
    if isinstance(group, dict):
        per = _per_output(group, names, arg, broadcast=False)
        return [[] if m is None else list(m) if isinstance(m, (list, tuple)) else [m]
                for m in per]
    if not isinstance(group, (list, tuple)):
        group = [group]
    if len(names) > 1 and all(isinstance(m, (list, tuple)) or m is None for m in group):
        per = _per_output(list(group), names, arg, broadcast=False)
        return [list(m or []) for m in per]
    if len(names) > 1:
        raise ValueError(
            f"For a model with several outputs ({names}), pass `{arg}` as a dict keyed by "
            f"output name or as a list with one list of metrics per output. Received: "
            f"{arg}={group}")
    return [list(group)]
