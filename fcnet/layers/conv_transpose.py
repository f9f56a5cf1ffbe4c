"""``Conv2DTranspose``: the transposed convolution (the adjoint of Conv2D's input map)."""

from __future__ import annotations

from fcnet import activations, constraints, initializers, regularizers
from fcnet.layers.affine import Affine, write_gradient
from fcnet.layers.arguments import (
    positive_int,
    serialize_or_none,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from fcnet.layers.input_spec import InputSpec
from fcnet.ops.conv import (
    Geometry,
    conv_bias_gradient,
    conv_transpose_forward,
    conv_transpose_input_gradient,
    conv_transpose_kernel_gradient,
    conv_transpose_patches,
)


class Conv2DTranspose(Affine):
    """2D transposed convolution layer (sometimes called deconvolution).

    Each input pixel, times the kernel, is added into the output around the pixel's
    place scaled by the strides:

        z[n, r·s₀ + i·d₀ − p₀, c·s₁ + j·d₁ − p₁, f] += Σ_ch x[n, r, c, ch] · kernel[i, j, f, ch]

    plus ``bias[f]``, and ``y = activation(z)``. It is the input gradient of a Conv2D
    with the same kernel, strides and padding, so it maps that Conv2D's output shape
    back to its input shape (up to ``output_padding``).

    Args:
        filters: the number of output channels.
        kernel_size, strides, dilation_rate: an int or 2 ints each (``strides > 1``
            excludes ``dilation_rate > 1``).
        padding: ``"valid"`` or ``"same"``.
        output_padding: None, an int or 2 ints below ``strides``: extra rows/columns at
            the end of the output. None lets the padding decide (Keras's rule below).
        data_format: ``"channels_last"`` or None.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint:
            as for Dense.

    Input shape:
        ``(batch_size, rows, cols, channels)``.

    Output shape:
        ``(batch_size, new_rows, new_cols, filters)``, per axis with ``k' = (k−1)·d + 1``:
        ``valid``: ``(n−1)·s + k' + (output_padding or max(k', s) − k')``;
        ``same``: ``n·s`` (``output_padding`` None) else ``(n−1)·s + k' mod 2 + output_padding``.

    Weights:
        kernel ``(kh, kw, filters, channels)`` (Keras's layout); bias ``(filters,)``.

    Math (W₂ = kernel as a (kh·kw·filters, channels) matrix, cols = im2col(dz)):
        z = col2im(x·W₂ᵀ) + b;  dW₂ = colsᵀ·x;  db = Σ dz;  dx = cols·W₂

    Example:
        >>> Conv2DTranspose(8, 3, strides=2, padding="same")(
        ...     fcnet.random.normal([2, 7, 7, 4])).shape
        (2, 14, 14, 8)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        rank = self.rank
        self.filters = positive_int(filters, "filters")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, rank, "output_padding", allow_zero=True)
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {op} but "
                        f"`strides` is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate "
                             f"> 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)
        self._geometries: dict = {}

    def build(self, input_shape) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the inputs should "
                             f"be defined. Found None. Full input shape received: {input_shape}")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        self.kernel = self.add_weight(
            "kernel", self.kernel_size + (self.filters, channels), self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self._geometries = {}
        self.built = True

    def _geometry(self, spatial) -> Geometry:
        geometry = self._geometries.get(spatial)
        if geometry is None:
            geometry = Geometry.of_conv_transpose(spatial, self.kernel_size, self.strides,
                                                  self.dilation_rate, self.padding,
                                                  self.output_padding)
            self._geometries[spatial] = geometry
        return geometry

    def _affine(self, x):
        z, _ = conv_transpose_forward(x, self.kernel.value,
                                      self.bias.value if self.use_bias else None,
                                      self._geometry(x.shape[1:-1]))
        return z, x

    def _affine_backward(self, ctx, dz, need_dx, overwrite):
        x = ctx[0]
        kernel = self.kernel
        frozen = overwrite is None or not kernel.trainable
        cols = None if frozen and not need_dx else conv_transpose_patches(
            dz, self._geometry(x.shape[1:-1]))
        write_gradient(kernel, overwrite, lambda out: conv_transpose_kernel_gradient(
            cols, x, kernel.shape, out=out))
        if self.use_bias:
            write_gradient(self.bias, overwrite, lambda out: conv_bias_gradient(dz, out=out))
        return conv_transpose_input_gradient(cols, kernel.value, x.shape) if need_dx else None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Layer '{self.name}' expects inputs of rank {self.rank + 2} "
                             f"(batch, rows, cols, channels). Received: input_shape={input_shape}")
        geometry = Geometry.of_conv_transpose(
            tuple(-1 if s is None else s for s in input_shape[1:-1]), self.kernel_size,
            self.strides, self.dilation_rate, self.padding, self.output_padding)
        spatial = tuple(None if s is None else o for s, o in zip(input_shape[1:-1],
                                                                  geometry.size))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
        })
        return config
