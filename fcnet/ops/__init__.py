"""Floor 2: stateless math, each forward next to its backward."""

from fcnet.ops.dense import (
    dense_backward,
    dense_bias_gradient,
    dense_forward,
    dense_input_gradient,
    dense_kernel_gradient,
)

__all__ = ["dense_forward", "dense_backward", "dense_bias_gradient", "dense_input_gradient",
           "dense_kernel_gradient"]
