"""``DepthwiseConv2D`` and ``SeparableConv2D``: a convolution per input channel (then,
for the separable one, a 1×1 convolution mixing the channels).

A depthwise convolution is a grouped convolution with one group per input channel:
kernel ``(kh, kw, C, m)`` is, in memory, the grouped kernel ``(kh, kw, 1, C·m)``, so it
runs through the same ``fcnet.ops.conv`` code as Conv2D with ``groups=C``.
"""

from __future__ import annotations

from fcnet import activations, backend, constraints, initializers, regularizers
from fcnet.layers.affine import Affine, write_gradient
from fcnet.layers.arguments import (
    positive_int,
    serialize_or_none,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from fcnet.layers.convolutional import spatial_shape_error
from fcnet.layers.explain import Term, affine_formula
from fcnet.layers.input_spec import InputSpec
from fcnet.ops.conv import (
    Geometry,
    conv_bias_gradient,
    conv_forward,
    conv_input_gradient,
    conv_kernel_gradient,
)


class _Depthwise(Affine):
    """What DepthwiseConv2D and SeparableConv2D share: arguments and the depthwise step."""

    rank = 2
    _out_channels_name = "depth_multiplier"

    def _setup(self, kernel_size, strides, padding, data_format, dilation_rate,
               depth_multiplier, activation, use_bias, depthwise_initializer, bias_initializer,
               depthwise_regularizer, bias_regularizer, activity_regularizer,
               depthwise_constraint, bias_constraint):
        rank = self.rank
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)
        self._geometries: dict = {}

    def _channels(self, input_shape) -> int:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the inputs should "
                             f"be defined. Found None. Full input shape received: {input_shape}")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        self._geometries = {}
        return channels

    def _geometry(self, spatial, channels) -> Geometry:
        geometry = self._geometries.get(spatial)
        if geometry is None:
            geometry = Geometry.of_conv(spatial, self.kernel_size, self.strides,
                                        self.dilation_rate, self.padding, channels)
            self._geometries[spatial] = geometry
        return geometry

    def _grouped(self, array):
        """The depthwise kernel ``(*k, C, m)`` as the grouped kernel ``(*k, 1, C·m)``."""
        return array.reshape(self.kernel_size + (1, -1))

    def _depthwise(self, x, kernel, bias):
        geometry = self._geometry(x.shape[1:-1], x.shape[-1])
        z, cols = conv_forward(x, self._grouped(kernel), bias, geometry)
        return z, (cols, x.shape, geometry)

    def _depthwise_backward(self, saved, dz, need_dx, overwrite, kernel):
        cols, shape, geometry = saved
        grouped = self._grouped(kernel.value).shape

        def dkernel(out):
            d = conv_kernel_gradient(cols, dz, grouped, geometry.groups,
                                     out=None if out is None else self._grouped(out))
            return d.reshape(kernel.shape)

        write_gradient(kernel, overwrite, dkernel)
        if not need_dx:
            return None
        return conv_input_gradient(dz, self._grouped(kernel.value), geometry, shape)

    def _output_shape(self, input_shape, channels_out):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Layer '{self.name}' expects inputs of rank {self.rank + 2} "
                             f"(batch, rows, cols, channels). Received: input_shape={input_shape}")
        geometry = Geometry.of_conv(input_shape[1:-1], self.kernel_size, self.strides,
                                    self.dilation_rate, self.padding)
        spatial_shape_error(self, input_shape, geometry.out)
        return (input_shape[0],) + geometry.out + (channels_out,)

    def _depthwise_config(self) -> dict:
        config = super().get_config()
        config.update({
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": serialize_or_none(regularizers,
                                                       self.depthwise_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "depthwise_constraint": serialize_or_none(constraints, self.depthwise_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
        })
        return config


class DepthwiseConv2D(_Depthwise):
    """2D depthwise convolution: each input channel convolved with its own
    ``depth_multiplier`` filters, no mixing across channels.

    ``z[n, r, c, ch·m + q] = Σ_{i, j} x̃[n, r·s₀ + i·d₀, c·s₁ + j·d₁, ch] · kernel[i, j, ch, q]
    + bias[ch·m + q]``, ``y = activation(z)``.

    Args:
        kernel_size, strides, dilation_rate: an int or 2 ints each.
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: filters per input channel (``m``).
        data_format: ``"channels_last"`` or None.
        activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
            bias_constraint: as for Dense.
        depthwise_initializer / depthwise_regularizer / depthwise_constraint: for the kernel.

    Input shape:
        ``(batch_size, rows, cols, channels)``.

    Output shape:
        ``(batch_size, new_rows, new_cols, channels · depth_multiplier)`` (sizes as Conv2D).

    Weights:
        kernel ``(kh, kw, channels, depth_multiplier)`` (Keras 3 names it ``kernel``);
        bias ``(channels · depth_multiplier,)``.

    Math: Conv2D's with ``groups = channels`` (the kernel seen as ``(kh, kw, 1, C·m)``):
        per channel, dW = colsᵀ·dz, dx = col2im(dz·Wᵀ); db = Σ dz.

    Example:
        >>> DepthwiseConv2D(3, depth_multiplier=2)(fcnet.random.normal([2, 8, 8, 4])).shape
        (2, 6, 6, 8)
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._setup(kernel_size, strides, padding, data_format, dilation_rate,
                    depth_multiplier, activation, use_bias, depthwise_initializer,
                    bias_initializer, depthwise_regularizer, bias_regularizer,
                    activity_regularizer, depthwise_constraint, bias_constraint)

    def build(self, input_shape) -> None:
        channels = self._channels(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            "kernel", self.kernel_size + (channels, self.depth_multiplier),
            self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (channels * self.depth_multiplier,),
                                        self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    @property
    def depthwise_kernel(self):
        """The kernel under tf.keras 2's name."""
        return self.kernel

    def _affine(self, x):
        return self._depthwise(x, self.kernel.value, self.bias.value if self.use_bias else None)

    def _affine_backward(self, ctx, dz, need_dx, overwrite):
        if self.use_bias:
            write_gradient(self.bias, overwrite, lambda out: conv_bias_gradient(dz, out=out))
        return self._depthwise_backward(ctx[0], dz, need_dx, overwrite, self.kernel)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return self._output_shape(input_shape, None if channels is None
                                  else channels * self.depth_multiplier)

    def get_config(self) -> dict:
        return self._depthwise_config()

    def _explain(self, e):
        """Each channel convolved with its own ``depth_multiplier`` filters."""
        kh, kw, cin, mult = self.kernel.shape
        oh, ow = e.y_shape[1:3]
        return affine_formula(
            self, e, f"depthwise convolution: each of the {cin} channels is convolved on its "
            f"own with {mult} {kh}×{kw} filter(s)", f"depthwise_conv({e.x}, {e.w(self.kernel)})",
            [Term("patches · kernel", 2, kh, kw, cin, mult, oh, ow)],
            [f"d{e.w(self.kernel)} = Σ_{{batch, r, c}} patch · dz, channel by channel"],
            f"{e.t('dx', e.x_shape)} = each patch's dz · kernel added back where it was read",
            "z = depthwise_conv(x, kernel)" + (" + bias" if self.use_bias else ""),
            "Σ_{batch, r, c}")


class SeparableConv2D(_Depthwise):
    """2D separable convolution: a depthwise convolution, then a 1×1 convolution
    (``pointwise_kernel``) mixing its ``channels · depth_multiplier`` outputs into ``filters``.

    ``u = depthwise(x)``, ``z = u · P + bias``, ``y = activation(z)``.

    Args:
        filters: the number of output channels.
        kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier:
            those of the depthwise step (as DepthwiseConv2D).
        depthwise_initializer / pointwise_initializer, depthwise_regularizer /
            pointwise_regularizer, depthwise_constraint / pointwise_constraint: per kernel.
        activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer,
            bias_constraint: as for Dense.

    Input shape:
        ``(batch_size, rows, cols, channels)``.

    Output shape:
        ``(batch_size, new_rows, new_cols, filters)``.

    Weights (Keras's order):
        depthwise_kernel ``(kh, kw, channels, depth_multiplier)``; pointwise_kernel
        ``(1, 1, channels · depth_multiplier, filters)``; bias ``(filters,)``.

    Math (P = pointwise kernel as a matrix):
        dP = uᵀ·dz;  db = Σ dz;  du = dz·Pᵀ;  then the depthwise backward of du.

    Example:
        >>> SeparableConv2D(16, 3, padding="same")(fcnet.random.normal([2, 8, 8, 4])).shape
        (2, 8, 8, 16)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters")
        self._setup(kernel_size, strides, padding, data_format, dilation_rate,
                    depth_multiplier, activation, use_bias, depthwise_initializer,
                    bias_initializer, depthwise_regularizer, bias_regularizer,
                    activity_regularizer, depthwise_constraint, bias_constraint)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape) -> None:
        channels = self._channels(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
            self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1,) * self.rank + (channels * self.depth_multiplier,
                                                    self.filters),
            self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def _affine(self, x):
        u, saved = self._depthwise(x, self.depthwise_kernel.value, None)
        p = self.pointwise_kernel.value
        z = u.reshape(-1, p.shape[-2]) @ p.reshape(p.shape[-2], -1)
        if self.use_bias:
            z += self.bias.value
        return z.reshape(u.shape[:-1] + (self.filters,)), (saved, u)

    def _affine_backward(self, ctx, dz, need_dx, overwrite):
        saved, u = ctx[0]
        pointwise = self.pointwise_kernel
        m = pointwise.shape[-2]
        u2, dz2 = u.reshape(-1, m), dz.reshape(-1, self.filters)
        write_gradient(pointwise, overwrite, lambda out: _matmul_into(u2.T, dz2, out))
        if self.use_bias:
            write_gradient(self.bias, overwrite, lambda out: conv_bias_gradient(dz, out=out))
        depthwise_frozen = overwrite is None or not self.depthwise_kernel.trainable
        if depthwise_frozen and not need_dx:
            return None
        du = (dz2 @ pointwise.value.reshape(m, self.filters).T).reshape(u.shape)
        return self._depthwise_backward(saved, du, need_dx, overwrite, self.depthwise_kernel)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def get_config(self) -> dict:
        config = self._depthwise_config()
        config.update({
            "filters": self.filters,
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": serialize_or_none(regularizers,
                                                       self.pointwise_regularizer),
            "pointwise_constraint": serialize_or_none(constraints, self.pointwise_constraint),
        })
        return config

    def _explain(self, e):
        """A depthwise convolution, then a 1×1 convolution mixing the channels."""
        kh, kw, cin, mult = self.depthwise_kernel.shape
        oh, ow, filters = e.y_shape[1:]
        dw, pw = e.w(self.depthwise_kernel), e.w(self.pointwise_kernel)
        return affine_formula(
            self, e, f"separable convolution: a {kh}×{kw} depthwise convolution per channel, "
            f"then a 1×1 convolution mixing the {cin * mult} results into {filters} filters",
            f"pointwise(depthwise_conv({e.x}, {dw}), {pw})",
            [Term("depthwise", 2, kh, kw, cin, mult, oh, ow),
             Term("pointwise", 2, cin * mult, filters, oh, ow)],
            [f"d{pw} = Σ_{{batch, r, c}} uᵀ · dz   (u: the depthwise output)",
             f"d{dw} = the depthwise kernel gradient of du = dz · pointwiseᵀ"],
            f"{e.t('dx', e.x_shape)} = each patch's du · depthwise kernel added back",
            "z = pointwise(depthwise(x))" + (" + bias" if self.use_bias else ""),
            "Σ_{batch, r, c}")


def _matmul_into(a, b, out):
    """``a · b``: written into ``out`` (a slot of the same size, any shape) when given,
    else returned (it broadcasts into the ``(1, 1, m, filters)`` slot)."""
    if out is None:
        return a @ b
    backend.xp.matmul(a, b, out=out.reshape(a.shape[0], b.shape[1]))
    return out
