"""``fcnet.datasets``: small real datasets that need no download."""

from fcnet.datasets import digits

__all__ = ["digits"]
