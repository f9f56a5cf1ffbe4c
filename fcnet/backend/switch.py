"""``FCNET_FUSED``: whether fcnet's compiled kernels may run, read at each call.

Anything but ``"0"`` (surrounding whitespace ignored), or the variable unset, means
they may. ``fused_wanted`` reads the process environment through C's ``getenv``
(``fcnet._pool.fused_wanted``), which every assignment to or deletion from
``os.environ`` updates: some thirty times quicker than ``os.environ.get`` for an unset
variable, and one sample through ``predict`` asks six times. Where ``fcnet._pool`` is
not built (or Python runs without its GIL), it reads ``os.environ``.
"""

from __future__ import annotations

import os

try:
    from fcnet._pool import fused_wanted
except ImportError:  # built without a C compiler

    def fused_wanted() -> bool:
        """Whether ``FCNET_FUSED`` is anything but ``"0"``."""
        return os.environ.get("FCNET_FUSED", "1").strip() != "0"
