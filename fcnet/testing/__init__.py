"""``fcnet.testing``: the gradient checker users run on their own layers too."""

from fcnet.testing.gradient_check import check_gradients

__all__ = ["check_gradients"]
