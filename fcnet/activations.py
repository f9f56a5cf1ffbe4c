"""Activation functions with Keras 3 names, each with its own gradient.

Every public function ``f(x, **kwargs)`` returns an array of ``x``'s dtype (float32
stays float32) and carries two attributes:

* ``f.gradient(dy, x, y, **kwargs) -> dx``: the vector-Jacobian product dL/dx from
  dL/dy, the input ``x`` and the output ``y = f(x, **kwargs)``. It never writes into
  ``dy``, ``x`` or ``y``; the result has ``dy``'s dtype.
* ``f.needs_input``: whether ``gradient`` reads ``x`` at the default keyword arguments.
  When it is False a layer may drop ``x`` after the forward pass and pass ``x=None``.
  With non-default keyword arguments some gradients read ``x`` (relu, leaky_relu
  outside [0, 1], elu with alpha <= 0). A callable without the attribute counts as True.

``linear`` returns its input itself and its gradient returns ``dy`` itself (no copy).

GELU needs the normal CDF, which NumPy lacks: ``fcnet.ops.special`` has our own.
"""

from __future__ import annotations

import functools
import math

from fcnet import backend
from fcnet._registry import custom_object, unknown_identifier
from fcnet.ops.special import ndtr

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

def _arr(x):
    return backend.xp.asarray(x)


def _out(dx, dy):
    return dx.astype(dy.dtype, copy=False)


def _with_gradient(fn, needs_input):
    """Decorator: attaches ``gradient`` and ``needs_input`` to the activation ``fn``."""
    def attach(gradient):
        fn.gradient, fn.needs_input = gradient, needs_input
        return gradient
    return attach


def _need(x, name):
    if x is None:
        raise ValueError(f"The gradient of {name} here needs the input x. Received: x=None")
    return _arr(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: ``max(x, 0)``, as Keras's ``relu``.

    With arguments, Keras's formula: ``y = x`` where ``x > threshold`` (else 0),
    clipped to ``[0, max_value]``, minus ``negative_slope * max(threshold - x, 0)``.
    With only ``negative_slope``, ``y = max(x, negative_slope * x)``.
    """
    xp = backend.xp
    x = _arr(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return xp.maximum(x, 0.0)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return xp.maximum(x, negative_slope * x)
    y = xp.where(x > threshold, x, 0.0) if threshold != 0.0 else xp.maximum(x, 0.0)
    if max_value is not None:
        y = xp.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * xp.maximum(threshold - x, 0.0)
    return y.astype(x.dtype, copy=False)


@_with_gradient(relu, False)
def _relu_gradient(dy, x, y, negative_slope=0.0, max_value=None, threshold=0.0):
    xp = backend.xp
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return dy * (_arr(y) > 0)  # y > 0 exactly where x > 0
    x = _need(x, "relu")
    if max_value is None and threshold == 0.0:
        return _out(xp.where(x >= negative_slope * x, dy, negative_slope * dy), dy)
    passed = (x > threshold) if threshold != 0.0 else (x > 0)
    if max_value is not None:
        passed &= (x > 0) & (x < max_value)
    slope = passed.astype(dy.dtype)
    if negative_slope != 0.0:
        slope = slope + negative_slope * (x < threshold)
    return _out(dy * slope, dy)


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: ``max(x, negative_slope * x)``."""
    return backend.xp.maximum(x, negative_slope * _arr(x))


@_with_gradient(leaky_relu, False)
def _leaky_relu_gradient(dy, x, y, negative_slope=0.2):
    if 0.0 <= negative_slope <= 1.0:
        mask = _arr(y) > 0  # same sign as x when 0 <= slope <= 1
    else:
        x = _need(x, "leaky_relu")
        mask = x >= negative_slope * x
    return _out(backend.xp.where(mask, dy, negative_slope * dy), dy)


def relu6(x):
    """ReLU capped at 6: ``min(max(x, 0), 6)``."""
    return backend.xp.clip(_arr(x), 0.0, 6.0)


def hard_sigmoid(x):
    """Piecewise linear sigmoid (Keras 3): ``clip(x / 6 + 1/2, 0, 1)`` = ``relu6(x + 3) / 6``."""
    return backend.xp.clip(_arr(x) / 6.0 + 0.5, 0.0, 1.0)


def hard_silu(x):
    """Hard SiLU / hard swish: ``x * hard_sigmoid(x)``."""
    x = _arr(x)
    return x * hard_sigmoid(x)


@_with_gradient(hard_silu, True)
def _hard_silu_gradient(dy, x, y):
    x = _need(x, "hard_silu")
    # d/dx [x h(x)] = h(x) + x h'(x), h' = 1/6 on (-3, 3)
    slope = hard_sigmoid(x) + (x / 6.0) * ((x > -3.0) & (x < 3.0))
    return _out(dy * slope, dy)


def linear(x):
    """Identity: returns ``x`` itself."""
    return x


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow."""
    xp = backend.xp
    x = _arr(x)
    z = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
    r = 1.0 / (1.0 + z)
    return xp.where(x >= 0, r, z * r)


def tanh(x):
    """Hyperbolic tangent."""
    return backend.xp.tanh(_arr(x))


def exponential(x):
    """Exponential: ``exp(x)``."""
    return backend.xp.exp(_arr(x))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x >= 0``, ``alpha * (exp(x) - 1)`` otherwise."""
    xp = backend.xp
    x = _arr(x)
    return xp.where(x >= 0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))


@_with_gradient(elu, False)
def _elu_gradient(dy, x, y, alpha=1.0):
    xp = backend.xp
    if alpha > 0:  # y > 0 exactly where x > 0; below, dy/dx = alpha e^x = y + alpha
        y = _arr(y)
        return _out(xp.where(y > 0, dy, dy * (y + alpha)), dy)
    x = _need(x, "elu")
    return _out(xp.where(x >= 0, dy, dy * (alpha * xp.exp(xp.minimum(x, 0.0)))), dy)


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with Klambauer et al.'s constants."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def softplus(x):
    """Softplus: ``log(1 + exp(x))``, computed as ``logaddexp(x, 0)``."""
    return backend.xp.logaddexp(_arr(x), 0.0)


def softsign(x):
    """Softsign: ``x / (1 + |x|)``."""
    x = _arr(x)
    return x / (1.0 + backend.xp.abs(x))


def silu(x):
    """SiLU / swish: ``x * sigmoid(x)``."""
    x = _arr(x)
    return x * sigmoid(x)


@_with_gradient(silu, True)
def _silu_gradient(dy, x, y):
    x = _need(x, "silu")
    s = sigmoid(x)
    return _out(dy * (s * (1.0 + x * (1.0 - s))), dy)


def gelu(x, approximate=False):
    """Gaussian error linear unit: ``x * Phi(x)``, Phi the standard normal CDF.

    ``approximate=True`` uses ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    x = _arr(x)
    if approximate:
        u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + backend.xp.tanh(u))
    return x * ndtr(x)


@_with_gradient(gelu, True)
def _gelu_gradient(dy, x, y, approximate=False):
    xp = backend.xp
    x = _need(x, "gelu")
    if approximate:
        k = math.sqrt(2.0 / math.pi)
        t = xp.tanh(k * (x + 0.044715 * (x * x * x)))
        slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (k * (1.0 + 3 * 0.044715 * x * x))
    else:  # Phi(x) + x phi(x)
        slope = ndtr(x) + x * ((1.0 / math.sqrt(2.0 * math.pi)) * xp.exp(-0.5 * x * x))
    return _out(dy * slope, dy)


def mish(x):
    """Mish: ``x * tanh(softplus(x))``."""
    x = _arr(x)
    return x * backend.xp.tanh(softplus(x))


@_with_gradient(mish, True)
def _mish_gradient(dy, x, y):
    x = _need(x, "mish")
    t = backend.xp.tanh(softplus(x))
    return _out(dy * (t + x * (1.0 - t * t) * sigmoid(x)), dy)


def softmax(x, axis=-1):
    """Softmax along ``axis``: ``exp(x - max) / sum(exp(x - max))``."""
    x = _arr(x)
    e = x - x.max(axis=axis, keepdims=True)
    e = backend.xp.exp(e, out=e if e.dtype.kind == "f" else None)  # integers: a new float
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``: ``x - max - log(sum(exp(x - max)))``."""
    xp = backend.xp
    shifted = x - xp.max(_arr(x), axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


# Gradients that read only y: the derivative written in terms of the output.
_with_gradient(relu6, False)(lambda dy, x, y: dy * ((y > 0) & (y < 6)))
_with_gradient(hard_sigmoid, False)(lambda dy, x, y: _out(dy * ((y > 0) & (y < 1)) / 6.0, dy))
_with_gradient(linear, False)(lambda dy, x, y: dy)
_with_gradient(sigmoid, False)(lambda dy, x, y: _out(dy * (y * (1.0 - y)), dy))  # s (1 - s)
_with_gradient(tanh, False)(lambda dy, x, y: _out(dy * (1.0 - y * y), dy))  # 1 - tanh^2
_with_gradient(exponential, False)(lambda dy, x, y: _out(dy * y, dy))
# selu below 0: scale * alpha * e^x = y + scale * alpha
_with_gradient(selu, False)(lambda dy, x, y: _out(backend.xp.where(
    y > 0, _SELU_SCALE * dy, dy * (y + _SELU_SCALE * _SELU_ALPHA)), dy))
# softplus' = sigmoid(x) = 1 - exp(-y), with expm1 to stay exact for tiny y
_with_gradient(softplus, False)(lambda dy, x, y: _out(dy * -backend.xp.expm1(-y), dy))
# softsign' = 1 / (1 + |x|)^2 = (1 - |y|)^2
_with_gradient(softsign, False)(lambda dy, x, y: _out(dy * (1.0 - backend.xp.abs(y)) ** 2, dy))


@_with_gradient(softmax, False)
def _softmax_gradient(dy, x, y, axis=-1):
    # the Jacobian diag(y) - y y^T applied to dy: y * (dy - <dy, y>) along the axis
    return _out(y * (dy - backend.xp.sum(dy * y, axis=axis, keepdims=True)), dy)


@_with_gradient(log_softmax, False)
def _log_softmax_gradient(dy, x, y, axis=-1):
    # dy - softmax(x) * sum(dy) along the axis, with softmax(x) = exp(y)
    xp = backend.xp
    return _out(dy - xp.exp(y) * xp.sum(dy, axis=axis, keepdims=True), dy)


swish = silu  # Keras 3 exports one function under both names; it serialises as "silu"
hard_swish = hard_silu

_FUNCTIONS = (relu, leaky_relu, relu6, hard_sigmoid, hard_silu, linear, sigmoid, tanh,
              exponential, elu, selu, softplus, softsign, silu, gelu, mish, softmax,
              log_softmax)
_BY_NAME = {fn.__name__: fn for fn in _FUNCTIONS}
_BY_NAME.update(swish=silu, hard_swish=hard_silu)


def _unknown(identifier):
    return unknown_identifier("activation function", identifier, sorted(_BY_NAME))


def get(identifier):
    """Resolves None (-> ``linear``), a Keras name, a serialised dict or a callable.

    Dicts are Keras 3's serialised functions, ``{"module": ..., "class_name": "function",
    "config": "relu", "registered_name": "function"}``, or ``{"class_name": "relu"}``.
    Anything else raises a ValueError that lists the known names.
    """
    if identifier is None:
        return linear
    name = identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        name = name if name in _BY_NAME else identifier.get("config")
    if isinstance(name, str) and name in _BY_NAME:
        return _BY_NAME[name]
    found = custom_object(name if isinstance(name, str) else None)
    if callable(found):
        return found
    if callable(identifier) and not isinstance(identifier, (str, dict)):
        return identifier
    raise _unknown(identifier)


def deserialize(config):
    """Same as ``get`` for a name or a serialised dict."""
    return get(config)


def serialize(activation) -> str:
    """The Keras name (``"linear"`` for None, ``"silu"`` for swish); else ``__name__``."""
    if activation is None:
        return "linear"
    for name, fn in _BY_NAME.items():
        if fn is activation and name not in ("swish", "hard_swish"):
            return name
    return getattr(activation, "__name__", type(activation).__name__)


# Activations whose gradient reads only y, with a form that writes y over x. Dense uses
# it on its fresh pre-activation z: bias and activation in place (DESIGN §5).
_IN_PLACE = {relu: lambda x: backend.xp.maximum(x, 0.0, out=x),
             tanh: lambda x: backend.xp.tanh(x, out=x)}


def in_place(activation):
    """``f`` as a function that overwrites its (float) input, or None where there is none."""
    return _IN_PLACE.get(activation)


def gradient_of(activation):
    """The ``gradient(dy, x, y)`` of an activation, or None for callables without one.

    Accepts anything ``get`` accepts, and ``functools.partial`` of a built-in activation
    with keyword arguments only (the gradient then gets the same keywords).
    """
    fn = get(activation)
    if isinstance(fn, functools.partial) and not fn.args:
        inner = gradient_of(fn.func)
        return None if inner is None else functools.partial(inner, **fn.keywords)
    return getattr(fn, "gradient", None)


__all__ = [fn.__name__ for fn in _FUNCTIONS] + [
    "swish", "hard_swish", "get", "serialize", "deserialize", "gradient_of"]
