"""Floor 2: stateless math, each forward next to its backward."""

from fcnet.ops.conv import (
    Geometry,
    col2im,
    conv_bias_gradient,
    conv_forward,
    conv_input_gradient,
    conv_kernel_gradient,
    conv_padding,
    conv_transpose_padding,
    im2col,
)
from fcnet.ops.conv_transpose import (
    conv_transpose_forward,
    conv_transpose_input_gradient,
    conv_transpose_kernel_gradient,
    conv_transpose_patches,
)
from fcnet.ops.dense import (
    dense_backward,
    dense_bias_gradient,
    dense_forward,
    dense_input_gradient,
    dense_kernel_gradient,
)

__all__ = ["dense_forward", "dense_backward", "dense_bias_gradient", "dense_input_gradient",
           "dense_kernel_gradient", "Geometry", "im2col", "col2im", "conv_padding",
           "conv_transpose_padding", "conv_forward", "conv_kernel_gradient",
           "conv_bias_gradient", "conv_input_gradient", "conv_transpose_forward",
           "conv_transpose_patches", "conv_transpose_kernel_gradient",
           "conv_transpose_input_gradient"]
