"""``BatchNormalization`` (and the maths ``LayerNormalization`` shares): normalise, then scale
and shift.

Both compute ``x̂ = (x - μ) / sqrt(σ² + ε)`` and ``y = γ ⊙ x̂ + β``; they differ in the
axes μ and σ² are taken over: every axis but the feature axis (one statistic per
feature, across the batch) for batch normalisation, the given axes of each sample for
layer normalisation. The backward pass of a normalisation through its own statistics
is, with ``g = γ ⊙ dy`` and means taken over the normalised axes (``n`` entries):

    dx = (g - mean(g) - x̂ ⊙ mean(g ⊙ x̂)) / sqrt(σ² + ε)
    dγ = Σ dy ⊙ x̂,    dβ = Σ dy        (summed over the axes γ does not span)
"""

from __future__ import annotations

import numbers

from fcnet import backend, constraints, initializers, regularizers
from fcnet.layers.arguments import serialize_or_none
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term
from fcnet.layers.input_spec import InputSpec


def _normalized_axis(layer_name, axis, rank):
    if not isinstance(axis, numbers.Integral) or not -rank <= axis < rank:
        raise ValueError(f"Layer '{layer_name}': axis {axis} is out of bounds for an input of "
                         f"rank {rank}. Received: axis={axis}")
    return int(axis) % rank


def _standardize(x, axes, epsilon):
    """``(x̂, 1 / sqrt(σ² + ε))`` with μ, σ² (biased) over ``axes``, kept as size-1 axes."""
    xp = backend.xp
    mean = xp.mean(x, axis=axes, keepdims=True)
    xhat = x - mean
    variance = xp.mean(xhat * xhat, axis=axes, keepdims=True)
    inv = 1 / xp.sqrt(variance + x.dtype.type(epsilon))
    xhat *= inv
    return xhat, inv, mean, variance


def _standardize_backward(g, xhat, inv, axes):
    """dL/dx from ``g = γ ⊙ dL/dy`` through ``x̂`` and its own mean and variance."""
    xp = backend.xp
    dx = g - xp.mean(g, axis=axes, keepdims=True)
    dx -= xhat * xp.mean(g * xhat, axis=axes, keepdims=True)
    dx *= inv
    return dx


class BatchNormalization(Layer):
    """Normalises each feature with batch statistics in training, moving ones otherwise.

    Training (``training=True`` and the layer trainable), with μ_B, σ²_B the mean and
    biased variance of the batch over every axis but ``axis``::

        y = γ (x - μ_B) / sqrt(σ²_B + ε) + β
        moving_mean     ← moving_mean · momentum + μ_B · (1 - momentum)
        moving_variance ← moving_variance · momentum + σ²_B · (1 - momentum)

    Inference (and always when ``trainable=False``, as Keras 3 does, so a frozen layer
    keeps its statistics while a model is fine-tuned)::

        y = γ (x - moving_mean) / sqrt(moving_variance + ε) + β

    Args:
        axis: the feature axis (an int; -1, channels last, by default).
        momentum: the moving average's momentum, 0.99.
        epsilon: added to the variance, 1e-3.
        center / scale: whether β / γ exist.
        beta_initializer / gamma_initializer: ``"zeros"`` / ``"ones"``.
        moving_mean_initializer / moving_variance_initializer: ``"zeros"`` / ``"ones"``.
        beta_regularizer / gamma_regularizer, beta_constraint / gamma_constraint.
        synchronized, renorm, renorm_clipping, renorm_momentum: Keras's; only their
            defaults (off) are supported.

    Input shape / Output shape: any rank ≥ 2, unchanged, e.g. ``(batch, features)`` or
    ``(batch, height, width, channels)``.

    Weights (``C`` = the size of ``axis``), in Keras's order: gamma ``(C,)`` and beta
    ``(C,)`` (trainable), moving_mean ``(C,)`` and moving_variance ``(C,)`` (not).

    Math (sums and means over the ``n`` entries of each feature):
        training:  dx = γ/σ (dy - mean(dy) - x̂ mean(dy x̂)),  σ = sqrt(σ²_B + ε)
        inference: dx = dy γ / sqrt(moving_variance + ε)
        dγ = Σ dy x̂,  dβ = Σ dy

    Example:
        >>> layer = BatchNormalization()
        >>> layer(fcnet.random.normal([32, 64]), training=True).shape
        (32, 64)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise ValueError("BatchNormalization: argument `axis` must be an integer. "
                             f"Received: axis={axis!r}")
        if synchronized:
            raise ValueError("Argument synchronized=True is only supported with the "
                             "TensorFlow backend.")
        if renorm:
            raise NotImplementedError("BatchNormalization: batch renormalization "
                                      "(renorm=True) is not supported. Received: renorm=True")
        if not epsilon > 0:
            raise ValueError("BatchNormalization: argument `epsilon` must be positive. "
                             f"Received: epsilon={epsilon}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.synchronized = synchronized
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.supports_masking = True
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape) -> None:
        rank = len(input_shape)
        axis = _normalized_axis(self.name, self.axis, rank)
        size = input_shape[axis]
        if size is None:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} of the input must have a "
                             f"known size. Received: input_shape={input_shape}")
        shape = (size,)
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer,
                                               trainable=False)
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: size})
        self.built = True

    def _layout(self, x):
        """``(reduction axes, the shape that broadcasts a (C,) vector against x)``."""
        axis = self.axis % x.ndim
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        return tuple(i for i in range(x.ndim) if i != axis), tuple(shape)

    def forward(self, x, training=False):
        xp = backend.xp
        axes, shape = self._layout(x)
        dtype = x.dtype.type
        if training and self.trainable:
            xhat, inv, mean, variance = _standardize(x, axes, self.epsilon)
            momentum = dtype(self.momentum)
            self.moving_mean.assign(self.moving_mean.value * momentum
                                    + mean.reshape(-1) * (1 - momentum))
            self.moving_variance.assign(self.moving_variance.value * momentum
                                        + variance.reshape(-1) * (1 - momentum))
            batch_mode = True
        else:
            mean = self.moving_mean.value.reshape(shape)
            inv = 1 / xp.sqrt(self.moving_variance.value.reshape(shape) + dtype(self.epsilon))
            xhat = (x - mean) * inv
            batch_mode = False
        if self.scale:
            y = xhat * self.gamma.value.reshape(shape)
            if self.center:
                y += self.beta.value.reshape(shape)
        else:
            y = xhat + self.beta.value.reshape(shape) if self.center else xhat.copy()
        return y, (batch_mode, xhat, inv, axes, shape)

    def backward(self, ctx, dy):
        batch_mode, xhat, inv, axes, shape = ctx
        gamma, beta = self.gamma, self.beta
        train_gamma = self.trainable and self.scale and gamma.trainable
        train_beta = self.trainable and self.center and beta.trainable
        # Two sums per feature serve both the weight gradients and dx (γ is constant
        # over the reduced axes, so mean(γ dy x̂) = γ Σ(dy x̂) / n).
        sum_dy = dy.sum(axis=axes) if batch_mode or train_beta else None
        sum_dy_xhat = (dy * xhat).sum(axis=axes) if batch_mode or train_gamma else None
        if train_gamma:
            gamma.grad += sum_dy_xhat
        if train_beta:
            beta.grad += sum_dy
        scale = inv * gamma.value.reshape(shape) if self.scale else inv
        if not batch_mode:
            return dy * scale
        n = dy.dtype.type(dy.size // sum_dy.size)
        dx = dy - (sum_dy / n).reshape(shape)  # through the batch mean and variance too
        dx -= xhat * (sum_dy_xhat / n).reshape(shape)
        dx *= scale
        return dx

    def compute_output_shape(self, input_shape):
        _normalized_axis(self.name, self.axis, len(input_shape))
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer":
                initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": serialize_or_none(regularizers, self.beta_regularizer),
            "gamma_regularizer": serialize_or_none(regularizers, self.gamma_regularizer),
            "beta_constraint": serialize_or_none(constraints, self.beta_constraint),
            "gamma_constraint": serialize_or_none(constraints, self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        })
        return config

    def _explain(self, e):
        """Training: batch statistics; inference: the moving averages (Math above)."""
        c, axis = e.w(self.moving_mean)[len("moving_mean"):], self.axis % len(e.x_shape)
        over = "over the batch" + ("" if len(e.x_shape) == 2 else " and positions")
        g = "gamma ⊙ " if self.scale else ""
        b = " + beta" if self.center else ""
        return Formula(
            f"normalises each of the {self.moving_mean.shape[0]} features of axis {axis} to "
            "mean 0, variance 1 (the batch's statistics in training, moving averages at "
            "inference), then scales and shifts them",
            [f"training:  μ{c}, σ²{c} = mean and variance of {e.x} {over}",
             f"           x̂ = (x − μ) / √(σ² + {self.epsilon}),   {e.y} = {g}x̂{b}",
             f"           moving_mean ← {self.momentum} · moving_mean + {1 - self.momentum:g} · μ"
             " (moving_variance alike, with σ²)",
             f"inference: {e.y} = {g}(x − moving_mean) / √(moving_variance + {self.epsilon}){b}"],
            ([f"dgamma{c} = Σ dy ⊙ x̂"] if self.scale else [])
            + ([f"dbeta{c} = Σ dy"] if self.center else [])
            + [f"training:  d{e.x} = gamma / √(σ² + ε) ⊙ (dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂))"
               "   (sums and means over the same axes as μ)",
               f"inference: d{e.x} = dy ⊙ gamma / √(moving_variance + ε)"],
            [Term("subtract, divide, scale, shift", 4, *e.y_shape[1:])])


def _size(x, axes) -> int:
    """The number of entries each statistic is taken over."""
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n
