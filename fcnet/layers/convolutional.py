"""Convolutions over channels-last inputs: ``Conv1D`` and ``Conv2D`` on a shared base.

``z = conv(x, kernel) + bias``, ``y = activation(z)``: a Dense layer applied to every
patch of the input (``fcnet.ops.conv``), so the activation tail is Dense's (``Affine``).
The argument checks shared with the transposed, depthwise and separable convolutions
live here too.
"""

from __future__ import annotations

import numbers

from fcnet import regularizers
from fcnet.layers.affine import Affine, write_gradient
from fcnet.layers.arguments import (
    positive_int,
    serialize_or_none,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from fcnet.layers.explain import Shapes, Term, affine_formula
from fcnet.layers.input_spec import InputSpec
from fcnet.ops import compiled
from fcnet.ops.conv import (
    Geometry,
    conv_bias_gradient,
    conv_forward,
    conv_forward_relu,
    conv_input_gradient,
    conv_kernel_gradient,
    conv_relu_backward_dx,
)


def spatial_shape_error(layer, input_shape, geometry_out) -> None:
    """Keras's error when a valid convolution's output would be empty."""
    if any(o is not None and o <= 0 for o in geometry_out):
        raise ValueError(
            f"Layer '{layer.name}': computed output size would be zero or negative. Received "
            f"`inputs shape={tuple(input_shape)}`, `kernel_size={layer.kernel_size}`, "
            f"`dilation_rate={layer.dilation_rate}`, `strides={layer.strides}`, "
            f"`padding={layer.padding}`.")


def _index(out: str, tap: str, stride: int, dilation: int) -> str:
    """The input position an output position reads: ``2·r + i``, ``r + 2·j``, …"""
    return (f"{stride}·{out}" if stride > 1 else out) + " + " + (
        f"{dilation}·{tap}" if dilation > 1 else tap)


class BaseConv(Affine):
    """A ``rank``-D convolution (cross-correlation) layer; see ``Conv2D`` for the maths."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        rank = self.rank
        self.filters = positive_int(filters, "filters")
        self.groups = groups
        if not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError("The number of groups must be a positive integer. "
                             f"Received: groups={groups}.")
        if self.filters % groups:
            raise ValueError("The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={groups}, filters={filters}.")
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate "
                             f"> 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = standardize_data_format(data_format, type(self).__name__)
        self._set_affine_args(activation, use_bias, kernel_initializer, bias_initializer,
                              kernel_regularizer, bias_regularizer, activity_regularizer,
                              kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(ndim=rank + 2)
        self._geometries: dict = {}

    def build(self, input_shape) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the inputs should "
                             f"be defined. Found None. Full input shape received: {input_shape}")
        if channels % self.groups:
            raise ValueError("The number of input channels must be evenly divisible by the "
                             f"number of groups. Received groups={self.groups}, but the input "
                             f"has {channels} channels (full input shape is {input_shape}).")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            "kernel", self._kernel_shape(channels), self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self._geometries = {}
        self.built = True

    def _kernel_shape(self, channels: int) -> tuple:
        """``(*kernel_size, channels / groups, filters)``, Keras's layout."""
        return self.kernel_size + (channels // self.groups, self.filters)

    def _make_geometry(self, spatial) -> Geometry:
        return Geometry.of_conv(spatial, self.kernel_size, self.strides, self.dilation_rate,
                                self.padding, self.groups)

    def _geometry(self, spatial) -> Geometry:
        """How the kernel reads an input of these spatial sizes (cached per size)."""
        geometry = self._geometries.get(spatial)
        if geometry is None:
            geometry = self._geometries[spatial] = self._make_geometry(spatial)
        return geometry

    def _affine(self, x, add_bias=True):
        geometry = self._geometry(x.shape[1:-1])
        bias = self.bias.value if self.use_bias and add_bias else None
        z, cols = conv_forward(x, self.kernel.value, bias, geometry)
        return z, (cols, x.shape, geometry)

    def _relu_forward_fused(self, x):
        """``y = max(conv(x) + b, 0)`` in one compiled pass (``fcnet.ops.conv.
        conv_forward_relu``) where the patch matrix is stored transposed (few input
        channels, ``groups == 1``) with at most 16 columns; ``(y, saved)`` or None."""
        geometry = self._geometry(x.shape[1:-1])
        done = conv_forward_relu(x, self.kernel.value, self.bias.value, geometry)
        if done is None:
            return None
        return done[0], (done[1], x.shape, geometry)

    def _affine_backward(self, ctx, dz, need_dx, overwrite, bias_written=False):
        cols, shape, geometry = ctx[0]
        kernel = self.kernel
        write_gradient(kernel, overwrite, lambda out: conv_kernel_gradient(
            cols, dz, kernel.shape, self.groups, out=out))
        if self.use_bias and not bias_written:  # else the tail wrote it
            write_gradient(self.bias, overwrite, lambda out: conv_bias_gradient(dz, out=out))
        return conv_input_gradient(dz, kernel.value, geometry, shape) if need_dx else None

    def _relu_backward_fused(self, ctx, dy, overwrite, need_dz):
        """``dz = dy · [y > 0]``, ``db = Σ dz`` and ``dW = colsᵀ · dz`` in one compiled pass
        (``fcnet.ops.compiled.relu_backward_conv``) where the patch matrix is stored
        transposed (few input channels, ``groups == 1``) with at most 16 columns and both
        weights are trainable; ``(dz,)`` or None (the tail's path then). When ``dz`` is
        wanted for the input gradient, that gradient is computed in the same pass instead
        (``fcnet.ops.conv.conv_relu_backward_dx``): ``(None, dx)``."""
        cols, shape, geometry = ctx[0]
        kernel, bias = self.kernel, self.bias
        if (self.groups != 1 or cols.shape[2] > compiled.CONV_MAX_K or bias is None
                or not (kernel.trainable and bias.trainable)):
            return None
        if need_dz:
            dx = conv_relu_backward_dx(dy, ctx[2], cols, kernel, bias, not overwrite,
                                       geometry, shape)
            if dx is not None:
                return None, dx
        return compiled.relu_backward_conv(dy, ctx[2], cols[0].T, kernel.grad, bias.grad,
                                           add=not overwrite, need_dz=need_dz)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Layer '{self.name}' expects inputs of rank {self.rank + 2} "
                             f"(batch, {'steps' if self.rank == 1 else 'rows, cols'}, "
                             f"channels). Received: input_shape={input_shape}")
        geometry = Geometry.of_conv(input_shape[1:-1], self.kernel_size, self.strides,
                                    self.dilation_rate, self.padding)
        spatial_shape_error(self, input_shape, geometry.out)
        return (input_shape[0],) + geometry.out + (self.filters,)

    def _explain(self, e: Shapes):
        """``y = activation(conv(x, kernel) + bias)``, with this call's shapes."""
        *window, cin, filters = self.kernel.shape
        out = e.y_shape[1:-1]
        names = ("t",) if self.rank == 1 else ("r", "c")
        taps = ("i",) if self.rank == 1 else ("i", "j")
        reads = ", ".join(_index(o, k, s, d) for o, k, s, d in zip(
            names, taps, self.strides, self.dilation_rate))
        padded = "x̃" if self.padding != "valid" else "x"
        bounds = ", ".join(f"{k} < {n}" for k, n in zip(taps, window)) + f", ch < {cin}"
        size = "×".join(map(str, window)) + ("-step" if self.rank == 1 else "")
        about = (f"convolution with a {size} window: each of the {filters} filters takes a "
                 f"weighted sum of a {'×'.join(map(str, window + [cin]))} input patch at each "
                 f"of the {'×'.join(map(str, out))} output positions")
        sums = "Σ_{batch, " + ", ".join(names) + "}"
        lines = affine_formula(
            self, e, about, f"conv({e.x}, {e.w(self.kernel)})",
            [Term("patches · kernel", 2, *window, cin, filters, *out)],
            [f"d{e.w(self.kernel)} = {sums} patchᵀ · dz   (patch: the "
             f"{'·'.join(map(str, window + [cin]))} input values each output read)"],
            f"{e.t('dx', e.x_shape)} = each patch's dz · kernelᵀ added back where it was read",
            "z = conv(x, kernel)" + (" + bias" if self.use_bias else ""), sums)
        lines.forward.insert(1, f"z[n, {', '.join(names)}, f] = Σ_{{{bounds}}} "
                                f"{padded}[n, {reads}, ch] · kernel[{', '.join(taps)}, ch, f]"
                             + (" + bias[f]" if self.use_bias else "")
                             + (f"   ({padded}: x zero-padded, padding='{self.padding}')"
                                if padded != "x" else ""))
        if self.groups > 1:
            lines.forward.append(f"in {self.groups} groups: filter f reads only its group's "
                                 f"{cin} channels")
        return lines

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            **self._affine_config(),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
        })
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = {k: v for k, v in config.items() if k not in ("lora_rank", "lora_alpha")}
        return cls(**config)


class Conv2D(BaseConv):
    """2D convolution layer (a cross-correlation, as in Keras).

    ``z[n, r, c, f] = Σ_{i, j, ch} x̃[n, r·s₀ + i·d₀, c·s₁ + j·d₁, ch] · kernel[i, j, ch, f]
    + bias[f]``, ``y = activation(z)``, with ``x̃`` the input padded as ``padding`` says.

    Args:
        filters: the number of output channels.
        kernel_size: an int or 2 ints, the window's height and width.
        strides: an int or 2 ints; ``strides > 1`` excludes ``dilation_rate > 1``.
        padding: ``"valid"`` (none) or ``"same"`` (output size ``ceil(input / strides)``,
            zeros split evenly, the odd one after), case-insensitive.
        data_format: ``"channels_last"`` (the only one supported) or None.
        dilation_rate: an int or 2 ints, the spacing of the kernel taps.
        groups: split the channels into this many groups, each convolved with its own
            ``filters // groups`` filters (input channels and filters divisible by it).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint:
            as for Dense.

    Input shape:
        ``(batch_size, rows, cols, channels)``.

    Output shape:
        ``(batch_size, new_rows, new_cols, filters)``: ``valid``: ``⌊(n − (k−1)·d − 1) / s⌋
        + 1``; ``same``: ``⌈n / s⌉``.

    Weights:
        kernel ``(kh, kw, channels // groups, filters)``, glorot-uniform (fans
        ``kh·kw·channels/groups`` and ``kh·kw·filters``); bias ``(filters,)``, zeros.

    Math (cols = im2col(x̃): one row per output pixel, one column per (i, j, ch)):
        z = cols·W + b;  dz = f'(z) ⊙ dy;  dW = colsᵀ·dz;  db = Σ dz;
        dx = col2im(dz·Wᵀ) (each patch's gradient added back where it was read)

    Example:
        >>> layer = Conv2D(32, (3, 3), activation="relu")
        >>> layer(fcnet.random.normal([4, 28, 28, 1])).shape
        (4, 26, 26, 32)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, **kwargs)


class Conv1D(BaseConv):
    """1D convolution layer (temporal convolution), as Conv2D over one spatial axis.

    ``z[n, t, f] = Σ_{i, ch} x̃[n, t·s + i·d, ch] · kernel[i, ch, f] + bias[f]``.

    Args:
        as Conv2D, each spatial argument an int or a 1-tuple; ``padding`` also
        ``"causal"``: ``(kernel_size − 1)·dilation_rate`` zeros before the sequence only,
        so ``output[t]`` depends on ``input[:t + 1]`` alone.

    Input shape:
        ``(batch_size, steps, channels)``.

    Output shape:
        ``(batch_size, new_steps, filters)``.

    Weights:
        kernel ``(kernel_size, channels // groups, filters)``; bias ``(filters,)``.

    Math: Conv2D's, with one spatial axis.

    Example:
        >>> Conv1D(8, 3, padding="causal")(fcnet.random.normal([2, 10, 4])).shape
        (2, 10, 8)
    """

    rank = 1
