"""Weight constraints with Keras 3 names, formulas and configs.

A constraint is a projection applied to a variable after each optimizer step:
``w_new = constraint(w)``, a new array of ``w``'s dtype. Norms are taken along ``axis``
(an int or a tuple; for a Dense kernel ``(input_dim, units)`` the default ``axis=0``
constrains each unit's incoming weight vector), and every division adds Keras's
epsilon 1e-7 to the norm, exactly as Keras does:

* ``MaxNorm``:    ``w * clip(n, 0, max_value) / (eps + n)``
* ``UnitNorm``:   ``w / (eps + n)``
* ``MinMaxNorm``: ``w * (rate * clip(n, min_value, max_value) + (1 - rate) * n) / (eps + n)``
* ``NonNeg``:     ``max(w, 0)``
"""

from __future__ import annotations

from fcnet import backend
from fcnet._registry import Registry


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    xp = backend.xp
    return xp.sqrt(xp.sum(w * w, axis=_axis(axis), keepdims=True))


class Constraint:
    """Base class: ``__call__(w) -> w`` (the identity) and an empty config."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales weight vectors whose L2 norm along ``axis`` exceeds ``max_value``.

    Args:
        max_value: the largest norm allowed.
        axis: the axis (or axes) the norm runs over; 0 for a Dense kernel, ``[0, 1, 2]``
            for a channels-last Conv2D kernel.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = backend.xp.asarray(w)
        n = _norms(w, self.axis)
        scale = backend.xp.clip(n, 0.0, self.max_value) / (backend.epsilon() + n)
        return (w * scale).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        return backend.xp.maximum(backend.xp.asarray(w), 0.0)


class UnitNorm(Constraint):
    """Scales weight vectors to unit L2 norm along ``axis``."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = backend.xp.asarray(w)
        return (w / (backend.epsilon() + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves weight-vector norms into ``[min_value, max_value]`` at ``rate``.

    ``rate=1.0`` enforces the bounds strictly; a smaller rate moves each norm only
    that fraction of the way towards the interval per call.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        xp = backend.xp
        w = xp.asarray(w)
        n = _norms(w, self.axis)
        desired = self.rate * xp.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return (w * (desired / (backend.epsilon() + n))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_REGISTRY = Registry("constraint", "keras.constraints", Constraint,
                     (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm))

max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


def get(identifier):
    """Resolves None, a name (``"max_norm"``, ``"non_neg"``, ``"MaxNorm"``, ...), a config
    dict, a class, an instance or a callable ``w -> w``.

    Unknown names raise a ValueError that lists the known ones.
    """
    return _REGISTRY.get(identifier)


def deserialize(config):
    """Same as ``get``, for a config dict or a name."""
    return get(config)


def serialize(constraint):
    """Keras 3's dict ``{"module": "keras.constraints", "class_name", "config",
    "registered_name": None}``; None for None."""
    return _REGISTRY.serialize(constraint)


__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg",
           "unit_norm", "min_max_norm", "get", "serialize", "deserialize"]
