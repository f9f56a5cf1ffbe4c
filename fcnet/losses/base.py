"""The loss base classes, Keras's rank alignment and batch reductions.

A loss turns ``(y_true, y_pred)`` into per-sample values (the last axis reduced),
then into one number by a reduction. Training needs the number and dL/dy_pred, so
every built-in loss is a pair of kernels registered here:

    forward(y_true, y_pred, **kwargs) -> (values, ctx)
    backward(ctx, g) -> dy_pred          g = dL/dvalues, broadcastable to values

``Loss.value_and_gradient`` runs forward, the reduction (which yields ``g``: the
sample weights over the divisor) and backward: a handful of array operations.
"""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet.losses.numerics import (  # noqa: F401 - re-exported for the loss modules
    clip,
    expand_last,
    log_softmax,
    mean,
    sigmoid,
    softplus,
    sum_to_shape,
)

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")

# Built-in functional forms -> (forward, backward) kernels.
_KERNELS: dict = {}


def register_kernel(fn, forward, backward) -> None:
    """Makes the functional loss ``fn`` trainable: its forward and backward kernels."""
    _KERNELS[fn] = (forward, backward)


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{list(REDUCTIONS)}. Received: reduction={reduction!r}"
        )
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras 3's alignment: when ranks differ by one and the extra axis has size 1.

    A rank-1 ``x1`` against ``(n, 1)`` is expanded to ``(n, 1)`` (never broadcast to
    ``(n, n)``); otherwise the size-1 last axis of the longer one is squeezed.
    """
    xp = backend.xp
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = xp.expand_dims(x2, -1)
        else:
            x1 = xp.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = xp.expand_dims(x1, -1)
        else:
            x2 = xp.squeeze(x2, -1)
    return x1, x2


def compute_dtype(y_pred, dtype=None):
    """The dtype losses compute in: ``dtype`` if given, else the float type of a
    y_pred array (float64 stays float64, float32 stays float32), else ``floatx()``
    (integer arrays, Python lists and scalars, as Keras converts them)."""
    if dtype is not None:
        return numpy.dtype(dtype)
    kind = getattr(getattr(y_pred, "dtype", None), "kind", None)
    return y_pred.dtype if kind == "f" else numpy.dtype(backend.floatx())


def prepare(y_true, y_pred, dtype=None):
    """Arrays on the active backend, y_true cast to y_pred's float dtype, ranks aligned."""
    xp = backend.xp
    dt = compute_dtype(y_pred, dtype)
    y_pred = xp.asarray(y_pred).astype(dt, copy=False)
    y_true = xp.asarray(y_true).astype(dt, copy=False)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def apply_kernel(forward, y_true, y_pred, **kwargs):
    """Per-sample values of a built-in loss: what the functional forms return."""
    with numpy.errstate(under="ignore"):
        y_true, y_pred = prepare(y_true, y_pred)
        return forward(y_true, y_pred, **kwargs)[0]


# ----------------------------------------------------------------- reductions
def _merge_weights(values, sample_weight, mask, reduction):
    """Sample weights aligned to ``values`` with an ignore-mask folded in (Keras's
    ``apply_mask``: a masked mean divides by the number of valid entries)."""
    xp = backend.xp
    if mask is not None:
        if reduction in _MEAN_REDUCTIONS:
            valid = int(xp.sum(mask))
            scale = mask.size / valid if valid else 0.0
            mask = mask.astype(values.dtype) * scale
        else:
            mask = mask.astype(values.dtype)
    if sample_weight is None:
        return mask
    w = xp.asarray(sample_weight, dtype=values.dtype)
    if mask is not None:
        mask, w = squeeze_or_expand_to_same_rank(mask, w)
        w = w * mask
    _, w = squeeze_or_expand_to_same_rank(values, w)
    if 0 < w.ndim < values.ndim:  # per-sample weights on (n, ...) values
        w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
    return w


def _scalar(x, dtype):
    if backend.xp is numpy:
        return dtype.type(x)  # np.float32(...) like Keras's 0-d float32 result
    return backend.xp.asarray(x, dtype=dtype)


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weights, then the batch reduction, exactly as Keras 3: ``sum_over_batch_size``
    divides the weighted sum by the number of loss elements (not the weight sum)."""
    value, _ = _reduce(values, sample_weight, mask, reduction, need_grad=False)
    return value


def reduce_with_gradient(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """The reduced value and g = d(value)/d(values): an array shaped like ``values``,
    or a Python float when every value has the same weight."""
    if reduction in (None, "none"):
        raise ValueError(
            "A loss with reduction=None/'none' has no scalar value to differentiate. "
            "Use 'sum_over_batch_size' or 'sum'. Received: reduction=" + repr(reduction)
        )
    return _reduce(values, sample_weight, mask, reduction, need_grad=True)


def _reduce(values, sample_weight, mask, reduction, need_grad):
    xp = backend.xp
    w = _merge_weights(values, sample_weight, mask, reduction)
    weighted = values if w is None else values * w
    if reduction in (None, "none"):
        return weighted, None
    total = weighted.sum()
    if reduction == "sum":
        divisor = 1
    elif reduction == "mean_with_sample_weight" and w is not None:
        divisor = w.sum()
    else:
        divisor = weighted.size
    # Keras's divide_no_nan: an empty batch (or zero weight sum) reduces to 0.
    value = total / divisor if float(divisor) != 0 else total * 0
    if not need_grad:
        return _scalar(value, values.dtype), None
    inv = 1.0 / divisor if float(divisor) != 0 else 0.0
    if w is None:
        g = inv  # a Python float keeps the values' dtype in every product
    else:
        g = sum_to_shape(xp.broadcast_to(w * inv, weighted.shape), values.shape)
    return _scalar(value, values.dtype), g


def _shape_of(x) -> tuple:
    if hasattr(x, "shape"):
        return tuple(x.shape)
    if isinstance(x, tuple):
        return x
    return numpy.shape(x)


def output_kind(y_true, y_pred) -> str:
    """``"binary"``, ``"sparse"`` or ``"categorical"``: how Keras 3 resolves
    ``"accuracy"`` and ``"crossentropy"`` for one output. Takes arrays or shapes.

    y_pred's last axis 1 -> binary; y_true of lower rank, or a last axis of 1 while
    y_pred's is > 1 -> sparse; otherwise categorical.
    """
    ts, ps = _shape_of(y_true), _shape_of(y_pred)
    p_last = ps[-1] if ps else None
    if p_last == 1:
        return "binary"
    if len(ts) < len(ps) or (ts and ts[-1] == 1 and p_last is not None and p_last > 1):
        return "sparse"
    return "categorical"


def activation_name(activation) -> str | None:
    """``"softmax"``, a function named softmax, or an object with a ``name``."""
    if activation is None or isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", None) or getattr(activation, "name", None)


def serialize_function(fn) -> dict:
    """A plain function in Keras 3's serialized form (built-ins by their name)."""
    name = getattr(fn, "__name__", repr(fn))
    if fn in _KERNELS:
        return {"module": "builtins", "class_name": "function", "config": name,
                "registered_name": "function"}
    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": name, "registered_name": name}


# ---------------------------------------------------------------------- Loss
class Loss:
    """Base class of every loss: per-sample values, then a reduction.

    Subclass it and write ``call(y_true, y_pred)`` returning per-sample losses (the
    last axis reduced). To train with it, also write ``gradient(y_true, y_pred)``
    returning d(sum of call(...))/d(y_pred), an array shaped like ``y_pred``.

    Args:
        reduction: ``"sum_over_batch_size"`` (default; weighted sum / number of loss
            elements), ``"sum"``, ``"mean"`` (same as the default),
            ``"mean_with_sample_weight"`` (weighted sum / weight sum), or
            ``None``/``"none"`` (per-sample values).
        name: The loss's name; by default the snake-cased class name, made unique.
        dtype: The compute dtype; by default y_pred's float dtype, else ``floatx()``.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or backend.get_uid(backend.snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction)
        self.dtype = dtype

    # -- what subclasses define
    def call(self, y_true, y_pred):
        raise NotImplementedError(f"Loss {self.name!r} must implement call(y_true, y_pred).")

    def forward(self, y_true, y_pred):
        """Per-sample values and what ``backward`` needs."""
        return self.call(y_true, y_pred), (y_true, y_pred)

    def backward(self, ctx, g):
        """dL/dy_pred from ``g`` = dL/d(per-sample values)."""
        gradient = getattr(self, "gradient", None)
        if gradient is None:
            raise NotImplementedError(
                f"Loss {self.name!r} ({type(self).__name__}) has no gradient, so it cannot "
                "train a model. Define gradient(y_true, y_pred) returning the derivative "
                "of the summed per-sample losses with respect to y_pred."
            )
        y_true, y_pred = ctx
        dy = backend.xp.asarray(gradient(y_true, y_pred), dtype=y_pred.dtype)
        return dy * expand_last(g, dy.ndim)

    def _mask(self, y_true, y_pred):
        """Entries that take part in the loss (None: all of them)."""
        return None

    # -- the public API
    def _prepare(self, y_true, y_pred):
        return prepare(y_true, y_pred, self.dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with numpy.errstate(under="ignore"):
            y_true, y_pred = self._prepare(y_true, y_pred)
            values = self.call(y_true, y_pred)
            mask = self._mask(y_true, y_pred)
            return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """The reduced loss and dL/dy_pred (shaped and typed like ``y_pred``).

        Example:
            >>> from fcnet.losses import MeanSquaredError
            >>> value, dy = MeanSquaredError().value_and_gradient([[1.0]], [[3.0]])
            >>> float(value), dy.tolist()
            (4.0, [[4.0]])
        """
        return self._value_and(y_true, y_pred, sample_weight, self._backward_dy)

    def _backward_dy(self, y_true, y_pred, ctx, g):
        return self.backward(ctx, g)

    def fused_gradient(self, activation, y_true, y_pred, sample_weight=None):
        """(value, dL/dz) through the output ``activation`` directly, where the pair
        fuses (softmax + categorical, sigmoid + binary crossentropy); else None."""
        return None

    def _value_and(self, y_true, y_pred, sample_weight, grad_fn):
        shape = numpy.shape(y_pred)
        with numpy.errstate(under="ignore"):
            t, p = self._prepare(y_true, y_pred)
            values, ctx = self.forward(t, p)
            value, g = reduce_with_gradient(values, sample_weight, self._mask(t, p), self.reduction)
            dy = grad_fn(t, p, ctx, g)
        return value, sum_to_shape(dy, p.shape).reshape(shape)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A loss object around a function ``fn(y_true, y_pred, **kwargs)`` returning
    per-sample values. Built-in functions train through their registered kernels;
    a user's function trains when it carries a ``gradient`` attribute,
    ``fn.gradient(y_true, y_pred) -> d(sum fn)/d(y_pred)``.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def forward(self, y_true, y_pred):
        kernel = _KERNELS.get(self.fn)
        if kernel is not None:
            return kernel[0](y_true, y_pred, **self._fn_kwargs)
        return self.call(y_true, y_pred), (y_true, y_pred)

    def backward(self, ctx, g):
        kernel = _KERNELS.get(self.fn)
        if kernel is not None:
            return kernel[1](ctx, g)
        gradient = getattr(self.fn, "gradient", None)
        if gradient is None:
            fn_name = getattr(self.fn, "__name__", repr(self.fn))
            raise NotImplementedError(
                f"The user loss function {fn_name!r} (loss {self.name!r}) needs a gradient "
                "to train a model. Attach one: fn.gradient = lambda y_true, y_pred: "
                "<d(sum of fn(y_true, y_pred))/d(y_pred), shaped like y_pred>, or subclass "
                "fcnet.losses.Loss and define call() and gradient()."
            )
        y_true, y_pred = ctx
        dy = backend.xp.asarray(gradient(y_true, y_pred, **self._fn_kwargs), dtype=y_pred.dtype)
        return dy * expand_last(g, dy.ndim)

    def get_config(self) -> dict:
        config = super().get_config()
        config["fn"] = serialize_function(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict):
        if "fn" not in config:  # a subclass (MeanSquaredError, ...) that fixes its fn
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, (str, dict)):
            from fcnet.losses import _function_by_name

            fn = _function_by_name(fn)
        return cls(fn, **config)

    def __repr__(self):
        fn_name = getattr(self.fn, "__name__", repr(self.fn))
        return f"<{type(self).__name__}({fn_name}, kwargs={self._fn_kwargs})>"


__all__ = [
    "Loss", "LossFunctionWrapper", "REDUCTIONS", "squeeze_or_expand_to_same_rank",
    "reduce_weighted_values", "reduce_with_gradient", "standardize_reduction",
    "register_kernel", "log_softmax", "softplus", "sigmoid", "output_kind",
]
