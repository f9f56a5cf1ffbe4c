"""Activation layers with arguments: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``Softmax``.

Each applies a function of ``fcnet.activations`` (the same formula, the same gradient)
with the layer's arguments; ``PReLU`` learns its negative slope.
"""

from __future__ import annotations

import numbers
import warnings

from fcnet import activations, backend, constraints, initializers, regularizers
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term, elementwise_formula
from fcnet.layers.input_spec import InputSpec


class _Elementwise(Layer):
    """A layer ``y = f(x, **self._arguments())`` with ``dx = f.gradient(dy, x, y, ...)``."""

    _function = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _arguments(self) -> dict:
        return {}

    def forward(self, x, training=False):
        y = type(self)._function(x, **self._arguments())
        return y, (x, y)

    def backward(self, ctx, dy):
        x, y = ctx
        return type(self)._function.gradient(dy, x, y, **self._arguments())

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self._arguments())
        return config

    def _explain(self, e):
        """``y = f(x)``, value by value, with the layer's arguments."""
        arguments = "".join(f", {k}={v}" for k, v in self._arguments().items())
        return elementwise_formula(e, type(self)._function.__name__, arguments)


def _non_negative(layer, argument, value, what):
    if value is None or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{argument} of a {layer} layer cannot be None or a negative value. "
                         f"Expected {what}. Received: {argument}={value}")


class ReLU(_Elementwise):
    """Rectified linear unit with Keras's options.

    ``y = x`` where ``x > threshold`` (else 0), clipped to ``[0, max_value]``, minus
    ``negative_slope · max(threshold - x, 0)``; with only ``negative_slope`` set,
    ``y = max(x, negative_slope · x)``; with no argument, ``y = max(x, 0)``.

    Args:
        max_value: the largest output (≥ 0), or None for no cap.
        negative_slope: the slope below ``threshold`` (≥ 0), 0 by default.
        threshold: the input below which the output is damped (≥ 0), 0 by default.

    Input shape / Output shape: any, unchanged.

    Math: dx = dy where threshold < x (and 0 < x < max_value), negative_slope · dy where
    x < threshold, 0 elsewhere.

    Example:
        >>> ReLU(max_value=6.0)(numpy.array([[-1.0, 3.0, 9.0]]))
        array([[0., 3., 6.]], dtype=float32)
    """

    _function = staticmethod(activations.relu)

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and (not isinstance(max_value, numbers.Real) or max_value < 0):
            raise ValueError("max_value of a ReLU layer cannot be a negative value. "
                             f"Received: max_value={max_value}")
        _non_negative("ReLU", "negative_slope", negative_slope, "a float")
        _non_negative("ReLU", "threshold", threshold, "a float")
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def _arguments(self) -> dict:
        return {"max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    """Leaky ReLU: ``y = x`` for ``x ≥ 0``, ``negative_slope · x`` otherwise.

    Args:
        negative_slope: the slope below zero (≥ 0), 0.3 by default (Keras 3). The
            tf.keras 2 name ``alpha`` is accepted too (deprecated, with a warning).

    Input shape / Output shape: any, unchanged.

    Math: dx = dy for x ≥ 0, negative_slope · dy otherwise.
    """

    _function = staticmethod(activations.leaky_relu)

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        _non_negative("Leaky ReLU", "negative_slope", negative_slope, "a float")
        self.negative_slope = negative_slope

    def _arguments(self) -> dict:
        return {"negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """Exponential linear unit: ``y = x`` for ``x ≥ 0``, ``alpha (exp(x) - 1)`` otherwise.

    Args:
        alpha: the scale of the negative part, 1.0 by default.

    Input shape / Output shape: any, unchanged.

    Math: dx = dy for x ≥ 0, dy · alpha · exp(x) otherwise.
    """

    _function = staticmethod(activations.elu)

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(alpha, numbers.Real):
            raise ValueError(f"ELU: argument `alpha` must be a float. Received: alpha={alpha!r}")
        self.alpha = alpha

    def _arguments(self) -> dict:
        return {"alpha": self.alpha}


class Softmax(_Elementwise):
    """Softmax along ``axis``: ``y = exp(x - max) / Σ exp(x - max)``.

    Args:
        axis: an int, or a list/tuple of ints to normalise over jointly; -1 by default.

    Input shape / Output shape: any, unchanged.

    Math: dx = y ⊙ (dy - Σ dy ⊙ y), the sum over ``axis`` (the Jacobian
    ``diag(y) - y yᵀ`` applied to dy). Over the last axis, a crossentropy loss after it
    hands over dL/dx directly (``p - y``), as for ``Activation("softmax")``.
    """

    _function = staticmethod(activations.softmax)

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        items = axis if isinstance(axis, (list, tuple)) else [axis]
        if not items or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                                for a in items):
            raise ValueError("Softmax: argument `axis` must be an int or a list of ints. "
                             f"Received: axis={axis!r}")
        self.axis = axis

    def _arguments(self) -> dict:
        axis = self.axis
        return {"axis": tuple(axis) if isinstance(axis, (list, tuple)) else axis}

    def get_config(self) -> dict:
        config = Layer.get_config(self)
        config["axis"] = self.axis
        return config

    @property
    def output_activation(self):
        return activations.softmax if self.axis in (-1, [-1], (-1,)) else None

    def backward_step(self, ctx, dy, step, need_dx=True, from_z=False):
        """``from_z``: the loss already gave dL/dx through the softmax (fused)."""
        ctx, dy = self._activity_backward(ctx, dy)
        return dy if from_z else self.backward(ctx, dy)


class PReLU(Layer):
    """Parametric ReLU: ``y = x`` for ``x ≥ 0``, ``alpha ⊙ x`` otherwise, alpha learnt.

    Args:
        alpha_initializer: ``"zeros"`` by default.
        alpha_regularizer / alpha_constraint: on alpha.
        shared_axes: the input axes (1 = the first after the batch) along which one
            slope is shared, e.g. ``[1, 2]`` for one slope per channel of an image.

    Input shape / Output shape: ``(batch, ...)``, unchanged.

    Weights: alpha, shaped as the input without its batch axis, size 1 on the shared axes.

    Math: dx = dy where x > 0, alpha ⊙ dy elsewhere;
        dalpha = Σ dy ⊙ min(x, 0) over the batch and the shared axes.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) and a >= 1
                       for a in axes):
                raise ValueError("PReLU: `shared_axes` must be positive axis indices (1 is "
                                 "the first axis after the batch). Received: "
                                 f"shared_axes={shared_axes}")
            self.shared_axes = [int(a) for a in axes]
        self.alpha = None

    def build(self, input_shape) -> None:
        rank = len(input_shape)
        shared = set(self.shared_axes or ())
        if any(a >= rank for a in shared):
            raise ValueError(f"Layer '{self.name}': `shared_axes` {self.shared_axes} are out of "
                             f"bounds for an input of rank {rank}. Received: "
                             f"input_shape={input_shape}")
        shape = tuple(1 if i in shared else input_shape[i] for i in range(1, rank))
        if None in shape:
            raise ValueError(f"Layer '{self.name}': every axis after the batch that is not "
                             f"shared must have a known size. Received: input_shape={input_shape}")
        self.alpha = self.add_weight("alpha", shape, self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.input_spec = InputSpec(ndim=rank, axes={
            i: input_shape[i] for i in range(1, rank) if i not in shared})
        self.built = True

    def forward(self, x, training=False):
        negative = backend.xp.minimum(x, 0)
        y = backend.xp.maximum(x, 0)
        y += self.alpha.value * negative  # relu(x) - alpha relu(-x), as Keras
        return y, (x, negative)

    def backward(self, ctx, dy):
        xp = backend.xp
        x, negative = ctx
        alpha = self.alpha
        if self.trainable and alpha.trainable:
            # y = ... + alpha min(x, 0): summed over the batch and where alpha broadcasts
            dalpha = (dy * negative).sum(axis=0)
            shared = tuple(i for i in range(dalpha.ndim) if alpha.shape[i] == 1
                           and dalpha.shape[i] != 1)
            alpha.grad += dalpha.sum(axis=shared, keepdims=True) if shared else dalpha
        return xp.where(x > 0, dy, alpha.value * dy)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": None if self.alpha_regularizer is None
            else regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": None if self.alpha_constraint is None
            else constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        })
        return config

    def _explain(self, e):
        """``y = max(x, 0) + alpha ⊙ min(x, 0)``, alpha learned."""
        alpha = e.w(self.alpha)
        return Formula("a leaky relu whose negative slope alpha is learned",
                       [f"{e.y} = max({e.x}, 0) + {alpha} ⊙ min(x, 0)   (alpha broadcast)"],
                       [f"d{alpha} = Σ (dy ⊙ min(x, 0)) over the batch and the shared axes",
                        f"d{e.x} = dy ⊙ (1 where x > 0, else alpha)"],
                       [Term("compare and multiply", 2, *e.y_shape[1:])])
