"""Weight regularizers with Keras 3 names, formulas and configs, plus their gradients.

A regularizer is called on a weight array and returns the penalty added to the loss,
as a Python float; ``gradient(x)`` returns d(penalty)/dx with ``x``'s dtype, which a
layer adds into the weight's gradient. Keras 3's formulas, with no factor 1/2:

* ``L1(l1)``: ``l1 * sum(|x|)``, gradient ``l1 * sign(x)`` (0 at x = 0);
* ``L2(l2)``: ``l2 * sum(x^2)``, gradient ``2 * l2 * x``;
* ``L1L2(l1, l2)``: the sum of both;
* ``OrthogonalRegularizer(factor, mode)``: ``factor / 2 * mean |<u_i, u_j>|`` over the
  pairs i < j of L2-normalised rows (or columns) ``u``.

The string ``"l1_l2"`` means ``L1L2(l1=0.01, l2=0.01)`` (tf.keras 2's ``l1_l2()``
defaults; Keras 3's own ``get`` does not know the string).
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet._registry import Registry


def _validate(value, name) -> float:
    if (not isinstance(value, (float, int)) or isinstance(value, bool)
            or math.isinf(value) or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value}")
    return float(value)


def _as_float32(value: float) -> float:
    # Keras 3 keeps l1 and factor as float32 tensors, so its configs show e.g.
    # 0.009999999776482582 for 0.01; we write the same number.
    return float(numpy.float32(value))


class Regularizer:
    """Base class: ``__call__(x) -> float`` penalty, ``gradient(x) -> array``."""

    def __call__(self, x) -> float:
        return 0.0

    def gradient(self, x):
        return backend.xp.zeros_like(backend.xp.asarray(x))

    def get_config(self) -> dict:
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)``. Both factors default to 0 (Keras 3)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate(0.0 if l1 is None else l1, "l1")
        self.l2 = _validate(0.0 if l2 is None else l2, "l2")

    def __call__(self, x) -> float:
        xp = backend.xp
        x = xp.asarray(x)
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(xp.sum(xp.abs(x)))
        if self.l2:
            penalty += self.l2 * float(xp.sum(x * x))
        return penalty

    def gradient(self, x):
        xp = backend.xp
        x = xp.asarray(x)
        dx = xp.zeros_like(x)
        if self.l1:
            dx += self.l1 * xp.sign(x)
        if self.l2:
            dx += (2.0 * self.l2) * x
        return dx

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``; gradient ``l1 * sign(x)``."""

    def __init__(self, l1=0.01):
        self.l1 = _validate(0.01 if l1 is None else l1, "l1")

    def __call__(self, x) -> float:
        xp = backend.xp
        return self.l1 * float(xp.sum(xp.abs(xp.asarray(x))))

    def gradient(self, x):
        x = backend.xp.asarray(x)
        return (self.l1 * backend.xp.sign(x)).astype(x.dtype, copy=False)

    def get_config(self):
        return {"l1": _as_float32(self.l1)}


class L2(Regularizer):
    """``l2 * sum(x^2)``; gradient ``2 * l2 * x``."""

    def __init__(self, l2=0.01):
        self.l2 = _validate(0.01 if l2 is None else l2, "l2")

    def __call__(self, x) -> float:
        x = backend.xp.asarray(x)
        return self.l2 * float(backend.xp.sum(x * x))

    def gradient(self, x):
        x = backend.xp.asarray(x)
        return (2.0 * self.l2) * x

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns of a 2-D weight to be orthogonal.

    With ``u_i`` the L2-normalised rows (``x_i / max(|x_i|, 1e-7)``) and ``n`` their
    count, the penalty is ``factor * 0.5 * sum_{i != j} |u_i . u_j| / (n (n - 1) / 2)``.

    Math: with ``G = c * sign(U U^T)`` off the diagonal (``c = factor / (n (n-1))``),
    ``dL/dU = 2 G U`` and ``dL/dx_i = (g_i - u_i (u_i . g_i)) / |x_i|``.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _validate(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError('Invalid value for argument `mode`. Expected one of '
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def _rows(self, x):
        x = backend.xp.asarray(x)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        return x if self.mode == "rows" else x.T

    def _normalise(self, rows):
        xp = backend.xp
        norms = xp.sqrt(xp.sum(rows * rows, axis=1, keepdims=True))
        clipped = xp.maximum(norms, backend.epsilon())
        return rows / clipped, norms, clipped

    def __call__(self, x) -> float:
        xp = backend.xp
        u, _, _ = self._normalise(self._rows(x))
        n = u.shape[0]
        if n < 2:  # no pairs (Keras divides by zero here)
            return 0.0
        product = u @ u.T
        off = xp.sum(xp.abs(product)) - xp.sum(xp.abs(xp.diagonal(product)))
        return self.factor * 0.5 * float(off) / (n * (n - 1.0) / 2.0)

    def gradient(self, x):
        xp = backend.xp
        rows = self._rows(x)
        u, norms, clipped = self._normalise(rows)
        n = u.shape[0]
        if n < 2:
            return xp.zeros_like(backend.xp.asarray(x))
        g = xp.sign(u @ u.T) * (self.factor / (n * (n - 1.0)))
        g[xp.arange(n), xp.arange(n)] = 0.0
        du = 2.0 * (g @ u)
        # Through u = x / |x|; where |x| <= eps, u = x / eps is linear.
        radial = u * xp.sum(u * du, axis=1, keepdims=True)
        drows = xp.where(norms > backend.epsilon(), du - radial, du) / clipped
        drows = drows.astype(rows.dtype, copy=False)
        return drows if self.mode == "rows" else drows.T

    def get_config(self):
        return {"factor": _as_float32(self.factor), "mode": self.mode}


_CLASSES = (L1, L2, L1L2, OrthogonalRegularizer)
_REGISTRY = Registry("regularizer", "keras.regularizers", Regularizer, _CLASSES, {
    "Regularizer": Regularizer, "l1_l2": lambda: L1L2(l1=0.01, l2=0.01)})

l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer


def get(identifier):
    """Resolves None, a name (``"l1"``, ``"l2"``, ``"l1_l2"``, ``"L1L2"``, ...), a config
    dict, a class, an instance or a callable ``x -> penalty``.

    Unknown names raise a ValueError that lists the known ones.
    """
    return _REGISTRY.get(identifier)


def deserialize(config):
    """Same as ``get``, for a config dict or a name."""
    return get(config)


def serialize(regularizer):
    """Keras 3's dict ``{"module": "keras.regularizers", "class_name", "config",
    "registered_name": None}``; None for None."""
    return _REGISTRY.serialize(regularizer)


__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]
