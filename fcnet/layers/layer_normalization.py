"""``LayerNormalization``: normalise each sample over its own axes, then scale and shift
(the shared maths and its backward pass are in ``normalization.py``)."""

from __future__ import annotations

import numbers
import warnings

from fcnet import constraints, initializers, regularizers
from fcnet.layers.arguments import serialize_or_none
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term
from fcnet.layers.normalization import (
    _normalized_axis,
    _size,
    _standardize,
    _standardize_backward,
)


class LayerNormalization(Layer):
    """Normalises each sample over ``axis``, then scales and shifts per position.

    ``y = γ (x - μ) / sqrt(σ² + ε) + β``, with μ and σ² (biased) the mean and variance
    of each sample over ``axis``; the same in training and inference.

    Args:
        axis: an int or a list of ints: the axes to normalise over (-1 by default).
            After ``build`` it is a sorted list, as in Keras.
        epsilon: added to the variance, 1e-3.
        center / scale: whether β / γ exist.
        beta_initializer / gamma_initializer: ``"zeros"`` / ``"ones"``.
        beta_regularizer / gamma_regularizer, beta_constraint / gamma_constraint.
        rms_scaling: Keras's deprecated option: ``y = γ x / sqrt(σ² + ε)`` (no centring,
            no β). Keras warns that it divides by the variance, not the root mean square.

    Input shape / Output shape: any, unchanged.

    Weights: gamma and beta, shaped as the input's sizes on ``axis`` (e.g. ``(features,)``).

    Math (means over the ``n`` normalised entries of each sample, g = γ dy):
        dx = (g - mean(g) - x̂ mean(g x̂)) / sqrt(σ² + ε)
        rms_scaling: dx = s g - s³ (x - μ) Σ(g x) / n,  s = 1 / sqrt(σ² + ε)
        dγ = Σ dy x̂,  dβ = Σ dy   (over the batch and the other axes)

    Example:
        >>> LayerNormalization(axis=[1, 2])(fcnet.random.normal([8, 5, 4])).shape
        (8, 5, 4)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        if rms_scaling:
            warnings.warn("You passed `rms_scaling=True`, which is deprecated. This argument "
                          "scales the input by the variance, not the root mean square.",
                          stacklevel=2)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = list(axis)
            valid = all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                        for a in axis)
        else:
            valid = isinstance(axis, numbers.Integral) and not isinstance(axis, bool)
        if not valid:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        if not epsilon > 0:
            raise ValueError("LayerNormalization: argument `epsilon` must be positive. "
                             f"Received: epsilon={epsilon}")
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.gamma = self.beta = None

    def _axes(self, rank):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = sorted({_normalized_axis(self.name, a, rank) for a in axes})
        if len(axes) != len(self.axis if isinstance(self.axis, list) else [self.axis]):
            raise ValueError(f"Layer '{self.name}': argument `axis` names an axis twice. "
                             f"Received: axis={self.axis}")
        return tuple(axes)

    def build(self, input_shape) -> None:
        rank = len(input_shape)
        axes = self._axes(rank)
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"Layer '{self.name}': the normalised axes {list(axes)} must have "
                             f"known sizes. Received: input_shape={input_shape}")
        shape = tuple(input_shape[a] for a in axes)
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        self.gamma = self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight("beta", shape, self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.built = True

    def _layout(self, x):
        """``(normalised axes, the other axes, the shape that broadcasts γ against x)``."""
        axes = self._axes(x.ndim)
        shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
        return axes, tuple(i for i in range(x.ndim) if i not in axes), shape

    def forward(self, x, training=False):
        axes, others, shape = self._layout(x)
        xhat, inv, mean, _ = _standardize(x, axes, self.epsilon)
        if self.rms_scaling:  # Keras's deprecated form: x / sqrt(σ² + ε), uncentred
            xhat = x * inv
        y = xhat * self.gamma.value.reshape(shape) if self.gamma is not None else xhat.copy()
        if self.beta is not None:
            y += self.beta.value.reshape(shape)
        return y, (x, xhat, inv, mean, axes, others, shape)

    def backward(self, ctx, dy):
        x, xhat, inv, mean, axes, others, shape = ctx
        gamma, beta = self.gamma, self.beta
        if self.trainable:
            if gamma is not None and gamma.trainable:
                gamma.grad += (dy * xhat).sum(axis=others).reshape(gamma.shape)
            if beta is not None and beta.trainable:
                beta.grad += dy.sum(axis=others).reshape(beta.shape)
        g = dy * gamma.value.reshape(shape) if gamma is not None else dy
        if not self.rms_scaling:
            return _standardize_backward(g, xhat, inv, axes)
        # y = γ x s, s = (σ² + ε)^(-1/2), dσ²/dx = 2 (x - μ) / n  ⇒  ds/dx = -s³ (x - μ) / n
        n = x.dtype.type(_size(x, axes))
        total = (g * x).sum(axis=axes, keepdims=True)
        return g * inv - (inv * inv * inv) * (x - mean) * total / n

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": serialize_or_none(regularizers, self.beta_regularizer),
            "gamma_regularizer": serialize_or_none(regularizers, self.gamma_regularizer),
            "beta_constraint": serialize_or_none(constraints, self.beta_constraint),
            "gamma_constraint": serialize_or_none(constraints, self.gamma_constraint),
        })
        return config

    def _explain(self, e):
        """Each sample normalised over ``axis`` by its own mean and variance."""
        g = "gamma ⊙ " if self.scale else ""
        b = " + beta" if self.center else ""
        forward = ([f"r = √(mean(x²) + {self.epsilon}) over axes {self.axis},   "
                    f"{e.y} = {g}{e.x} / r"] if self.rms_scaling else
                   [f"μ, σ² = mean and variance of each sample of {e.x} over axes {self.axis}",
                    f"x̂ = (x − μ) / √(σ² + {self.epsilon}),   {e.y} = {g}x̂{b}"])
        return Formula(
            f"normalises each sample on its own over axes {self.axis}, then scales and shifts",
            forward, ([f"d{e.w(self.gamma)} = Σ dy ⊙ x̂"] if self.scale else [])
            + ([f"d{e.w(self.beta)} = Σ dy"] if self.center else [])
            + ["(those two sums over the batch and every axis not normalised)",
               f"d{e.x} = (gamma ⊙ dy − mean(gamma ⊙ dy) − x̂ ⊙ mean(gamma ⊙ dy ⊙ x̂)) / "
               "√(σ² + ε)   (means over the same axes as μ)"],
            [Term("mean, variance, normalise, scale, shift", 8, *e.y_shape[1:])])
