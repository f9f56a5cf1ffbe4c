"""``Dense``: the fully connected layer, ``y = activation(x · kernel + bias)``."""

from __future__ import annotations

import numbers

from fcnet import regularizers
from fcnet.layers.affine import Affine
from fcnet.layers.explain import Shapes, Term, affine_formula
from fcnet.layers.input_spec import InputSpec
from fcnet.ops import (
    dense_bias_gradient,
    dense_forward,
    dense_input_gradient,
    dense_kernel_gradient,
)
from fcnet.ops.fold import Fold


class Dense(Affine):
    """Just your regular densely-connected NN layer.

    ``output = activation(dot(input, kernel) + bias)``

    Args:
        units: positive integer, dimensionality of the output space.
        activation: activation name, function or None (linear: ``a(x) = x``).
        use_bias: whether the layer uses a bias vector.
        kernel_initializer / bias_initializer: initializers (``"glorot_uniform"``, ``"zeros"``).
        kernel_regularizer / bias_regularizer: penalties on the weights, added to the loss.
        activity_regularizer: a penalty on the layer's output, added to the loss.
        kernel_constraint / bias_constraint: projections applied after each optimizer step.

    Input shape:
        ``(batch_size, ..., input_dim)``. A rank > 2 input is **not** flattened: the
        kernel is applied to the last axis at every leading position.

    Output shape:
        ``(batch_size, ..., units)``.

    Weights:
        kernel ``(input_dim, units)``, glorot-uniform ``U(±sqrt(6 / (input_dim + units)))``;
        bias ``(units,)``, zeros (absent when ``use_bias=False``).

    Math (z = x·W + b, y = f(z), dy = dL/dy):
        dz = f'(z) ⊙ dy;   dW = xᵀ·dz;   db = Σ_batch dz;   dx = dz·Wᵀ

    Example:
        >>> layer = Dense(512)
        >>> layer(fcnet.random.normal([4, 784])).shape
        (4, 512)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        self.units = int(units)
        self._set_affine_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, activity_regularizer,
                              kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError("The last dimension of the inputs to a Dense layer should be "
                             f"defined. Found None. Full input shape received: {input_shape}")
        self.kernel = self.add_weight("kernel", (input_dim, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    _folds = True

    def forward_step(self, x, training, step):
        if step.fold is not None:  # a layer called once may fold SGD's step (ops/fold.py)
            step.fold.called(self)
        return super().forward_step(x, training, step)

    def _affine(self, x, add_bias=True):
        """``z = x · kernel + bias`` (the bias left out when not ``add_bias``: the tail adds
        it); the input is what the gradients need."""
        bias = self.bias.value if self.use_bias and add_bias else None
        return dense_forward(x, self.kernel.value, bias), x

    def _affine_backward(self, ctx, dz, need_dx, overwrite, bias_written=False):
        """``dW = xᵀ·dz``, ``db = Σ dz`` into the slots of the trainable ones (``overwrite``
        True: written with ``out=``; False: added; None: none, the layer is frozen; the
        bias not when ``bias_written``: the tail wrote it); returns dx. ``overwrite`` may
        be the step's ``Fold``: then, where it may, the kernel takes SGD's step
        ``W ← W − lr·xᵀ·dz`` in place of its gradient, after ``dx`` is computed."""
        x = ctx[0]
        kernel, bias = self.kernel, self.bias
        if overwrite is not None and self.use_bias and bias.trainable and not bias_written:
            if overwrite:
                dense_bias_gradient(dz, out=bias.grad)
            else:
                bias.grad += dense_bias_gradient(dz)
        if isinstance(overwrite, Fold) and overwrite.may_step(self, kernel, x, dz):
            dx = dense_input_gradient(dz, kernel.value) if need_dx else None
            overwrite.step(kernel, x, dz)
            return dx
        if overwrite is not None and kernel.trainable:
            if overwrite:
                dense_kernel_gradient(x, dz, out=kernel.grad)
            else:
                kernel.grad += dense_kernel_gradient(x, dz)
        return dense_input_gradient(dz, kernel.value) if need_dx else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _explain(self, e: Shapes):
        """``y = activation(x · kernel + bias)``, with this call's shapes."""
        n_in, units = self.kernel.shape
        rows = e.size(e.x_shape[:-1])  # positions per sample the kernel is applied at
        about = (f"fully connected: each of the {units} outputs is a weighted sum of all "
                 f"{n_in} inputs" + (" plus a bias" if self.use_bias else ""))
        if len(e.x_shape) > 2:
            about += f", at each of the {rows} positions of the middle axes"
        return affine_formula(
            self, e, about, f"{e.x} · {e.w(self.kernel)}",
            [Term("x · kernel", 2, *((rows,) if rows != 1 else ()), n_in, units)],
            [f"d{e.w(self.kernel)} = xᵀ · dz" + (" (summed over the middle axes too)"
                                                 if len(e.x_shape) > 2 else "")],
            f"{e.t('dx', e.x_shape)} = dz · kernelᵀ", "z = x · kernel"
            + (" + bias" if self.use_bias else ""))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "units": self.units, **self._affine_config()})
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = {k: v for k, v in config.items()
                  if k not in ("quantization_config", "lora_rank", "lora_alpha")}
        return cls(**config)

