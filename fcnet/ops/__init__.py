"""Floor 2: stateless math, each forward next to its backward."""

from fcnet.ops.dense import dense_backward, dense_forward

__all__ = ["dense_forward", "dense_backward"]
