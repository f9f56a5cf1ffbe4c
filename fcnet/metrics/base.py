"""The metric base class and the reduction metrics Mean, Sum and MeanMetricWrapper.

A metric keeps its running state in a few arrays (``variables``) that are
*additive*: the state of all the data is the elementwise sum of the states of its
parts. So data-parallel training merges metrics by summing ``state()`` across
processes (one Allreduce) and calling ``set_state``; ``result()`` then gives the
global value. Accumulators are float64, so long epochs do not drift.
"""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet import losses as losses_module
from fcnet.losses import squeeze_or_expand_to_same_rank

_ACCUMULATOR = "float64"


class Metric:
    """Base class of stateful metrics (Keras 3 API).

    Subclasses create their state with ``add_variable`` in ``__init__`` and write
    ``update_state(...)`` and ``result()``; ``reset_state`` zeroes every variable.

    Args:
        name: The metric's name; by default the snake-cased class name, made unique.
        dtype: The dtype of the computed values (``floatx()`` by default).
    """

    _direction = None  # "up" for metrics to maximise, "down" to minimise

    def __init__(self, name=None, dtype=None):
        self.name = name or backend.get_uid(backend.snake_case(type(self).__name__))
        self.dtype = dtype or backend.floatx()
        self._variables: list = []
        self._variable_names: list[str] = []

    def add_variable(self, shape=(), name=None, dtype=_ACCUMULATOR):
        """A zero-initialised state array, summed across processes when merged."""
        value = backend.xp.zeros(shape, dtype=dtype)
        self._variables.append(value)
        self._variable_names.append(name or f"variable_{len(self._variables)}")
        return value

    @property
    def variables(self) -> list:
        return list(self._variables)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"Metric {self.name!r} must implement update_state().")

    def result(self):
        raise NotImplementedError(f"Metric {self.name!r} must implement result().")

    def reset_state(self) -> None:
        for v in self._variables:
            v[...] = 0

    # -- merging across processes
    def state(self) -> list:
        """Copies of the state arrays, as NumPy (sum them across processes)."""
        return [numpy.array(backend.to_numpy(v), copy=True) for v in self._variables]

    def set_state(self, state) -> None:
        """Overwrites the state with ``state`` (a list like the one ``state()`` gives)."""
        if len(state) != len(self._variables):
            raise ValueError(
                f"Metric {self.name!r} has {len(self._variables)} state arrays "
                f"({', '.join(self._variable_names)}). Received: {len(state)} arrays"
            )
        for v, s in zip(self._variables, state, strict=True):
            v[...] = backend.xp.asarray(s, dtype=v.dtype).reshape(v.shape)

    def merge_state(self, other) -> None:
        """Adds another metric's state (a Metric of the same kind, or its ``state()``)."""
        state = other.state() if isinstance(other, Metric) else other
        self.set_state([a + numpy.asarray(b) for a, b in zip(self.state(), state, strict=True)])

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _float(x) -> float:
    return float(backend.to_numpy(x))


def _divide_no_nan(a, b):
    return a / b if b != 0 else 0.0


def reduce_to_samplewise_values(values, sample_weight, reduce_fn):
    """Keras's reduction of values (and weights) to one value per sample.

    Returns ``(weighted per-sample values, per-sample weights or None)``.
    """
    xp = backend.xp
    values = xp.asarray(values)
    if values.dtype.kind != "f":
        values = values.astype(backend.floatx())
    if sample_weight is not None:
        w = xp.asarray(sample_weight, dtype=values.dtype)
        values, w = squeeze_or_expand_to_same_rank(values, w)
        if values.ndim > w.ndim:
            values = reduce_fn(values, axis=tuple(range(w.ndim, values.ndim)))
        w = xp.broadcast_to(w, values.shape)
        values = values * w
        if w.ndim > 1:
            w = reduce_fn(w, axis=tuple(range(1, w.ndim)))
        sample_weight = w
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen: ``result = sum(w * v)``.

    State: ``total``.
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, backend.xp.sum)
        self.total += backend.xp.sum(values, dtype=_ACCUMULATOR)

    def result(self) -> float:
        return _float(self.total)


class Mean(Metric):
    """The (weighted) mean of the values seen: ``result = sum(w * v) / sum(w)``.

    Values of shape ``(batch, ...)`` are first averaged per sample, so ``count``
    counts samples (or their weights).

    State: ``total``, ``count``.

    Example:
        >>> m = Mean(); m.update_state([1, 3, 5, 7]); m.result()
        4.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "total")
        self.count = self.add_variable((), "count")

    def update_state(self, values, sample_weight=None):
        xp = backend.xp
        values, w = reduce_to_samplewise_values(values, sample_weight, xp.mean)
        self.total += xp.sum(values, dtype=_ACCUMULATOR)
        if w is not None:
            self.count += xp.sum(w, dtype=_ACCUMULATOR)
        else:
            self.count += values.shape[0] if values.ndim else 1

    def result(self) -> float:
        return _divide_no_nan(_float(self.total), _float(self.count))


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: Returns one value per sample (e.g. a loss function, or an accuracy).
        name: The metric's name. dtype: see `Metric`.
        **kwargs: Passed on to ``fn``.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        if fn in losses_module.ALL_OBJECTS_DICT.values():
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        fn = losses_module.serialize(self._fn)
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict):
        if "fn" not in config:  # a subclass (Accuracy, MeanSquaredError, ...) fixes its fn
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, dict):
            fn = fn.get("config")
        if isinstance(fn, str):
            fn = losses_module._function_by_name(fn)
        return cls(fn, **config)
