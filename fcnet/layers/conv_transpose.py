"""``Conv2DTranspose``: the transposed convolution (the adjoint of Conv2D's input map)."""

from __future__ import annotations

from fcnet.layers.affine import write_gradient
from fcnet.layers.arguments import standardize_tuple
from fcnet.layers.convolutional import BaseConv
from fcnet.layers.explain import Term, affine_formula
from fcnet.ops.conv import Geometry, conv_bias_gradient
from fcnet.ops.conv_transpose import (
    conv_transpose_forward,
    conv_transpose_input_gradient,
    conv_transpose_kernel_gradient,
    conv_transpose_patches,
)


class Conv2DTranspose(BaseConv):
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
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, self.rank, "output_padding", allow_zero=True)
        for i, (op, s) in enumerate(zip(self.output_padding or (), self.strides)):
            if op >= s:
                raise ValueError(
                    "`output_padding` must be strictly less than `strides` for all "
                    f"dimensions. At dimension {i}, `output_padding` is {op} but "
                    f"`strides` is {s}. Received: output_padding={self.output_padding}, "
                    f"strides={self.strides}")

    def _kernel_shape(self, channels: int) -> tuple:
        """``(*kernel_size, filters, channels)``, Keras's layout for the transpose."""
        return self.kernel_size + (self.filters, channels)

    def _make_geometry(self, spatial) -> Geometry:
        return Geometry.of_conv_transpose(spatial, self.kernel_size, self.strides,
                                          self.dilation_rate, self.padding, self.output_padding)

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
        del config["groups"]
        config["output_padding"] = self.output_padding
        return config

    def _explain(self, e):
        """``y = activation(conv_transpose(x, kernel) + bias)``: each input pixel spreads."""
        kh, kw, filters, cin = self.kernel.shape
        ih, iw = e.x_shape[1:3]
        return affine_formula(
            self, e, f"transposed convolution: each input pixel adds a {kh}×{kw}×{filters} "
            f"block (its {cin} values times the kernel) into the output, blocks "
            f"{'×'.join(map(str, self.strides))} apart", f"conv_transpose({e.x}, "
            f"{e.w(self.kernel)})", [Term("x · kernel, spread", 2, kh, kw, filters, cin, ih, iw)],
            [f"d{e.w(self.kernel)} = Σ_{{batch, r, c}} x[n, r, c]ᵀ · (the dz block it reached)"],
            f"{e.t('dx', e.x_shape)} = conv(dz, kernel)   (an ordinary convolution of dz)",
            "z = conv_transpose(x, kernel)" + (" + bias" if self.use_bias else ""),
            "Σ_{batch, r, c}")
